package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

var pgSchemaSeq atomic.Int64

// openTest opens a fresh SQLite file, or a fresh PostgreSQL schema when
// CVECROWD_TEST_POSTGRES holds a DSN.
func openTest(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "test.db")
	if pg := os.Getenv("CVECROWD_TEST_POSTGRES"); pg != "" {
		schema := fmt.Sprintf("t_%d_%d", os.Getpid(), pgSchemaSeq.Add(1))
		admin, err := sql.Open("pgx", pg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			admin.Close()
		})
		sep := "?"
		if strings.Contains(pg, "?") {
			sep = "&"
		}
		dsn = pg + sep + "search_path=" + schema
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetClock(func() time.Time { return t0 })
	t.Cleanup(func() { db.Close() })
	return db
}

func post(uri string, created time.Time, account string, cves ...string) Sighted {
	return Sighted{
		Post: Post{
			URI: uri, URL: uri, CreatedAt: created, Content: "<p>" + strings.Join(cves, " ") + "</p>",
			Account: Account{URL: "https://x.example/@" + account, Acct: account + "@x.example", DisplayName: account},
			CVEs:    cves,
		},
		LocalID:       "1" + uri[len(uri)-1:],
		Authoritative: true,
	}
}

func TestSaveBatchDedupAndCursor(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	p1 := post("https://x.example/s/1", t0.Add(-time.Hour), "alice", "CVE-2024-3094")
	p2 := post("https://x.example/s/2", t0.Add(-2*time.Hour), "bob", "CVE-2024-3094", "CVE-2021-44228")
	res, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{p1, p2}, Skipped: 3,
		Cursor: &FeedCursor{MinID: "200", BackfillMaxID: "100"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.New != 2 || res.Updated != 0 {
		t.Fatalf("first save = %+v, want 2 new", res)
	}
	// The same post through another instance, with a stale lower count.
	p1b := p1
	p1b.LocalID, p1b.Authoritative, p1b.Reblogs = "999", false, 0
	p1.Reblogs = 5
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{p1}}); err != nil {
		t.Fatal(err)
	}
	res, err = db.SaveBatch(ctx, Batch{Instance: "b.example", Feed: "tag:cve", Posts: []Sighted{p1b}})
	if err != nil {
		t.Fatal(err)
	}
	if res.New != 0 || res.Updated != 1 {
		t.Fatalf("second instance save = %+v, want 1 updated", res)
	}
	if n, _ := db.PostCount(ctx); n != 2 {
		t.Fatalf("posts = %d, want 2", n)
	}
	posts, err := db.CVEPosts(ctx, "CVE-2024-3094", t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 2 {
		t.Fatalf("CVEPosts = %d posts, want 2", len(posts))
	}
	for _, p := range posts {
		if p.URI == p1.URI && p.Reblogs != 5 {
			t.Errorf("stale non-origin count overwrote: reblogs = %d, want 5", p.Reblogs)
		}
		if p.URI == p2.URI && strings.Join(p.CVEs, ",") != "CVE-2021-44228,CVE-2024-3094" {
			t.Errorf("p2 CVEs = %v", p.CVEs)
		}
	}
	st, err := db.Feed(ctx, "a.example", "public")
	if err != nil {
		t.Fatal(err)
	}
	if st.Cursor.MinID != "200" || st.Cursor.BackfillMaxID != "100" || st.PostsIngested != 2 || st.Skipped != 3 || st.LastSuccess == nil {
		t.Fatalf("feed state = %+v", st)
	}
	if st, _ := db.Feed(ctx, "nowhere", "public"); st.Cursor.MinID != "" || st.LastSuccess != nil {
		t.Fatalf("unknown feed state = %+v, want zero", st)
	}
}

func TestEditReplacesCVESet(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	p := post("https://x.example/s/1", t0.Add(-time.Hour), "alice", "CVE-2024-1111", "CVE-2024-2222")
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{p}}); err != nil {
		t.Fatal(err)
	}
	edited := t0
	p.EditedAt = &edited
	p.CVEs = []string{"CVE-2024-2222", "CVE-2024-3333"}
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{p}}); err != nil {
		t.Fatal(err)
	}
	ms, err := db.Mentions(ctx, t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.CVE)
	}
	if strings.Join(sortStrings(got), ",") != "CVE-2024-2222,CVE-2024-3333" {
		t.Fatalf("mentions after edit = %v", got)
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestMentionsWindowAndCVE(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	in := post("https://x.example/s/1", t0.Add(-23*time.Hour), "alice", "CVE-2024-1111")
	out := post("https://x.example/s/2", t0.Add(-25*time.Hour), "bob", "CVE-2024-1111")
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{in, out}}); err != nil {
		t.Fatal(err)
	}
	ms, err := db.Mentions(ctx, t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Account != "https://x.example/@alice" || !ms[0].CreatedAt.Equal(in.CreatedAt) {
		t.Fatalf("mentions = %+v", ms)
	}
	c, err := db.CVE(ctx, "CVE-2024-1111")
	if err != nil {
		t.Fatal(err)
	}
	if !c.FirstSeen.Equal(out.CreatedAt) || !c.LastSeen.Equal(in.CreatedAt) || c.Description != nil || c.Verified {
		t.Fatalf("cve = %+v", c)
	}
	if _, err := db.CVE(ctx, "CVE-1999-0001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown CVE err = %v, want ErrNotFound", err)
	}
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	k, err := db.CreateAPIKey(ctx, "ci", "cvc_1234", "hash1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.APIKeyByHash(ctx, "hash1")
	if err != nil || got.ID != k.ID || got.Name != "ci" || got.RevokedAt != nil {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	if _, err := db.APIKeyByHash(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key err = %v", err)
	}
	if _, err := db.CreateAPIKey(ctx, "dup", "x", "hash1"); err == nil {
		t.Fatal("duplicate hash accepted")
	}
}

func TestFeedError(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if err := db.FeedError(ctx, "a", "public", "HTTP 429"); err != nil {
		t.Fatal(err)
	}
	st, err := db.Feed(ctx, "a", "public")
	if err != nil || st.LastError != "HTTP 429" || st.LastErrorAt == nil {
		t.Fatalf("state = %+v, %v", st, err)
	}
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.Feed(ctx, "a", "public"); st.LastError != "" {
		t.Fatalf("error not cleared by success: %+v", st)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "re.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{post("https://x.example/s/1", t0, "a", "CVE-2024-1111")},
		Cursor: &FeedCursor{MinID: "42", BackfillDone: true}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ := db.Feed(ctx, "a", "public")
	if n, _ := db.PostCount(ctx); n != 1 || st.Cursor.MinID != "42" || !st.Cursor.BackfillDone {
		t.Fatalf("after reopen: posts %d, cursor %+v", n, st.Cursor)
	}
}

func TestTombstoneStopsReingestion(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	p := post("https://a.example/users/x/statuses/1", t0.Add(-time.Hour), "x", "CVE-2024-3094")
	p.LocalID = "101"
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{p}, RefreshAt: t0}); err != nil {
		t.Fatal(err)
	}
	// The delete event names only the instance's local id.
	uri, err := db.DeleteByLocalID(ctx, "a.example", "101", "delete event")
	if err != nil || uri != p.URI {
		t.Fatalf("DeleteByLocalID = %q, %v", uri, err)
	}
	if n, _ := db.PostCount(ctx); n != 0 {
		t.Fatalf("%d posts after delete", n)
	}
	if ms, _ := db.Mentions(ctx, time.Unix(0, 0)); len(ms) != 0 {
		t.Fatalf("mentions survive the delete: %v", ms)
	}
	// Another instance still has it, under another local id.
	p.LocalID = "999"
	res, err := db.SaveBatch(ctx, Batch{Instance: "b.example", Feed: "search", Posts: []Sighted{p}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tombstoned != 1 || res.New != 0 {
		t.Fatalf("re-delivery: %+v", res)
	}
	if n, _ := db.PostCount(ctx); n != 0 {
		t.Fatal("tombstoned post was stored again")
	}
	// Unknown local ids are not an error.
	if uri, err := db.DeleteByLocalID(ctx, "a.example", "nope", "x"); err != nil || uri != "" {
		t.Fatalf("unknown id: %q, %v", uri, err)
	}
}

func TestGoneRemovesWithoutTombstone(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	p := post("https://a.example/s/1", t0.Add(-time.Hour), "x", "CVE-2024-3094")
	p.LocalID = "1"
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{p}}); err != nil {
		t.Fatal(err)
	}
	res, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "stream", Gone: []string{p.URI}})
	if err != nil || res.Removed != 1 {
		t.Fatalf("gone: %+v, %v", res, err)
	}
	if dead, _ := db.Tombstoned(ctx, p.URI); dead {
		t.Fatal("an edit that drops the CVEs must not tombstone the post")
	}
	if res, _ := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "stream", Posts: []Sighted{p}}); res.New != 1 {
		t.Fatalf("edited back: %+v", res)
	}
}

func TestRefreshSchedule(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	a := post("https://a.example/users/x/statuses/1", t0.Add(-time.Hour), "x", "CVE-2024-3094")
	a.LocalID = "11"
	b := post("https://b.example/s/2", t0.Add(-time.Hour), "y", "CVE-2024-3095")
	b.LocalID = "12"
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{a, b}, RefreshAt: t0.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if due, _ := db.DueRefresh(ctx, t0, 10); len(due) != 0 {
		t.Fatalf("due before time: %v", due)
	}
	due, err := db.DueRefresh(ctx, t0.Add(5*time.Minute), 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due = %v, %v", due, err)
	}
	if s := due[0].Sightings; len(s) != 1 || s[0].Instance != "a.example" {
		t.Fatalf("sightings = %v", s)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.ScheduleRefresh(ctx, due[0].ID, t0.Add(time.Hour), 1))
	must(db.ScheduleRefresh(ctx, due[1].ID, time.Time{}, 7)) // out of the window
	due, err = db.DueRefresh(ctx, t0.Add(48*time.Hour), 10)
	if err != nil || len(due) != 1 || due[0].Step != 1 {
		t.Fatalf("after scheduling: %v, %v", due, err)
	}
}

// TestFeedErrorCutKeepsUTF8: a long error message is cut on a rune
// boundary (PostgreSQL refuses invalid UTF-8).
func TestFeedErrorCutKeepsUTF8(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	msg := strings.Repeat("a", 499) + "éééé"
	if err := db.FeedError(ctx, "a", "public", msg); err != nil {
		t.Fatal(err)
	}
	st, err := db.Feed(ctx, "a", "public")
	if err != nil || st.LastError != strings.Repeat("a", 499) {
		t.Fatalf("stored error %q, %v", st.LastError, err)
	}
}
