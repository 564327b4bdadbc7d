package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DeletePost removes the post with uri and everything derived from it (CVE
// mentions, sightings; its content goes with the row) and leaves a tombstone
// so that no feed of any instance can store it again. It reports whether a
// stored post was removed; the tombstone is written either way, because a
// delete may overtake the post it deletes.
func (db *DB) DeletePost(ctx context.Context, uri, reason string) (bool, error) {
	var removed bool
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		removed, err = deletePost(ctx, tx, uri, reason, ms(db.now()))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: delete post %s: %w", uri, err)
	}
	return removed, nil
}

func deletePost(ctx context.Context, tx *sql.Tx, uri, reason string, now int64) (bool, error) {
	r, err := tx.ExecContext(ctx, `DELETE FROM posts WHERE uri = $1`, uri)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (uri, deleted_at, reason) VALUES ($1, $2, $3)
		ON CONFLICT (uri) DO NOTHING`, uri, now, reason); err != nil {
		return false, fmt.Errorf("tombstone: %w", err)
	}
	return n > 0, nil
}

// DeleteByLocalID resolves a delete event, which carries only the
// delivering instance's local id, through the sightings, and deletes the
// post as DeletePost does. It returns the post's uri, or "" when the
// instance never delivered a stored post with that id (most deletes on a
// public stream are of posts that mention no CVE).
func (db *DB) DeleteByLocalID(ctx context.Context, instance, localID, reason string) (string, error) {
	var uri string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT p.uri FROM sightings s JOIN posts p ON p.id = s.post_id
			WHERE s.instance = $1 AND s.local_id = $2`, instance, localID).Scan(&uri)
		if errors.Is(err, sql.ErrNoRows) {
			uri = ""
			return nil
		}
		if err != nil {
			return err
		}
		_, err = deletePost(ctx, tx, uri, reason, ms(db.now()))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: delete %s/%s: %w", instance, localID, err)
	}
	return uri, nil
}

// Tombstoned reports whether uri was deleted.
func (db *DB) Tombstoned(ctx context.Context, uri string) (bool, error) {
	var one int
	err := db.sql.QueryRowContext(ctx, `SELECT 1 FROM tombstones WHERE uri = $1`, uri).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: tombstone %s: %w", uri, err)
	}
	return true, nil
}

// Sighting is one instance's local id for a post.
type Sighting struct {
	Instance string
	LocalID  string
}

// RefreshTarget is a post whose counts are due for a refresh.
type RefreshTarget struct {
	ID        int64
	URI       string
	CreatedAt time.Time
	Step      int
	Sightings []Sighting
}

// DueRefresh returns up to limit posts whose next refresh is at or before
// now, the most overdue first, with their sightings.
func (db *DB) DueRefresh(ctx context.Context, now time.Time, limit int) ([]RefreshTarget, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, uri, created_at, refresh_step FROM posts
		WHERE next_refresh_at IS NOT NULL AND next_refresh_at <= $1
		ORDER BY next_refresh_at LIMIT $2`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due refresh: %w", err)
	}
	var out []RefreshTarget
	byID := map[int64]int{}
	for rows.Next() {
		var t RefreshTarget
		var created int64
		if err := rows.Scan(&t.ID, &t.URI, &created, &t.Step); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: due refresh: %w", err)
		}
		t.CreatedAt = fromMS(created)
		byID[t.ID] = len(out)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: due refresh: %w", err)
	}
	for i := range out {
		srows, err := db.sql.QueryContext(ctx, `SELECT instance, local_id FROM sightings WHERE post_id = $1 ORDER BY seen_at DESC`, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("store: sightings of %d: %w", out[i].ID, err)
		}
		for srows.Next() {
			var s Sighting
			if err := srows.Scan(&s.Instance, &s.LocalID); err != nil {
				srows.Close()
				return nil, fmt.Errorf("store: sightings of %d: %w", out[i].ID, err)
			}
			out[i].Sightings = append(out[i].Sightings, s)
		}
		srows.Close()
		if err := srows.Err(); err != nil {
			return nil, fmt.Errorf("store: sightings of %d: %w", out[i].ID, err)
		}
	}
	return out, nil
}

// ScheduleRefresh sets a post's next refresh time and step; a zero next
// means never again (the post left the window).
func (db *DB) ScheduleRefresh(ctx context.Context, id int64, next time.Time, step int) error {
	_, err := db.sql.ExecContext(ctx, `UPDATE posts SET next_refresh_at = $2, refresh_step = $3 WHERE id = $1`,
		id, sql.NullInt64{Int64: ms(next), Valid: !next.IsZero()}, step)
	if err != nil {
		return fmt.Errorf("store: schedule refresh %d: %w", id, err)
	}
	return nil
}

// PostURIs returns the uri of every stored post (tests and consistency checks).
func (db *DB) PostURIs(ctx context.Context) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT uri FROM posts ORDER BY uri`)
	if err != nil {
		return nil, fmt.Errorf("store: post uris: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("store: post uris: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// PostCounts returns the stored reblogs and favourites of a post.
func (db *DB) PostCounts(ctx context.Context, uri string) (reblogs, favourites int, err error) {
	err = db.sql.QueryRowContext(ctx, `SELECT reblogs_count, favourites_count FROM posts WHERE uri = $1`, uri).Scan(&reblogs, &favourites)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, ErrNotFound
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: counts of %s: %w", uri, err)
	}
	return reblogs, favourites, nil
}
