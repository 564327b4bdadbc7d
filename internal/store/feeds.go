package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// FeedState is the stored position and health of one (instance, feed).
type FeedState struct {
	Instance      string
	Feed          string
	Cursor        FeedCursor
	LastSuccess   *time.Time
	LastError     string
	LastErrorAt   *time.Time
	LastPostAt    *time.Time // created_at of the newest post the feed delivered
	PostsIngested int64      // posts first stored through this feed
	Skipped       int64      // items skipped as malformed or not eligible
}

// Feed returns the state of one feed; a feed never saved has a zero state.
func (db *DB) Feed(ctx context.Context, instance, feed string) (FeedState, error) {
	rows, err := db.sql.QueryContext(ctx, feedSelect+` WHERE instance = $1 AND feed = $2`, instance, feed)
	if err != nil {
		return FeedState{}, fmt.Errorf("store: feed %s %s: %w", instance, feed, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return FeedState{Instance: instance, Feed: feed}, rows.Err()
	}
	st, err := scanFeed(rows)
	if err != nil {
		return FeedState{}, fmt.Errorf("store: feed %s %s: %w", instance, feed, err)
	}
	return st, nil
}

// Feeds returns the state of every feed, ordered by instance and feed.
func (db *DB) Feeds(ctx context.Context) ([]FeedState, error) {
	rows, err := db.sql.QueryContext(ctx, feedSelect+` ORDER BY instance, feed`)
	if err != nil {
		return nil, fmt.Errorf("store: feeds: %w", err)
	}
	defer rows.Close()
	var out []FeedState
	for rows.Next() {
		st, err := scanFeed(rows)
		if err != nil {
			return nil, fmt.Errorf("store: feeds: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

const feedSelect = `SELECT instance, feed, cursor, backfill_max_id, backfill_done,
	last_success, last_error, last_error_at, last_post_at, posts_ingested, skipped FROM feeds`

func scanFeed(rows *sql.Rows) (FeedState, error) {
	var st FeedState
	var done int
	var ok, errAt, post sql.NullInt64
	err := rows.Scan(&st.Instance, &st.Feed, &st.Cursor.MinID, &st.Cursor.BackfillMaxID, &done,
		&ok, &st.LastError, &errAt, &post, &st.PostsIngested, &st.Skipped)
	st.Cursor.BackfillDone = done == 1
	st.LastSuccess, st.LastErrorAt, st.LastPostAt = timePtr(ok), timePtr(errAt), timePtr(post)
	return st, err
}

func ensureFeed(ctx context.Context, tx *sql.Tx, instance, feed string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO feeds (instance, feed) VALUES ($1, $2)
		ON CONFLICT (instance, feed) DO NOTHING`, instance, feed)
	return err
}

// saveFeed records a successful page: cursor, counters and health.
func saveFeed(ctx context.Context, tx *sql.Tx, b Batch, newPosts int, lastPost, now int64) error {
	if err := ensureFeed(ctx, tx, b.Instance, b.Feed); err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	if b.Cursor != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE feeds SET cursor = $3, backfill_max_id = $4, backfill_done = $5
			WHERE instance = $1 AND feed = $2`,
			b.Instance, b.Feed, b.Cursor.MinID, b.Cursor.BackfillMaxID, boolInt(b.Cursor.BackfillDone)); err != nil {
			return fmt.Errorf("feed cursor: %w", err)
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE feeds SET
			last_success = $3, last_error = '',
			posts_ingested = posts_ingested + $4, skipped = skipped + $5,
			last_post_at = CASE WHEN last_post_at IS NULL OR $6 > last_post_at THEN $6 ELSE last_post_at END
		WHERE instance = $1 AND feed = $2`,
		b.Instance, b.Feed, now, newPosts, b.Skipped, sql.NullInt64{Int64: lastPost, Valid: lastPost > 0})
	if err != nil {
		return fmt.Errorf("feed health: %w", err)
	}
	return nil
}

// FeedError records a failed poll of a feed. msg must not hold secrets.
func (db *DB) FeedError(ctx context.Context, instance, feed, msg string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := ensureFeed(ctx, tx, instance, feed); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE feeds SET last_error = $3, last_error_at = $4
			WHERE instance = $1 AND feed = $2`, instance, feed, truncate(msg, 500), ms(db.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: feed error %s %s: %w", instance, feed, err)
	}
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary (PostgreSQL
// refuses invalid UTF-8).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
