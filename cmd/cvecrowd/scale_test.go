package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// feedAccess records, per feed of the fake instance, how many requests
// were in flight at once and which node asked, in order.
type feedAccess struct {
	mu       sync.Mutex
	inflight map[string]int
	max      map[string]int
	nodes    map[string][]string
}

var nodeInUA = regexp.MustCompile(`node ([^)]+)\)`)

func (f *feedAccess) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		feed := r.URL.Path
		if !strings.HasPrefix(feed, "/api/v1/timelines/") {
			next.ServeHTTP(w, r)
			return
		}
		node := "single"
		if m := nodeInUA.FindStringSubmatch(r.UserAgent()); m != nil {
			node = m[1]
		}
		f.mu.Lock()
		f.inflight[feed]++
		f.max[feed] = max(f.max[feed], f.inflight[feed])
		f.nodes[feed] = append(f.nodes[feed], node)
		f.mu.Unlock()
		// Slow answers make any overlap between two pollers visible.
		time.Sleep(20 * time.Millisecond)
		next.ServeHTTP(w, r)
		f.mu.Lock()
		f.inflight[feed]--
		f.mu.Unlock()
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestScaleOut runs three real processes against one PostgreSQL database
// and the fake Fediverse: two with --role ingest, one with --role web. The
// ingester holding the instance's lease is killed with SIGKILL half-way.
// Every eligible post must be stored once, no feed may ever be polled by
// two processes at once, the survivor must take the work over, and the web
// process must answer as a single-process install does on the same input.
//
//	CVECROWD_SCALE=1 CVECROWD_TEST_POSTGRES=postgres://... go test -run TestScaleOut ./cmd/cvecrowd
func TestScaleOut(t *testing.T) {
	pg := os.Getenv("CVECROWD_TEST_POSTGRES")
	if os.Getenv("CVECROWD_SCALE") == "" || pg == "" {
		t.Skip("set CVECROWD_SCALE=1 and CVECROWD_TEST_POSTGRES to run the multi-process test (about a minute)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cvecrowd")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	must(t, build.Run())
	dsn := freshPostgres(t, pg)

	posts, err := fakefedi.LoadCorpusFile(corpusDir + "corpus.jsonl")
	must(t, err)
	engagement := fakefedi.SyntheticEngagement(11)
	fake, err := fakefedi.New(posts, fakefedi.Options{Engagement: engagement, RateLimit: 1 << 20})
	must(t, err)
	defer fake.Close()
	access := &feedAccess{inflight: map[string]int{}, max: map[string]int{}, nodes: map[string][]string{}}
	ts := httptest.NewServer(access.wrap(fake))
	defer ts.Close()

	want := map[string]bool{}
	for _, p := range expectedPosts(t, fake, engagement) {
		want[p.uri] = true
	}
	var mu sync.Mutex
	ctx, stopGen := context.WithCancel(context.Background())
	var gen sync.WaitGroup
	gen.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			uri, raw := liveStatus("scale", i, 5, 800000, i%6 == 5, fmt.Sprintf("<p>CVE-2026-%d</p>", 20000+i))
			if _, err := fake.Add(raw); err != nil {
				t.Error(err)
				return
			}
			if i%6 != 5 {
				mu.Lock()
				want[uri] = true
				mu.Unlock()
			}
			time.Sleep(time.Duration(20+rand.IntN(40)) * time.Millisecond)
		}
	})

	var keyOut bytes.Buffer
	keys := exec.Command(bin, "keys", "create", "--db", dsn, "--name", "scale")
	keys.Stdout = &keyOut
	must(t, keys.Run())
	key := strings.TrimSpace(keyOut.String())

	start := func(role, node, listen string) *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--db", dsn, "--listen", listen, "--instance", ts.URL, "--role", role,
			"--node-id", node, "--lease-ttl", "2s", "--poll-interval", "150ms", "--enrich=false", "--refresh-origins=false",
			"--cache-ttl", "100ms", "--log-level", "warn")
		cmd.Stderr = os.Stderr
		must(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	webAddr := freePort(t)
	ingesters := map[string]*exec.Cmd{
		"ingest-a": start(RoleIngest, "ingest-a", freePort(t)),
		"ingest-b": start(RoleIngest, "ingest-b", freePort(t)),
	}
	start(RoleWeb, "web", webAddr)

	// Half-way, kill whichever ingester polls the federated timeline.
	time.Sleep(3 * time.Second)
	access.mu.Lock()
	nodes := access.nodes["/api/v1/timelines/public"]
	access.mu.Unlock()
	if len(nodes) == 0 {
		t.Fatal("no ingester polled the federated timeline in 3 s")
	}
	victim := nodes[len(nodes)-1]
	killedAt := len(nodes)
	if ingesters[victim] == nil {
		t.Fatalf("the federated timeline was polled by %q, not by a leased ingester (polls: %v)", victim, compact(nodes))
	}
	must(t, ingesters[victim].Process.Signal(syscall.SIGKILL))
	ingesters[victim].Wait()
	time.Sleep(3 * time.Second)
	stopGen()
	gen.Wait()

	db, err := store.Open(context.Background(), dsn)
	must(t, err)
	defer db.Close()
	var got []string
	deadline := time.Now().Add(40 * time.Second)
	for {
		got, err = db.PostURIs(context.Background())
		must(t, err)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(got) != len(want) {
		t.Fatalf("stored %d posts, want %d", len(got), len(want))
	}
	for _, u := range got {
		if !want[u] {
			t.Errorf("stored a post that must not be: %s", u)
		}
	}

	access.mu.Lock()
	for feed, m := range access.max {
		if m > 1 {
			t.Errorf("%s was polled by %d processes at once", feed, m)
		}
		seq := access.nodes[feed]
		switches := 0
		for i := 1; i < len(seq); i++ {
			if seq[i] != seq[i-1] {
				switches++
			}
		}
		if switches > 1 {
			t.Errorf("%s: polls switched between processes %d times (want at most the one handover): %v", feed, switches, compact(seq))
		}
	}
	public := access.nodes["/api/v1/timelines/public"]
	access.mu.Unlock()
	survivor := "ingest-a"
	if victim == survivor {
		survivor = "ingest-b"
	}
	if !slices.Contains(public[killedAt:], survivor) {
		t.Fatalf("after %s was killed, %s never polled the federated timeline", victim, survivor)
	}
	t.Logf("%d posts stored once; %s killed after %d public polls; %s took over", len(got), victim, killedAt, survivor)

	// The same input through a single SQLite process answers the same.
	single := NewMain(Config{DB: filepath.Join(dir, "single.db"), Listen: "127.0.0.1:0", Instances: []string{ts.URL},
		PollInterval: 150 * time.Millisecond, CacheTTL: 100 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, single.Run(context.Background()))
	defer single.Close()
	deadline = time.Now().Add(40 * time.Second)
	for {
		n, _ := single.DB.PostCount(context.Background())
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var singleKey bytes.Buffer
	must(t, run(context.Background(), []string{"keys", "create", "--db", filepath.Join(dir, "single.db"), "--name", "s"}, &singleKey, io.Discard))
	multi := client{t: t, base: "http://" + webAddr, key: key}
	one := client{t: t, base: single.URL(), key: strings.TrimSpace(singleKey.String())}
	// Rankings age with the clock (the 12-hour penalty), so compare answers
	// taken moments apart, and retry once if a post crossed the line between.
	var a, b []string
	for try := 0; try < 3; try++ {
		time.Sleep(150 * time.Millisecond)
		a, b = nil, nil
		if s := multi.get("/api/v1/cves?days=7", &a); s != 200 {
			t.Fatalf("web process answered %d", s)
		}
		one.get("/api/v1/cves?days=7", &b)
		if slices.Equal(a, b) {
			break
		}
	}
	if !slices.Equal(a, b) || len(a) == 0 {
		t.Fatalf("multi-process answer differs from single-process:\n multi %v\nsingle %v", a, b)
	}
}

// compact shortens a node sequence to runs, for error messages.
func compact(seq []string) []string {
	var out []string
	for i, s := range seq {
		if i == 0 || s != seq[i-1] {
			out = append(out, s)
		}
	}
	return out
}
