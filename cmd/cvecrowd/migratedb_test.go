package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// TestMigrateDB moves a SQLite database to PostgreSQL (CVECROWD_TEST_POSTGRES)
// or, without one, to another SQLite file, through the command line.
func TestMigrateDB(t *testing.T) {
	ctx := context.Background()
	srcPath := filepath.Join(t.TempDir(), "src.db")
	src, err := store.Open(ctx, srcPath)
	must(t, err)
	now := time.Now()
	_, err = src.SaveBatch(ctx, store.Batch{Instance: "a", Feed: "public", Posts: []store.Sighted{{
		Post: store.Post{URI: "https://a.example/s/1", CreatedAt: now, Content: "<p>CVE-2024-3094</p>",
			Account: store.Account{URL: "https://a.example/@x", Acct: "x@a.example"}, CVEs: []string{"CVE-2024-3094"}},
		LocalID: "1",
	}}})
	must(t, err)
	src.Close()

	dst := filepath.Join(t.TempDir(), "dst.db")
	if pg := os.Getenv("CVECROWD_TEST_POSTGRES"); pg != "" {
		dst = freshPostgres(t, pg)
	}
	var out bytes.Buffer
	must(t, run(ctx, []string{"migrate-db", "--from", "sqlite:" + srcPath, "--to", dst}, &out, io.Discard))
	if !strings.Contains(out.String(), "posts        1 rows copied") {
		t.Fatalf("summary:\n%s", out.String())
	}
	db, err := store.Open(ctx, dst)
	must(t, err)
	defer db.Close()
	posts, err := db.CVEPosts(ctx, "CVE-2024-3094", now.Add(-time.Hour))
	if err != nil || len(posts) != 1 {
		t.Fatalf("after migrate-db: %d posts, %v", len(posts), err)
	}
	if err := run(ctx, []string{"migrate-db", "--from", "sqlite:" + srcPath, "--to", dst}, io.Discard, io.Discard); err == nil {
		t.Fatal("a second migrate-db into the same database succeeded")
	}
}
