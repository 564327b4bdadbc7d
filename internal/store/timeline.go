package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Activity is one post mentioning a CVE reduced to what a timeline needs:
// when it was created and how many boosts and favourites it has.
type Activity struct {
	PostID     int64
	URI        string
	CreatedAt  time.Time
	Reblogs    int
	Favourites int
}

// Activity returns, oldest first, the posts created at or after since that
// mention id. It reads no post content, so a long timeline of a busy CVE stays
// cheap; hours and days are bucketed by the caller, keeping the SQL portable.
func (db *DB) Activity(ctx context.Context, id string, since time.Time) ([]Activity, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT p.id, p.uri, p.created_at, p.reblogs_count, p.favourites_count
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
		if err := rows.Scan(&a.PostID, &a.URI, &created, &a.Reblogs, &a.Favourites); err != nil {
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

// PostsByID returns the posts with the given ids, in the order of ids;
// unknown ids are skipped. It leaves CVEs empty: it serves pages that have
// already chosen, from Activity, which few posts of a busy CVE to show.
func (db *DB) PostsByID(ctx context.Context, ids []int64) ([]Post, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ph strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			ph.WriteByte(',')
		}
		ph.WriteString("$" + strconv.Itoa(i+1))
		args[i] = id
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+postColumns+` FROM posts p WHERE p.id IN (`+ph.String()+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: posts by id: %w", err)
	}
	defer rows.Close()
	byID := make(map[int64]Post, len(ids))
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, fmt.Errorf("store: posts by id: %w", err)
		}
		byID[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: posts by id: %w", err)
	}
	out := make([]Post, 0, len(ids))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}
