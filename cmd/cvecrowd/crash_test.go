package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/ingest"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// TestCrashRecovery builds the real binary, runs `cvecrowd serve` against a
// fake instance that keeps publishing (polls and a stream), kills it with
// SIGKILL at random moments 20 times, restarting it each time, and then
// checks that every eligible post is stored exactly once and that every
// restart resumed the public feed from its stored cursor.
//
//	CVECROWD_CRASH=1 go test -run TestCrashRecovery ./cmd/cvecrowd
func TestCrashRecovery(t *testing.T) {
	if os.Getenv("CVECROWD_CRASH") == "" {
		t.Skip("set CVECROWD_CRASH=1 to run the SIGKILL crash test (about a minute)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cvecrowd")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	must(t, build.Run())

	posts, err := fakefedi.LoadCorpusFile(corpusDir + "corpus.jsonl")
	must(t, err)
	fake, ts := fakefedi.NewTestServer(t, posts, fakefedi.Options{RateLimit: 1 << 20})
	fake.SetStream(fakefedi.StreamConfig{Token: "crash-token", Heartbeat: 200 * time.Millisecond})
	want := map[string][]string{}
	for _, p := range expectedPosts(t, fake, fakefedi.NoEngagement) {
		want[p.uri] = slices.Clone(p.cves)
	}

	// The fake keeps publishing while cvecrowd crashes and restarts; every
	// fifth author is a bot, whose posts must never be stored.
	var mu sync.Mutex
	generated := 0
	ctx, stopGen := context.WithCancel(context.Background())
	var gen sync.WaitGroup
	gen.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			id := fmt.Sprintf("CVE-2026-%d", 10000+i)
			uri, raw := liveStatus("gen", i, 7, 700000, i%5 == 4, "<p>new: "+id+"</p>")
			if _, err := fake.Add(raw); err != nil {
				t.Error(err)
				return
			}
			if i%5 != 4 {
				mu.Lock()
				want[uri] = []string{id}
				generated++
				mu.Unlock()
			}
			time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
		}
	})

	dbPath := filepath.Join(dir, "crash.db")
	host := strings.TrimPrefix(ts.URL, "http://")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--db", dbPath, "--listen", "127.0.0.1:0", "--instance", ts.URL,
			"--poll-interval", "100ms", "--feeds", "public,tag:cve,stream", "--refresh-origins=false", "--log-level", "warn")
		cmd.Env = append(os.Environ(), "CVECROWD_TOKEN=crash-token")
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		return cmd
	}
	cursor := func() store.FeedCursor {
		db, err := store.Open(context.Background(), dbPath)
		must(t, err)
		defer db.Close()
		st, err := db.Feed(context.Background(), host, ingest.FeedPublic)
		must(t, err)
		return st.Cursor
	}

	resumed := 0
	for run := range 20 {
		before := cursor()
		fake.ResetRequests()
		cmd := start()
		time.Sleep(time.Duration(150+rand.IntN(1200)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		cmd.Wait()
		// A restart must poll the public feed from the stored cursor (or
		// go on with an unfinished backfill), never from scratch.
		for _, r := range fake.Requests() {
			if r.Path != "/api/v1/timelines/public" {
				continue
			}
			switch {
			case before.BackfillDone && r.Query.Get("min_id") != before.MinID:
				t.Errorf("run %d: first public poll %v, want min_id=%s (the stored cursor)", run, r.Query, before.MinID)
			case !before.BackfillDone && before.BackfillMaxID != "" && r.Query.Get("max_id") != before.BackfillMaxID:
				t.Errorf("run %d: first public poll %v, want the backfill resumed at max_id=%s", run, r.Query, before.BackfillMaxID)
			case before.BackfillDone:
				resumed++
			}
			break
		}
	}
	stopGen()
	gen.Wait()

	// A last run, left to finish, then stopped cleanly.
	cmd := start()
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for {
		db, err := store.Open(context.Background(), dbPath)
		must(t, err)
		got, err = db.PostURIs(context.Background())
		db.Close()
		must(t, err)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	must(t, cmd.Wait())

	db, err := store.Open(context.Background(), dbPath)
	must(t, err)
	defer db.Close()
	got, err = db.PostURIs(context.Background())
	must(t, err)
	seen := map[string]bool{}
	for _, u := range got {
		if seen[u] {
			t.Errorf("stored twice: %s", u)
		}
		seen[u] = true
		if _, ok := want[u]; !ok {
			t.Errorf("stored a post that must not be: %s", u)
		}
	}
	for u := range want {
		if !seen[u] {
			t.Errorf("lost: %s", u)
		}
	}
	n, err := db.PostCount(context.Background())
	must(t, err)
	if n != len(want) {
		t.Errorf("%d posts stored, want %d", n, len(want))
	}
	if resumed < 15 {
		t.Errorf("only %d of 20 restarts resumed from a stored cursor", resumed)
	}
	t.Logf("%d eligible posts (%d generated during the crashes), all stored once; %d restarts resumed from the cursor",
		len(want), generated, resumed)
}
