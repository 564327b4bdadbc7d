package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

// post is a post for fakefedi.Add with a fixed uri and author.
func fakePost(t *testing.T, uri, content string, account map[string]any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"uri": uri, "url": uri, "visibility": "public", "content": content, "account": account,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func human(name string) map[string]any {
	return map[string]any{"id": "5" + name, "username": name, "acct": name, "url": "https://fake.example/@" + name, "bot": false, "discoverable": true}
}

// TestFaultScenario runs two instances that deliver overlapping posts (same
// uri, different local ids) through polls, search and a faulty stream, and
// checks that the store ends up holding exactly the eligible posts with
// the fakes' final CVE sets and counts.
func TestFaultScenario(t *testing.T) {
	want := truth(t)
	posts := corpus(t)
	// B's clock is an hour behind, so its snowflakes (local ids) differ
	// from A's for the same posts.
	fa, tsA := fakefedi.NewTestServer(t, posts, fakefedi.Options{RateLimit: 1 << 20})
	fb, tsB := fakefedi.NewTestServer(t, posts, fakefedi.Options{RateLimit: 1 << 20, Domain: "b.example", Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	fa.SetStream(fakefedi.StreamConfig{Token: "secret-token-A", DropEvery: 3, GarbageEvery: 2, Heartbeat: 100 * time.Millisecond})
	fb.InjectFaults("/api/v1/timelines/public",
		fakefedi.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}},
		fakefedi.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}},
		fakefedi.Fault{Status: 502}, fakefedi.Fault{Status: 503}, fakefedi.Fault{Status: 500},
		fakefedi.Fault{Garbage: true},
	)

	db := openDB(t, filepath.Join(t.TempDir(), "s.db"))
	in, err := New(Config{
		Sources: []Source{
			{URL: tsA.URL, Token: "secret-token-A", Feeds: []string{FeedPublic, FeedTagCVE, FeedStream}},
			{URL: tsB.URL, Feeds: []string{FeedPublic, FeedTagCVE, FeedSearch}},
		},
		PollInterval: 150 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		BackfillPages: 10, DiscoverEvery: time.Hour,
		StreamIdle:   400 * time.Millisecond,
		RefreshSteps: []time.Duration{200 * time.Millisecond, 300 * time.Millisecond}, RefreshEvery: 100 * time.Millisecond,
		RefreshRate: 200,
	}, db, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	count := func() int { n, _ := db.PostCount(context.Background()); return n }
	waitFor(t, 20*time.Second, "the corpus from both instances", func() bool { return count() >= len(want) && fb.PendingFaults() == 0 })
	waitFor(t, 20*time.Second, "the stream to connect", func() bool { return fa.StreamConnections() > 0 })
	time.Sleep(300 * time.Millisecond)

	// A new post reaches both instances (same uri, different local ids),
	// by stream on A and by poll and search on B; it is boosted on both.
	p1 := "https://fake.example/users/alice/statuses/900001"
	for _, f := range []*fakefedi.Server{fa, fb} {
		if _, err := f.Add(fakePost(t, p1, "<p>patch CVE-2026-1111 now</p>", human("alice"))); err != nil {
			t.Fatal(err)
		}
	}
	booster := json.RawMessage(`{"id":"77","username":"booster","acct":"booster","url":"https://fake.example/@booster"}`)
	for _, f := range []*fakefedi.Server{fa, fb} {
		if _, err := f.Boost(p1, booster); err != nil {
			t.Fatal(err)
		}
	}
	// A bot and an opted-out account post CVEs: never stored.
	bot := human("botty")
	bot["bot"] = true
	optout := human("private")
	optout["note"] = `<p>please <a href="https://x/tags/nobot" class="mention hashtag">#<span>nobot</span></a></p>`
	for _, f := range []*fakefedi.Server{fa, fb} {
		f.Add(fakePost(t, "https://fake.example/users/botty/statuses/1", "<p>CVE-2026-3333</p>", bot))
		f.Add(fakePost(t, "https://fake.example/users/private/statuses/1", "<p>CVE-2026-4444</p>", optout))
	}
	want[p1] = []string{"CVE-2026-1111"}
	waitFor(t, 20*time.Second, "the new post", func() bool { return count() >= len(want) })
	// Chatter (no CVE) until a malformed frame has gone by and been skipped.
	chatter := 0
	waitFor(t, 20*time.Second, "a malformed stream frame", func() bool {
		if in.Stats.Skipped()[SkipMalformed] > 0 {
			return true
		}
		chatter++
		fa.Add(fakePost(t, fmt.Sprintf("https://fake.example/users/chat/statuses/%d", chatter), "<p>hello</p>", human("chat")))
		return false
	})

	// The stream is steady again (drops and garbage lose events in the
	// reconnect gaps, which only polls and refreshes recover) so that the
	// edit and the delete below go over it.
	fa.SetStream(fakefedi.StreamConfig{Token: "secret-token-A", Heartbeat: 100 * time.Millisecond})
	conns := fa.StreamConnections()
	fa.Add(fakePost(t, "https://fake.example/users/carol/statuses/1", "<p>no CVE here</p>", human("carol")))
	waitFor(t, 20*time.Second, "a steady stream", func() bool {
		return fa.StreamConnections() > conns || in.Stats.Skipped()[SkipNoCVE] > 0
	})
	time.Sleep(200 * time.Millisecond)

	// The edit removes one CVE and adds another.
	for _, f := range []*fakefedi.Server{fa, fb} {
		if err := f.Edit(p1, "<p>sorry, I meant CVE-2026-2222</p>"); err != nil {
			t.Fatal(err)
		}
	}
	want[p1] = []string{"CVE-2026-2222"}

	// A corpus post is deleted on A only (B still serves it, and B's
	// search keeps returning it): the tombstone must keep it out.
	// The victim is the newest post B's search finds, so that search
	// re-delivers it on every round.
	var victim, counted string
	var newest time.Time
	for _, p := range posts {
		if _, ok := want[p.URI]; ok && strings.Contains(strings.ToUpper(p.Content), "CVE-") && p.CreatedAt.After(newest) {
			victim, newest = p.URI, p.CreatedAt
		}
	}
	for _, p := range posts {
		if _, ok := want[p.URI]; ok && p.URI != victim {
			counted = p.URI
			break
		}
	}
	if err := fa.Delete(victim); err != nil {
		t.Fatal(err)
	}
	delete(want, victim)
	for _, f := range []*fakefedi.Server{fa, fb} {
		f.SetCounts(counted, 7, 11, 2)
	}
	waitFor(t, 20*time.Second, "the edit and the delete over the stream", func() bool {
		h, _ := in.Health(context.Background(), db)
		return h.Events["status.update"] > 0 && h.Events["delete"] > 0
	})

	// The stream stalls (no bytes at all) while a post arrives; the
	// watchdog must declare it dead, and the poller fills the gap.
	fa.SetStream(fakefedi.StreamConfig{Token: "secret-token-A", Stall: true})
	p2 := "https://fake.example/users/bob/statuses/900002"
	fa.Add(fakePost(t, p2, "<p>CVE-2026-5555 while the stream is stalled</p>", human("bob")))
	want[p2] = []string{"CVE-2026-5555"}
	reconnects := func() int64 {
		h, _ := in.Health(context.Background(), db)
		for _, f := range h.Feeds {
			if f.Feed == FeedStream {
				return f.Reconnects + f.Errors
			}
		}
		return 0
	}
	before := reconnects()
	waitFor(t, 20*time.Second, "the stalled stream to be declared dead", func() bool { return reconnects() > before })
	fa.SetStream(fakefedi.StreamConfig{Token: "secret-token-A", DropEvery: 3, Heartbeat: 100 * time.Millisecond})

	var why string
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := stored(t, db)
		r, f, err := db.PostCounts(context.Background(), counted)
		_, has := got[victim]
		switch {
		case len(got) != len(want):
			why = fmt.Sprintf("%d posts stored, want %d", len(got), len(want))
		case !slices.Equal(got[p1], want[p1]):
			why = fmt.Sprintf("edited post has %v", got[p1])
		case has:
			why = "the deleted post is still stored"
		case err != nil || r != 7 || f != 11:
			why = fmt.Sprintf("counts %d/%d, %v", r, f, err)
		default:
			why = ""
		}
		if why == "" {
			break
		}
		if time.Now().After(deadline) {
			sameSets(t, got, want)
			t.Fatalf("final state not reached: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let a few more rounds of search and refresh try to bring the victim back.
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()

	got := stored(t, db)
	sameSets(t, got, want)
	if n := count(); n != len(want) {
		t.Errorf("stored %d posts, want %d", n, len(want))
	}
	if dead, _ := db.Tombstoned(context.Background(), victim); !dead {
		t.Error("deleted post has no tombstone")
	}
	// Every stored post carries the fakes' final counts: the corpus has
	// none, p1 has the one boost, counted had its counts set.
	for uri := range got {
		wr, wf := 0, 0
		switch uri {
		case p1:
			wr = 1
		case counted:
			wr, wf = 7, 11
		}
		if r, f, err := db.PostCounts(context.Background(), uri); err != nil || r != wr || f != wf {
			t.Errorf("%s: counts %d/%d (%v), want %d/%d", uri, r, f, err, wr, wf)
		}
	}
	h, err := in.Health(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if h.Skipped[SkipBot] == 0 || h.Skipped[SkipOptOutTag] == 0 || h.Skipped[SkipMalformed] == 0 {
		t.Errorf("skips not counted per rule: %v", h.Skipped)
	}
	if h.Events["update"] == 0 || h.Events["delete"] == 0 || h.Events["status.update"] == 0 {
		t.Errorf("stream events: %v", h.Events)
	}
	if h.Tombstoned == 0 {
		t.Error("the tombstone never refused a re-delivery")
	}
	if h.Refreshed["ok"] == 0 {
		t.Errorf("refreshes: %v", h.Refreshed)
	}
	st, err := db.Feed(context.Background(), hostOf(tsA.URL), FeedStream)
	if err != nil || st.PostsIngested == 0 && h.Events["update"] == 0 {
		t.Errorf("stream feed state %+v, %v", st, err)
	}
	for _, fh := range h.Feeds {
		if fh.LastError != "" && containsToken(fh.LastError) {
			t.Errorf("token leaked into health: %s", fh.LastError)
		}
	}
}

func containsToken(s string) bool {
	return strings.Contains(s, "secret-token-A")
}

// TestStreamFallsBackToSSE: a server whose WebSocket endpoint is missing
// is followed over Server-Sent Events instead, edits and deletes included.
func TestStreamFallsBackToSSE(t *testing.T) {
	fake, ts := fakefedi.NewTestServer(t, corpus(t), fakefedi.Options{RateLimit: 1 << 20})
	fake.SetStream(fakefedi.StreamConfig{NoWebSocket: true, Heartbeat: 100 * time.Millisecond})
	db := openDB(t, filepath.Join(t.TempDir(), "sse.db"))
	in, err := New(Config{Sources: []Source{{URL: ts.URL, Feeds: []string{FeedStream}}}, StreamIdle: time.Second, MinBackoff: 50 * time.Millisecond}, db, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	waitFor(t, 20*time.Second, "the SSE stream", func() bool { return fake.StreamConnections() > 0 })
	time.Sleep(100 * time.Millisecond)
	uri := "https://fake.example/users/sse/statuses/1"
	if _, err := fake.Add(fakePost(t, uri, "<p>CVE-2026-7777</p>", human("sse"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the post over SSE", func() bool { return slices.Equal(stored(t, db)[uri], []string{"CVE-2026-7777"}) })
	if err := fake.Edit(uri, "<p>CVE-2026-8888</p>"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the edit over SSE", func() bool { return slices.Equal(stored(t, db)[uri], []string{"CVE-2026-8888"}) })
	if err := fake.Delete(uri); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the delete over SSE", func() bool {
		dead, _ := db.Tombstoned(context.Background(), uri)
		return dead
	})
	if n, _ := db.PostCount(context.Background()); n != 0 {
		t.Errorf("%d posts stored; the stream-only feed had one post, deleted", n)
	}
}
