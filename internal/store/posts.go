package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Account is the author of a post as stored with it.
type Account struct {
	URL         string // the profile URL; it identifies the account across instances
	Acct        string
	DisplayName string
	Avatar      string
}

// Post is a stored post. Content is already sanitised HTML.
type Post struct {
	ID         int64
	URI        string
	URL        string
	CreatedAt  time.Time
	EditedAt   *time.Time
	Language   string
	Content    string
	Reblogs    int
	Favourites int
	Replies    int
	Account    Account
	CVEs       []string // canonical CVE IDs the post mentions, sorted
}

// Sighted is a post as one feed of one instance delivered it.
type Sighted struct {
	Post
	LocalID string // the delivering instance's id for the post
	// Authoritative is true when the delivering instance is the post's
	// origin, whose counts replace stored ones; other instances' views may be
	// stale, so their counts only ever raise the stored ones.
	Authoritative bool
}

// Batch is one page of a feed: the eligible posts it held and the feed
// position it moves to. It is saved atomically, so a crash never advances a
// cursor past posts that were not stored.
type Batch struct {
	Instance string
	Feed     string
	Posts    []Sighted
	Skipped  int // items of the page that were malformed or not eligible
	Cursor   *FeedCursor
	// Gone lists uris whose latest version no longer qualifies (an edit
	// removed every CVE ID): a stored copy is removed, without a tombstone,
	// since a later edit may bring the post back.
	Gone []string
	// RefreshAt is when newly stored posts get their first count refresh;
	// zero leaves them unscheduled.
	RefreshAt time.Time
}

// FeedCursor is the stored position of one feed.
type FeedCursor struct {
	MinID         string // newest local id stored: the next forward poll starts after it
	BackfillMaxID string // oldest local id reached by the first-start backfill
	BackfillDone  bool
}

// SaveResult counts what a batch changed.
type SaveResult struct {
	New        int // posts stored for the first time
	Updated    int // posts already stored (counts, content or CVE set refreshed)
	Tombstoned int // posts refused because they were deleted earlier
	Removed    int // stored posts removed because they no longer mention a CVE
}

// SaveBatch stores the posts of b with their CVE mentions and sightings and
// moves the feed's cursor, all in one transaction. Posts with a tombstone
// are refused. Statements are prepared once per batch: a page holds up to
// 40 posts with several CVEs each, and re-parsing the SQL per row was most
// of the cost.
func (db *DB) SaveBatch(ctx context.Context, b Batch) (SaveResult, error) {
	res, err := db.SaveBatches(ctx, []Batch{b})
	if err != nil {
		return SaveResult{}, err
	}
	return res[0], nil
}

// SaveBatches saves several batches in one transaction, as SaveBatch does
// one: a bulk path (backfills, imports) where the commit and statement
// preparation would otherwise dominate.
func (db *DB) SaveBatches(ctx context.Context, bs []Batch) ([]SaveResult, error) {
	out := make([]SaveResult, len(bs))
	now := ms(db.now())
	var cur *Batch
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		ps, err := prepareSave(ctx, tx, db.engine)
		if err != nil {
			return err
		}
		defer ps.close()
		for i := range bs {
			cur = &bs[i]
			if out[i], err = ps.saveBatch(ctx, tx, cur, now); err != nil {
				return err
			}
		}
		cur = nil
		return ps.flushCVEs(ctx)
	})
	if err != nil {
		if cur != nil {
			return nil, fmt.Errorf("store: save batch %s %s: %w", cur.Instance, cur.Feed, err)
		}
		return nil, fmt.Errorf("store: save batches: %w", err)
	}
	return out, nil
}

func (ps *saveStmts) saveBatch(ctx context.Context, tx *sql.Tx, b *Batch, now int64) (SaveResult, error) {
	var res SaveResult
	dead, err := tombstoned(ctx, tx, b.Posts)
	if err != nil {
		return res, fmt.Errorf("tombstones: %w", err)
	}
	refreshAt := sql.NullInt64{Int64: ms(b.RefreshAt), Valid: !b.RefreshAt.IsZero()}
	var lastPost int64
	for i := range b.Posts {
		p := &b.Posts[i]
		if dead[p.URI] {
			res.Tombstoned++
			continue
		}
		isNew, err := ps.upsertPost(ctx, p, now, refreshAt)
		if err != nil {
			return res, fmt.Errorf("post %s: %w", p.URI, err)
		}
		if isNew {
			res.New++
		} else {
			res.Updated++
		}
		// One row per (instance, local id): a later sighting in the batch wins.
		ps.sightings[[2]string{b.Instance, p.LocalID}] = pendingSighting{postID: p.ID, feed: b.Feed, seenAt: now}
		if c := ms(p.CreatedAt); c > lastPost {
			lastPost = c
		}
	}
	if err := ps.flushRows(ctx, tx, b.Instance); err != nil {
		return res, err
	}
	for _, uri := range b.Gone {
		r, err := tx.ExecContext(ctx, `DELETE FROM posts WHERE uri = $1`, uri)
		if err != nil {
			return res, fmt.Errorf("remove %s: %w", uri, err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			res.Removed++
		}
	}
	return res, saveFeed(ctx, tx, *b, res.New, lastPost, now)
}

// tombstoned returns which uris of posts have a tombstone, in one query.
func tombstoned(ctx context.Context, tx *sql.Tx, posts []Sighted) (map[string]bool, error) {
	if len(posts) == 0 {
		return nil, nil
	}
	var q strings.Builder
	q.WriteString(`SELECT uri FROM tombstones WHERE uri IN (`)
	args := make([]any, len(posts))
	for i := range posts {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "$%d", i+1)
		args[i] = posts[i].URI
	}
	q.WriteByte(')')
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[string]bool
	for rows.Next() {
		var uri string
		if err := rows.Scan(&uri); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]bool{}
		}
		out[uri] = true
	}
	return out, rows.Err()
}

// saveStmts are the statements of SaveBatch, prepared once per transaction.
type saveStmts struct {
	insert, update, clearCVEs, cve *sql.Stmt
	// mention and sighting write one row each: SQLite runs in-process, so a
	// prepared statement per row beats building multi-row statements; on
	// PostgreSQL (multiRow) each row would be a network round trip.
	mention, sighting *sql.Stmt
	multiRow          bool

	// cves collects the first and last mention time of every CVE the
	// transaction touches, so that each cves row is upserted once per
	// transaction rather than once per mention.
	cves map[string][2]int64

	// mentions and sightings of the current batch wait here and go to the
	// database in multi-row statements (one round trip per few hundred
	// rows instead of one per row: it matters on PostgreSQL).
	mentions  map[int64][]string // post id → its CVE set
	mentionAt map[int64]int64    // post id → created_at
	sightings map[[2]string]pendingSighting
}

type pendingSighting struct {
	postID int64
	feed   string
	seenAt int64
}

// rowsPerStatement bounds a multi-row insert (5 parameters a row stays far
// under SQLite's and PostgreSQL's parameter limits).
const rowsPerStatement = 400

// flushRows writes the pending mentions and sightings.
func (ps *saveStmts) flushRows(ctx context.Context, tx *sql.Tx, instance string) error {
	var rows [][]any
	for pid, ids := range ps.mentions {
		for _, id := range ids {
			rows = append(rows, []any{id, pid, ps.mentionAt[pid]})
		}
	}
	if err := ps.insertRows(ctx, tx, ps.mention, mentionHead, mentionTail, rows); err != nil {
		return fmt.Errorf("mentions: %w", err)
	}
	rows = rows[:0]
	for k, v := range ps.sightings {
		rows = append(rows, []any{instance, k[1], v.postID, v.feed, v.seenAt})
	}
	if err := ps.insertRows(ctx, tx, ps.sighting, sightingHead, sightingTail, rows); err != nil {
		return fmt.Errorf("sightings: %w", err)
	}
	clear(ps.mentions)
	clear(ps.mentionAt)
	clear(ps.sightings)
	return nil
}

const (
	mentionHead  = `INSERT INTO post_cves (cve_id, post_id, created_at) VALUES `
	mentionTail  = ` ON CONFLICT (cve_id, post_id) DO NOTHING`
	sightingHead = `INSERT INTO sightings (instance, local_id, post_id, feed, seen_at) VALUES `
	sightingTail = ` ON CONFLICT (instance, local_id) DO UPDATE SET seen_at = excluded.seen_at`
)

// insertRows writes rows with the one-row statement one, or on
// PostgreSQL as head VALUES (...),(...) tail in chunks.
func (ps *saveStmts) insertRows(ctx context.Context, tx *sql.Tx, one *sql.Stmt, head, tail string, rows [][]any) error {
	if !ps.multiRow {
		for _, r := range rows {
			if _, err := one.ExecContext(ctx, r...); err != nil {
				return err
			}
		}
		return nil
	}
	for len(rows) > 0 {
		n := min(len(rows), rowsPerStatement)
		var q strings.Builder
		q.WriteString(head)
		args := make([]any, 0, n*len(rows[0]))
		for i, r := range rows[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for j, v := range r {
				if j > 0 {
					q.WriteByte(',')
				}
				args = append(args, v)
				fmt.Fprintf(&q, "$%d", len(args))
			}
			q.WriteByte(')')
		}
		q.WriteString(tail)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// flushCVEs upserts the collected CVE rows.
func (ps *saveStmts) flushCVEs(ctx context.Context) error {
	for id, span := range ps.cves {
		if _, err := ps.cve.ExecContext(ctx, id, span[0], span[1]); err != nil {
			return fmt.Errorf("store: cve %s: %w", id, err)
		}
	}
	clear(ps.cves)
	return nil
}

func prepareSave(ctx context.Context, tx *sql.Tx, engine Engine) (*saveStmts, error) {
	ps := &saveStmts{cves: map[string][2]int64{}, mentions: map[int64][]string{}, mentionAt: map[int64]int64{},
		sightings: map[[2]string]pendingSighting{}, multiRow: engine == Postgres}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&ps.insert, `
		INSERT INTO posts (uri, url, created_at, edited_at, language, content,
			reblogs_count, favourites_count, replies_count,
			account_url, account_acct, account_display_name, account_avatar,
			first_seen, updated_at, next_refresh_at, refresh_step)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, 0)
		ON CONFLICT (uri) DO NOTHING
		RETURNING id`},
		{&ps.update, `
			UPDATE posts SET
				url = $2, edited_at = $3, language = $4, content = $5,
				reblogs_count = CASE WHEN $9 = 1 OR $6 > reblogs_count THEN $6 ELSE reblogs_count END,
				favourites_count = CASE WHEN $9 = 1 OR $7 > favourites_count THEN $7 ELSE favourites_count END,
				replies_count = CASE WHEN $9 = 1 OR $8 > replies_count THEN $8 ELSE replies_count END,
				account_acct = $10, account_display_name = $11, account_avatar = $12,
				updated_at = $13
			WHERE uri = $1
			RETURNING id`},
		{&ps.clearCVEs, `DELETE FROM post_cves WHERE post_id = $1`},
		{&ps.mention, mentionHead + `($1, $2, $3)` + mentionTail},
		{&ps.sighting, sightingHead + `($1, $2, $3, $4, $5)` + sightingTail},
		{&ps.cve, `
			INSERT INTO cves (cve_id, first_seen, last_seen) VALUES ($1, $2, $3)
			ON CONFLICT (cve_id) DO UPDATE SET
				first_seen = CASE WHEN excluded.first_seen < cves.first_seen THEN excluded.first_seen ELSE cves.first_seen END,
				last_seen = CASE WHEN excluded.last_seen > cves.last_seen THEN excluded.last_seen ELSE cves.last_seen END`},
	} {
		st, err := tx.PrepareContext(ctx, s.sql)
		if err != nil {
			ps.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*s.dst = st
	}
	return ps, nil
}

func (ps *saveStmts) close() {
	for _, st := range []*sql.Stmt{ps.insert, ps.update, ps.clearCVEs, ps.cve, ps.mention, ps.sighting} {
		if st != nil {
			st.Close()
		}
	}
}

// upsertPost stores p (setting p.ID) and replaces its CVE set.
func (ps *saveStmts) upsertPost(ctx context.Context, p *Sighted, now int64, refreshAt sql.NullInt64) (isNew bool, err error) {
	created := ms(p.CreatedAt)
	err = ps.insert.QueryRowContext(ctx,
		p.URI, p.URL, created, nullMS(p.EditedAt), nullString(p.Language), p.Content,
		p.Reblogs, p.Favourites, p.Replies,
		p.Account.URL, p.Account.Acct, p.Account.DisplayName, p.Account.Avatar, now, refreshAt,
	).Scan(&p.ID)
	switch {
	case err == nil:
		isNew = true
	case errors.Is(err, sql.ErrNoRows):
		err = ps.update.QueryRowContext(ctx,
			p.URI, p.URL, nullMS(p.EditedAt), nullString(p.Language), p.Content,
			p.Reblogs, p.Favourites, p.Replies, boolInt(p.Authoritative),
			p.Account.Acct, p.Account.DisplayName, p.Account.Avatar, now,
		).Scan(&p.ID)
		if err != nil {
			return false, fmt.Errorf("update: %w", err)
		}
		// The CVE set follows the latest text (edits add and remove IDs).
		if _, err := ps.clearCVEs.ExecContext(ctx, p.ID); err != nil {
			return false, fmt.Errorf("clear cves: %w", err)
		}
	default:
		return false, fmt.Errorf("insert: %w", err)
	}
	// The CVE set replaces any pending one of the same post (the latest
	// text wins), and is written with the batch.
	ps.mentions[p.ID] = p.CVEs
	ps.mentionAt[p.ID] = created
	for _, id := range p.CVEs {
		if span, ok := ps.cves[id]; ok {
			ps.cves[id] = [2]int64{min(span[0], created), max(span[1], created)}
		} else {
			ps.cves[id] = [2]int64{created, created}
		}
	}
	return isNew, nil
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// Mention is one (CVE, post) pair with what ranking needs of the post.
type Mention struct {
	CVE        string
	PostID     int64
	Account    string
	CreatedAt  time.Time
	Reblogs    int
	Favourites int
}

// Mentions returns every CVE mention in posts created at or after since.
func (db *DB) Mentions(ctx context.Context, since time.Time) ([]Mention, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT pc.cve_id, p.id, p.account_url, p.created_at, p.reblogs_count, p.favourites_count
		FROM post_cves pc
		JOIN posts p ON p.id = pc.post_id
		WHERE pc.created_at >= $1`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: mentions since %s: %w", since.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []Mention
	for rows.Next() {
		var m Mention
		var created int64
		if err := rows.Scan(&m.CVE, &m.PostID, &m.Account, &created, &m.Reblogs, &m.Favourites); err != nil {
			return nil, fmt.Errorf("store: mentions: %w", err)
		}
		m.CreatedAt = fromMS(created)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: mentions: %w", err)
	}
	return out, nil
}

const postColumns = `p.id, p.uri, p.url, p.created_at, p.edited_at, p.language, p.content,
	p.reblogs_count, p.favourites_count, p.replies_count,
	p.account_url, p.account_acct, p.account_display_name, p.account_avatar`

func scanPost(rows *sql.Rows) (Post, error) {
	var p Post
	var created int64
	var edited sql.NullInt64
	var lang sql.NullString
	err := rows.Scan(&p.ID, &p.URI, &p.URL, &created, &edited, &lang, &p.Content,
		&p.Reblogs, &p.Favourites, &p.Replies,
		&p.Account.URL, &p.Account.Acct, &p.Account.DisplayName, &p.Account.Avatar)
	p.CreatedAt = fromMS(created)
	p.EditedAt = timePtr(edited)
	p.Language = lang.String
	return p, err
}

// CVEPosts returns the posts created at or after since that mention id, each
// with its full CVE set, in no particular order.
func (db *DB) CVEPosts(ctx context.Context, id string, since time.Time) ([]Post, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT `+postColumns+`
		FROM post_cves pc
		JOIN posts p ON p.id = pc.post_id
		WHERE pc.cve_id = $1 AND pc.created_at >= $2`, id, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: posts of %s: %w", id, err)
	}
	var posts []Post
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: posts of %s: %w", id, err)
		}
		posts = append(posts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: posts of %s: %w", id, err)
	}
	if len(posts) == 0 {
		return posts, nil
	}
	// Attach every post's whole CVE set (a post often names several).
	rows, err = db.sql.QueryContext(ctx, `
		SELECT pc2.post_id, pc2.cve_id
		FROM post_cves pc
		JOIN post_cves pc2 ON pc2.post_id = pc.post_id
		WHERE pc.cve_id = $1 AND pc.created_at >= $2`, id, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: cves of posts of %s: %w", id, err)
	}
	defer rows.Close()
	byPost := make(map[int64][]string, len(posts))
	for rows.Next() {
		var pid int64
		var cve string
		if err := rows.Scan(&pid, &cve); err != nil {
			return nil, fmt.Errorf("store: cves of posts of %s: %w", id, err)
		}
		byPost[pid] = append(byPost[pid], cve)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: cves of posts of %s: %w", id, err)
	}
	for i := range posts {
		c := byPost[posts[i].ID]
		sort.Slice(c, func(a, b int) bool { return cveLess(c[a], c[b]) })
		posts[i].CVEs = c
	}
	return posts, nil
}

// cveLess orders canonical CVE IDs by year, then sequence numerically.
func cveLess(a, b string) bool {
	if len(a) >= 9 && len(b) >= 9 && a[:9] == b[:9] && len(a) != len(b) {
		return len(a) < len(b)
	}
	return strings.Compare(a, b) < 0
}

// PostCount returns how many posts are stored.
func (db *DB) PostCount(ctx context.Context) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM posts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count posts: %w", err)
	}
	return n, nil
}
