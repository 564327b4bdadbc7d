package store

import (
	"context"
	"fmt"
	"time"
)

// Activity is one post mentioning a CVE reduced to what a timeline needs:
// when it was created and how many boosts and favourites it has.
type Activity struct {
	CreatedAt  time.Time
	Reblogs    int
	Favourites int
}

// Activity returns, oldest first, the posts created at or after since that
// mention id. It reads no post content, so a long timeline of a busy CVE stays
// cheap; hours and days are bucketed by the caller, keeping the SQL portable.
func (db *DB) Activity(ctx context.Context, id string, since time.Time) ([]Activity, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT p.created_at, p.reblogs_count, p.favourites_count
		FROM post_cves pc
		JOIN posts p ON p.id = pc.post_id
		WHERE pc.cve_id = $1 AND pc.created_at >= $2
		ORDER BY pc.created_at`, id, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: activity of %s: %w", id, err)
	}
	defer rows.Close()
	var out []Activity
	for rows.Next() {
		var a Activity
		var created int64
		if err := rows.Scan(&created, &a.Reblogs, &a.Favourites); err != nil {
			return nil, fmt.Errorf("store: activity of %s: %w", id, err)
		}
		a.CreatedAt = fromMS(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: activity of %s: %w", id, err)
	}
	return out, nil
}
