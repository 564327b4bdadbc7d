package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/mastodon"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

const corpusPath = "../../testdata/corpus/corpus.jsonl"

// truth is what an independent reading of the corpus expects to be stored:
// eligible posts by uri, with their hand-checked CVE sets.
func truth(t *testing.T) map[string][]string {
	t.Helper()
	human := map[string][]string{}
	f, err := os.Open("../../testdata/corpus/corpus-truth.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var tr struct {
			ID        string   `json:"id"`
			HumanCVEs []string `json:"human_cves"`
		}
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		human[tr.ID] = tr.HumanCVEs
	}
	out := map[string][]string{}
	c, err := os.Open(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc = bufio.NewScanner(c)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p struct {
			ID, URI, Visibility string
			Account             struct {
				Bot          bool
				Discoverable *bool
				Noindex      *bool
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Visibility != "public" || p.Account.Bot || (p.Account.Discoverable != nil && !*p.Account.Discoverable) ||
			(p.Account.Noindex != nil && *p.Account.Noindex) {
			continue
		}
		out[p.URI] = human[p.ID]
	}
	return out
}

func corpus(t *testing.T) []fakefedi.Post {
	t.Helper()
	posts, err := fakefedi.LoadCorpusFile(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	return posts
}

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runIngester runs an ingester until stop is called.
func runIngester(t *testing.T, db *store.DB, instances ...string) (in *Ingester, stop func()) {
	t.Helper()
	in, err := New(Config{Instances: instances, PollInterval: 100 * time.Millisecond, MinBackoff: 100 * time.Millisecond, BackfillPages: 10, DiscoverEvery: time.Hour}, db, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Run(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return in, stop
}

// stored returns uri → CVE set of every stored post.
func stored(t *testing.T, db *store.DB) map[string][]string {
	t.Helper()
	ms, err := db.Mentions(context.Background(), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64][]string{}
	for _, m := range ms {
		byID[m.PostID] = append(byID[m.PostID], m.CVE)
	}
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.CVE] {
			continue
		}
		seen[m.CVE] = true
		posts, err := db.CVEPosts(context.Background(), m.CVE, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range posts {
			out[p.URI] = p.CVEs
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sameSets(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for uri, w := range want {
		g, ok := got[uri]
		if !ok {
			t.Errorf("missing post %s", uri)
			continue
		}
		slices.Sort(w)
		slices.Sort(g)
		if !slices.Equal(g, w) {
			t.Errorf("post %s: CVEs %v, want %v", uri, g, w)
		}
	}
	for uri := range got {
		if _, ok := want[uri]; !ok {
			t.Errorf("stored a post that must not be: %s", uri)
		}
	}
}

func TestIngestCorpus(t *testing.T) {
	want := truth(t)
	fake, ts := fakefedi.NewTestServer(t, corpus(t), fakefedi.Options{Engagement: fakefedi.SyntheticEngagement(1)})
	db := openDB(t, filepath.Join(t.TempDir(), "i.db"))
	in, stop := runIngester(t, db, ts.URL)
	waitFor(t, 15*time.Second, "every eligible post", func() bool {
		n, _ := db.PostCount(context.Background())
		return n >= len(want)
	})
	time.Sleep(300 * time.Millisecond) // a few more polls must add nothing
	stop()
	sameSets(t, stored(t, db), want)
	if n, _ := db.PostCount(context.Background()); n != len(want) {
		t.Fatalf("stored %d posts, want %d", n, len(want))
	}
	if got := in.Stats.Skipped()[SkipBot]; got == 0 {
		t.Errorf("bot skips not counted: %v", in.Stats.Skipped())
	}
	st, err := db.Feed(context.Background(), hostOf(ts.URL), FeedPublic)
	if err != nil || !st.Cursor.BackfillDone || st.Cursor.MinID == "" || st.PostsIngested != int64(len(want)) {
		t.Fatalf("feed state = %+v, %v", st, err)
	}
	// Forward polls carry the cursor; the backfill walked max_id.
	var minIDPolls int
	for _, r := range fake.Requests() {
		if r.Path == "/api/v1/timelines/public" && r.Query.Get("min_id") != "" {
			minIDPolls++
		}
	}
	if minIDPolls == 0 {
		t.Error("no forward poll used min_id")
	}
}

func TestIngestSurvivesFaults(t *testing.T) {
	want := truth(t)
	fake, ts := fakefedi.NewTestServer(t, corpus(t), fakefedi.Options{})
	fake.InjectFaults("/api/v1/timelines/public",
		fakefedi.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}, Body: `{"error":"Too many requests"}`},
		fakefedi.Fault{Status: 503, Body: "<html>down</html>"},
		fakefedi.Fault{Garbage: true},
		fakefedi.Fault{Truncate: true},
		fakefedi.Fault{Status: 200, Body: "<!doctype html><p>maintenance</p>"},
	)
	db := openDB(t, filepath.Join(t.TempDir(), "f.db"))
	_, stop := runIngester(t, db, ts.URL)
	waitFor(t, 40*time.Second, "every eligible post despite faults", func() bool {
		n, _ := db.PostCount(context.Background())
		return n >= len(want) && fake.PendingFaults() == 0
	})
	stop()
	sameSets(t, stored(t, db), want)
	// The 429 (the first fault) asked for a one-second pause; the other
	// failures back off exponentially from MinBackoff.
	reqs := fake.Requests()
	var faulted []int
	for i, r := range reqs {
		if r.Faulted {
			faulted = append(faulted, i)
		}
	}
	if len(faulted) != 5 {
		t.Fatalf("%d faulted requests, want 5", len(faulted))
	}
	if i := faulted[0]; i+1 < len(reqs) {
		if gap := reqs[i+1].Time.Sub(reqs[i].Time); gap < 900*time.Millisecond {
			t.Errorf("request after the 429 came after only %s, want >= 1s (Retry-After)", gap)
		}
	}
	for k := 1; k < len(faulted); k++ {
		if i := faulted[k]; i+1 < len(reqs) {
			if gap := reqs[i+1].Time.Sub(reqs[i].Time); gap < 50*time.Millisecond {
				t.Errorf("request after failure %d came after only %s: hot loop", k+1, gap)
			}
		}
	}
}

func TestRestartResumesWithoutGapsOrDuplicates(t *testing.T) {
	want := truth(t)
	fake, ts := fakefedi.NewTestServer(t, corpus(t), fakefedi.Options{})
	path := filepath.Join(t.TempDir(), "r.db")
	db := openDB(t, path)
	_, stop := runIngester(t, db, ts.URL)
	waitFor(t, 15*time.Second, "first run", func() bool {
		n, _ := db.PostCount(context.Background())
		return n >= len(want)
	})
	stop()

	// While cvecrowd is down, two new posts arrive.
	for i, id := range []string{"CVE-2026-1111", "CVE-2026-2222"} {
		uri := "https://fake.example/users/late/statuses/" + string(rune('1'+i))
		raw, _ := json.Marshal(map[string]any{
			"uri": uri, "url": uri, "visibility": "public", "created_at": time.Now().UTC().Format(time.RFC3339),
			"content": "<p>new: " + id + "</p>",
			"account": map[string]any{"id": "9", "username": "late", "acct": "late", "url": "https://fake.example/@late", "bot": false, "discoverable": true},
		})
		if _, err := fake.Add(raw); err != nil {
			t.Fatal(err)
		}
		want[uri] = []string{id}
	}
	fake.ResetRequests()
	_, stop = runIngester(t, db, ts.URL)
	waitFor(t, 15*time.Second, "posts made while down", func() bool {
		n, _ := db.PostCount(context.Background())
		return n >= len(want)
	})
	time.Sleep(300 * time.Millisecond)
	stop()
	sameSets(t, stored(t, db), want)
	for _, r := range fake.Requests() {
		if r.Path == "/api/v1/timelines/public" && r.Query.Get("min_id") == "" {
			t.Errorf("after restart the public feed was polled without a cursor: %v", r.Query)
		}
	}
}

func TestBoostIsItsOriginal(t *testing.T) {
	want := truth(t)
	fake, ts := fakefedi.NewTestServer(t, corpus(t), fakefedi.Options{ReblogsInPublicTimeline: true})
	var uri string
	for u := range want {
		uri = u
		break
	}
	booster := json.RawMessage(`{"id":"77","username":"booster","acct":"booster","url":"https://fake.example/@booster","bot":false}`)
	if _, err := fake.Boost(uri, booster); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, filepath.Join(t.TempDir(), "b.db"))
	_, stop := runIngester(t, db, ts.URL)
	waitFor(t, 15*time.Second, "corpus", func() bool {
		n, _ := db.PostCount(context.Background())
		return n >= len(want)
	})
	time.Sleep(200 * time.Millisecond)
	stop()
	got := stored(t, db)
	sameSets(t, got, want)
	for u := range got {
		if strings.Contains(u, "booster") || strings.HasSuffix(u, "/activity") {
			t.Errorf("boost wrapper stored as a post: %s", u)
		}
	}
}

func TestMalformedItemsSkippedGoodOnesKept(t *testing.T) {
	good := func(id, uri, cve string) string {
		return `{"id":"` + id + `","uri":"` + uri + `","url":"` + uri + `","created_at":"` + time.Now().UTC().Format(time.RFC3339) +
			`","visibility":"public","content":"<p>` + cve + `</p>","account":{"id":"1","acct":"a","url":"https://m.example/@a"}}`
	}
	page := "[" + good("300", "https://m.example/s/3", "CVE-2024-3094") + `,42,{"id":"200"},"x",` +
		good("100", "https://m.example/s/1", "CVE-2021-44228") + "]"
	ts := newStaticServer(t, page)
	db := openDB(t, filepath.Join(t.TempDir(), "m.db"))
	in, stop := runIngester(t, db, ts)
	waitFor(t, 20*time.Second, "the two good posts", func() bool {
		n, _ := db.PostCount(context.Background())
		return n >= 2
	})
	stop()
	if got := in.Stats.Skipped()[SkipMalformed]; got < 3 {
		t.Fatalf("malformed skips = %d, want at least 3", got)
	}
}

func TestEligibility(t *testing.T) {
	f, tr := false, true
	tests := []struct {
		name string
		s    mastodon.Status
		want string
	}{
		{"public human", mastodon.Status{Visibility: "public"}, ""},
		{"unlisted", mastodon.Status{Visibility: "unlisted"}, SkipNotPublic},
		{"private", mastodon.Status{Visibility: "private"}, SkipNotPublic},
		{"bot", mastodon.Status{Visibility: "public", Account: mastodon.Account{Bot: true}}, SkipBot},
		{"not discoverable", mastodon.Status{Visibility: "public", Account: mastodon.Account{Discoverable: &f}}, SkipNotDiscoverable},
		{"discoverable unknown", mastodon.Status{Visibility: "public", Account: mastodon.Account{Discoverable: nil}}, ""},
		{"noindex", mastodon.Status{Visibility: "public", Account: mastodon.Account{Noindex: &tr}}, SkipNoindex},
		{"nobot in note", mastodon.Status{Visibility: "public", Account: mastodon.Account{Note: `<p>hi <a href="https://x/tags/nobot" class="mention hashtag">#<span>nobot</span></a></p>`}}, SkipOptOutTag},
		{"NoIndex in note", mastodon.Status{Visibility: "public", Account: mastodon.Account{Note: "<p>#NoIndex please</p>"}}, SkipOptOutTag},
		{"nobotanist is not nobot", mastodon.Status{Visibility: "public", Account: mastodon.Account{Note: "<p>#nobotanist</p>"}}, ""},
		{"huge", mastodon.Status{Visibility: "public", Content: strings.Repeat("a", MaxContent+1)}, SkipTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Eligibility(&tt.s); got != tt.want {
				t.Errorf("Eligibility = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n < 20; n++ {
		d := backoff(n, time.Second, time.Minute)
		if d < time.Second/2 || d > time.Minute+time.Minute/4 {
			t.Fatalf("backoff(%d) = %s out of bounds", n, d)
		}
	}
	if backoff(1, 10*time.Second, time.Hour) > backoff(8, 10*time.Second, time.Hour) {
		t.Fatal("backoff does not grow")
	}
}

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9", "10", -1},
		{"115000000000000000", "114999999999999999", 1},
		{"AbC", "AbC", 0},
		{"", "1", -1},
	}
	for _, tt := range tests {
		if got := compareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("compareIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestIsCVETag(t *testing.T) {
	for tag, want := range map[string]bool{
		"cve20243094": true, "cve_2024_3094": true, "cve2024_3094": true, "cve": false, "cvecrowd": false,
		"cve20243094exploit": false, "cve202412345": true,
	} {
		if got := isCVETag(tag); got != want {
			t.Errorf("isCVETag(%q) = %v, want %v", tag, got, want)
		}
	}
}
