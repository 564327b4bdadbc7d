package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// UpdatedMention is a mention with its post's last update time, so a reader
// can keep mentions in memory and then read only the posts changed since.
// A post changed to mention no CVE comes as one row with CVE "".
type UpdatedMention struct {
	Mention
	UpdatedAt int64 // the post's updated_at, unix milliseconds
}

// MentionsSince returns every mention in posts created at or after since,
// with the posts' update times.
func (db *DB) MentionsSince(ctx context.Context, since time.Time) ([]UpdatedMention, error) {
	return db.updatedMentions(ctx, `
		SELECT pc.cve_id, p.id, p.account_url, p.created_at, p.reblogs_count, p.favourites_count, p.updated_at
		FROM post_cves pc
		JOIN posts p ON p.id = pc.post_id
		WHERE pc.created_at >= $1`, ms(since))
}

// MentionsUpdatedAfter returns the mentions of the posts created at or
// after since and updated after the instant after (unix milliseconds),
// including a CVE-less row for a changed post that mentions nothing now.
func (db *DB) MentionsUpdatedAfter(ctx context.Context, since time.Time, after int64) ([]UpdatedMention, error) {
	return db.updatedMentions(ctx, `
		SELECT COALESCE(pc.cve_id, ''), p.id, p.account_url, p.created_at, p.reblogs_count, p.favourites_count, p.updated_at
		FROM posts p
		LEFT JOIN post_cves pc ON pc.post_id = p.id
		WHERE p.updated_at > $1 AND p.created_at >= $2`, after, ms(since))
}

func (db *DB) updatedMentions(ctx context.Context, query string, args ...any) ([]UpdatedMention, error) {
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: updated mentions: %w", err)
	}
	defer rows.Close()
	var out []UpdatedMention
	for rows.Next() {
		var m UpdatedMention
		var created int64
		var cve sql.NullString
		if err := rows.Scan(&cve, &m.PostID, &m.Account, &created, &m.Reblogs, &m.Favourites, &m.UpdatedAt); err != nil {
			return nil, fmt.Errorf("store: updated mentions: %w", err)
		}
		m.CVE, m.CreatedAt = cve.String, fromMS(created)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: updated mentions: %w", err)
	}
	return out, nil
}
