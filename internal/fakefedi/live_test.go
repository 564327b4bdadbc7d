package fakefedi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func top(t *testing.T, page []apiStatus) string {
	t.Helper()
	if len(page) == 0 {
		t.Fatal("empty timeline")
	}
	return page[0].ID
}

func TestLiveChanges(t *testing.T) {
	clk := &clock{t: testNow}
	srv, ts := newServer(t, fakefedi.Options{Now: clk.Now})
	before, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40")
	oldTop := top(t, before)

	// Add: a newer id, visible to a since_id poller, created now.
	clk.Advance(time.Minute)
	added := `{"uri":"https://infosec.exchange/users/tester/statuses/1","url":"https://infosec.exchange/@tester/1",
		"created_at":"2001-01-01T00:00:00Z","id":"999","_secret":"x",
		"content":"<p>New CVE-2026-0001 <a href=\"https://infosec.exchange/tags/CVE20260001\" class=\"mention hashtag\">#<span>CVE20260001</span></a></p>",
		"account":{"id":"5","username":"tester","acct":"tester@infosec.exchange","url":"https://infosec.exchange/@tester","bot":true}}`
	addID, err := srv.Add(json.RawMessage(added))
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := getStatuses(t, ts, "/api/v1/timelines/public?since_id="+oldTop)
	if len(fresh) != 1 || fresh[0].ID != addID {
		t.Fatalf("since_id poll after Add = %+v", fresh)
	}
	if got := fresh[0].created(t); !got.Equal(clk.Now()) {
		t.Errorf("added created_at %v, want now %v", got, clk.Now())
	}
	if !fresh[0].hasTag("cve20260001") {
		t.Errorf("added post tags %+v", fresh[0].Tags)
	}
	if tl, _ := getStatuses(t, ts, "/api/v1/timelines/tag/CVE20260001"); len(tl) != 1 {
		t.Errorf("tag timeline of the added post has %d statuses", len(tl))
	}
	if _, err := srv.Add(json.RawMessage(added)); err == nil {
		t.Error("Add accepted a duplicate uri")
	}

	// A minimal post gets a minted local uri/url and default account.
	minID, err := srv.Add(json.RawMessage(`{"content":"bare"}`))
	if err != nil {
		t.Fatal(err)
	}
	minimal, code := getStatus(t, ts, minID)
	if code != 200 || !strings.HasPrefix(minimal.URI, "https://fake.example/users/fakefedi/statuses/") || minimal.Account.Username != "fakefedi" {
		t.Errorf("minimal post served as %+v (%d)", minimal, code)
	}
	if local, _ := getStatuses(t, ts, "/api/v1/timelines/public?local=1"); len(local) != 1 || local[0].ID != minID {
		t.Errorf("local timeline = %+v, want only the minimal local post", local)
	}

	// AddAt: a late federated post gets an id from its own time and sorts
	// below the top, where a since_id poller never looks.
	lateAt := before[len(before)/2].created(t).Add(time.Second)
	lateID, err := srv.AddAt(json.RawMessage(`{"uri":"https://late.example/1","content":"late"}`), lateAt)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := getStatuses(t, ts, "/api/v1/timelines/public?since_id="+addID); len(again) != 1 || again[0].ID != minID {
		t.Errorf("since_id poll after AddAt = %+v, want only the minimal post", again)
	}
	if late, code := getStatus(t, ts, lateID); code != 200 || !late.created(t).Equal(lateAt) {
		t.Errorf("late post = %+v (%d)", late, code)
	}

	// Edit: content, edited_at and tags change; id and place do not.
	target := loadCorpus(t)[10]
	id, _ := srv.LocalID(target.URI)
	clk.Advance(time.Minute)
	newContent := `<p>edited <a href="https://x.example/tags/Patched">#Patched</a></p>`
	if err := srv.Edit(target.URI, newContent); err != nil {
		t.Fatal(err)
	}
	edited, _ := getStatus(t, ts, id)
	if edited.Content != newContent || edited.EditedAt == nil || *edited.EditedAt != clk.Now().Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("edited status = %+v", edited)
	}
	if !edited.hasTag("patched") || len(edited.Tags) != 1 {
		t.Errorf("edited tags = %+v", edited.Tags)
	}

	// Boost: a wrapper with its own id whose reblog is the original.
	booster := json.RawMessage(`{"id":"77","username":"booster","acct":"booster@mastodon.social","url":"https://mastodon.social/@booster"}`)
	boostID, err := srv.Boost(target.URI, booster)
	if err != nil {
		t.Fatal(err)
	}
	wrapper, code := getStatus(t, ts, boostID)
	if code != 200 || wrapper.Content != "" || wrapper.Reblog == nil || wrapper.Reblog.URI != target.URI || wrapper.Reblog.ID != id {
		t.Fatalf("boost wrapper = %+v (%d)", wrapper, code)
	}
	if wrapper.URI == target.URI || !strings.HasSuffix(wrapper.URI, "/activity") || wrapper.Account.Username != "booster" {
		t.Errorf("wrapper identity = %s by %s", wrapper.URI, wrapper.Account.Username)
	}
	if orig, _ := getStatus(t, ts, id); orig.ReblogsCount != 1 {
		t.Errorf("original reblogs_count = %d, want 1", orig.ReblogsCount)
	}
	// Like Mastodon, public timelines leave reblogs out.
	if tl, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=1"); tl[0].ID == boostID {
		t.Error("boost wrapper on the public timeline by default")
	}

	// Delete: 404 and gone everywhere, boosts included.
	if err := srv.Delete(target.URI); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{id, boostID} {
		if _, code := getStatus(t, ts, gone); code != 404 {
			t.Errorf("deleted %s answers %d", gone, code)
		}
	}
	all, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40")
	more, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40&max_id="+all[len(all)-1].ID)
	for _, st := range append(all, more...) {
		if st.URI == target.URI {
			t.Error("deleted status still on the timeline")
		}
	}
	if len(all)+len(more) != len(loadCorpus(t))+3-1 {
		t.Errorf("timeline has %d statuses after 3 adds and 1 delete", len(all)+len(more))
	}

	for name, err := range map[string]error{
		"Edit":      srv.Edit(target.URI, "x"),
		"Delete":    srv.Delete(target.URI),
		"SetCounts": srv.SetCounts("nope", 1, 1, 1),
	} {
		if !errors.Is(err, fakefedi.ErrUnknownStatus) {
			t.Errorf("%s on a deleted/unknown status: %v", name, err)
		}
	}
	if _, err := srv.Boost("nope", nil); !errors.Is(err, fakefedi.ErrUnknownStatus) {
		t.Errorf("Boost unknown: %v", err)
	}
}

func TestBoostsInPublicTimelineOption(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{ReblogsInPublicTimeline: true})
	uri := loadCorpus(t)[0].URI
	boostID, err := srv.Boost(uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	tl, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=1")
	if tl[0].ID != boostID || tl[0].Reblog == nil || tl[0].Reblog.URI != uri {
		t.Fatalf("top of timeline = %+v", tl[0])
	}
	// Un-boost by deleting the wrapper.
	if err := srv.Delete(tl[0].URI); err != nil {
		t.Fatal(err)
	}
	id, _ := srv.LocalID(uri)
	if st, _ := getStatus(t, ts, id); st.ReblogsCount != 0 {
		t.Errorf("reblogs_count after un-boost = %d", st.ReblogsCount)
	}
}

func TestEngagement(t *testing.T) {
	posts := loadCorpus(t)
	counts := func(eng fakefedi.EngagementFunc) map[string][3]int {
		srv, ts := fakefedi.NewTestServer(t, posts, fakefedi.Options{Now: fixedNow, Engagement: eng})
		out := map[string][3]int{}
		for _, p := range posts {
			id, _ := srv.LocalID(p.URI)
			st, _ := getStatus(t, ts, id)
			out[p.URI] = [3]int{st.ReblogsCount, st.FavouritesCount, st.RepliesCount}
		}
		return out
	}

	t.Run("default is none", func(t *testing.T) {
		for uri, c := range counts(nil) {
			if c != [3]int{} {
				t.Fatalf("%s has counts %v without an Engagement option", uri, c)
			}
		}
	})
	t.Run("synthetic", func(t *testing.T) {
		a, b, other := counts(fakefedi.SyntheticEngagement(42)), counts(fakefedi.SyntheticEngagement(42)), counts(fakefedi.SyntheticEngagement(43))
		zeros, differ := 0, 0
		for uri, c := range a {
			if b[uri] != c {
				t.Errorf("%s: not deterministic: %v vs %v", uri, c, b[uri])
			}
			if other[uri] != c {
				differ++
			}
			if c[0] < 0 || c[0] > 30 || c[1] < c[0] || c[1] > 80 || c[2] < 0 || c[2] > 10 {
				t.Errorf("%s: counts out of range: %v", uri, c)
			}
			if c[0] == 0 && c[1] == 0 {
				zeros++
			}
		}
		if share := float64(zeros) / float64(len(a)); share < 0.10 || share > 0.45 {
			t.Errorf("%d of %d posts without engagement, want about a quarter", zeros, len(a))
		}
		if differ < len(a)/2 {
			t.Errorf("seed 43 changes only %d of %d posts", differ, len(a))
		}
	})
	t.Run("SetCounts", func(t *testing.T) {
		srv, ts := newServer(t, fakefedi.Options{Engagement: fakefedi.SyntheticEngagement(1)})
		uri := posts[5].URI
		if err := srv.SetCounts(uri, 3, 14, 15); err != nil {
			t.Fatal(err)
		}
		id, _ := srv.LocalID(uri)
		st, _ := getStatus(t, ts, id)
		if st.ReblogsCount != 3 || st.FavouritesCount != 14 || st.RepliesCount != 15 {
			t.Errorf("counts = %d/%d/%d", st.ReblogsCount, st.FavouritesCount, st.RepliesCount)
		}
	})
}

func TestFaults(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{})
	srv.InjectFaults("/api/v1/timelines",
		fakefedi.Fault{Status: 503, Body: "<html>upstream down</html>", Header: http.Header{"Content-Type": {"text/html"}}},
		fakefedi.Fault{Status: 429, Header: http.Header{"Retry-After": {"7"}}},
		fakefedi.Fault{Garbage: true},
		fakefedi.Fault{Truncate: true},
		fakefedi.Fault{Delay: 20 * time.Millisecond, Header: http.Header{"X-RateLimit-Remaining": {"0"}}},
	)
	srv.InjectFaults("/api/v1/statuses/", fakefedi.Fault{Status: 500})

	// A request on another path does not consume the timeline faults.
	if resp, _ := get(t, ts, "/api/v2/instance"); resp.StatusCode != 200 {
		t.Fatalf("instance got a fault: %d", resp.StatusCode)
	}

	type check func(t *testing.T, resp *http.Response, body []byte, took time.Duration)
	wantStatus := func(code int) check {
		return func(t *testing.T, resp *http.Response, _ []byte, _ time.Duration) {
			if resp.StatusCode != code {
				t.Fatalf("status %d, want %d", resp.StatusCode, code)
			}
		}
	}
	steps := []struct {
		name   string
		checks []check
	}{
		{"503 with body and header", []check{wantStatus(503), func(t *testing.T, resp *http.Response, body []byte, _ time.Duration) {
			if string(body) != "<html>upstream down</html>" || resp.Header.Get("Content-Type") != "text/html" {
				t.Errorf("body %q, type %q", body, resp.Header.Get("Content-Type"))
			}
		}}},
		{"429 with Retry-After", []check{wantStatus(429), func(t *testing.T, resp *http.Response, body []byte, _ time.Duration) {
			if resp.Header.Get("Retry-After") != "7" || string(body) != `{"error":"Too many requests"}` {
				t.Errorf("Retry-After %q, body %s", resp.Header.Get("Retry-After"), body)
			}
		}}},
		{"garbage", []check{wantStatus(200), func(t *testing.T, _ *http.Response, body []byte, _ time.Duration) {
			if json.Valid(body) || len(body) == 0 {
				t.Errorf("garbage body is valid JSON: %q", body)
			}
		}}},
		{"truncated", []check{wantStatus(200), func(t *testing.T, _ *http.Response, body []byte, _ time.Duration) {
			var v []any
			if err := json.Unmarshal(body, &v); err == nil || !strings.HasPrefix(string(body), `[{"id":"`) {
				t.Errorf("truncated body decodes (%v) or is not a cut timeline: %.40q", err, body)
			}
		}}},
		{"delayed", []check{wantStatus(200), func(t *testing.T, resp *http.Response, body []byte, took time.Duration) {
			if took < 20*time.Millisecond || !json.Valid(body) || resp.Header.Get("X-RateLimit-Remaining") != "0" {
				t.Errorf("took %v, valid %v, remaining %q", took, json.Valid(body), resp.Header.Get("X-RateLimit-Remaining"))
			}
		}}},
		{"back to normal", []check{wantStatus(200), func(t *testing.T, _ *http.Response, body []byte, _ time.Duration) {
			if !json.Valid(body) {
				t.Error("normal answer is not JSON")
			}
		}}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			start := time.Now()
			resp, body := get(t, ts, "/api/v1/timelines/public?limit=3")
			for _, c := range step.checks {
				c(t, resp, body, time.Since(start))
			}
		})
	}
	if resp, _ := get(t, ts, "/api/v1/statuses/1"); resp.StatusCode != 500 {
		t.Errorf("statuses fault: %d", resp.StatusCode)
	}
	if n := srv.PendingFaults(); n != 0 {
		t.Errorf("%d faults left", n)
	}
	var faulted int
	for _, r := range srv.Requests() {
		if r.Faulted {
			faulted++
		}
	}
	if faulted != 6 {
		t.Errorf("%d requests marked Faulted, want 6", faulted)
	}
}

func TestFaultAbortAndHang(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{})

	srv.InjectFaults("", fakefedi.Fault{Abort: true})
	resp, err := ts.Client().Get(ts.URL + "/api/v1/timelines/public")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("aborted answer: err = %v, want unexpected EOF", err)
	}

	// Three hanging requests in flight at once; released by the client.
	srv.InjectFaults("/api/v2/search", fakefedi.Fault{Hang: true}, fakefedi.Fault{Hang: true}, fakefedi.Fault{Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/v2/search?q=x", nil)
			resp, err := ts.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	deadline := time.Now().Add(time.Second)
	for srv.MaxConcurrent("/api/v2/search/") < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("hung request ended with %v", err)
		}
	}
	if got := srv.MaxConcurrent("/api/v2/search"); got != 3 {
		t.Errorf("MaxConcurrent = %d, want 3", got)
	}
	if got := srv.MaxConcurrent("/api/v2/instance"); got != 0 {
		t.Errorf("MaxConcurrent of an unused path = %d", got)
	}

	// A hang left to the cleanup is released by Server.Close, so the test
	// ends instead of blocking in httptest.Server.Close.
	srv.InjectFaults("", fakefedi.Fault{Hang: true})
	go func() {
		resp, err := ts.Client().Get(ts.URL + "/api/v2/instance")
		if err == nil {
			resp.Body.Close()
		}
	}()
}

func TestRateLimitHeaders(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	for i, want := range []string{"299", "298", "297"} {
		resp, _ := get(t, ts, "/api/v1/streaming/health")
		if got := resp.Header.Get("X-RateLimit-Remaining"); got != want {
			t.Errorf("request %d: remaining %q, want %q", i, got, want)
		}
		if got := resp.Header.Get("X-RateLimit-Limit"); got != "300" {
			t.Errorf("limit %q", got)
		}
		// testNow sits on a 5-minute boundary, so the window ends 5 minutes later.
		if got := resp.Header.Get("X-RateLimit-Reset"); got != "2026-08-01T14:05:00.000000Z" {
			t.Errorf("reset %q", got)
		}
	}

	t.Run("enforced", func(t *testing.T) {
		_, ts := newServer(t, fakefedi.Options{RateLimit: 2, EnforceRateLimit: true})
		codes := []int{}
		for range 3 {
			resp, body := get(t, ts, "/api/v1/timelines/public?limit=1")
			codes = append(codes, resp.StatusCode)
			if resp.StatusCode == 429 && (string(body) != `{"error":"Too many requests"}` || resp.Header.Get("X-RateLimit-Remaining") != "0") {
				t.Errorf("429 body %s remaining %q", body, resp.Header.Get("X-RateLimit-Remaining"))
			}
		}
		if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
			t.Errorf("codes %v, want [200 200 429]", codes)
		}
		// Another token has its own budget.
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/timelines/public?limit=1", nil)
		req.Header.Set("Authorization", "Bearer other")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Remaining") != "1" {
			t.Errorf("token request: %d, remaining %q", resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
		}
	})
}

func TestInstance(t *testing.T) {
	tests := []struct {
		name          string
		opts          fakefedi.Options
		path          string
		wantDomain    string
		wantTitle     string
		wantStreaming string // "{host}" is replaced by the test server's host
	}{
		{"defaults", fakefedi.Options{}, "/api/v2/instance", "fake.example", "fakefedi", "ws://{host}"},
		{"trailing slash, as Mastodon.py asks", fakefedi.Options{}, "/api/v2/instance/", "fake.example", "fakefedi", "ws://{host}"},
		{"custom", fakefedi.Options{Domain: "infosec.example", Title: "Infosec", StreamingURL: "wss://streaming.infosec.example"},
			"/api/v2/instance", "infosec.example", "Infosec", "wss://streaming.infosec.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newServer(t, tt.opts)
			resp, body := get(t, ts, tt.path)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var inst struct {
				Domain        string `json:"domain"`
				Title         string `json:"title"`
				Version       string `json:"version"`
				Configuration struct {
					URLs struct {
						Streaming string `json:"streaming"`
						About     string `json:"about"`
					} `json:"urls"`
					Statuses struct {
						MaxCharacters int `json:"max_characters"`
					} `json:"statuses"`
					TimelinesAccess struct {
						LiveFeeds map[string]string `json:"live_feeds"`
					} `json:"timelines_access"`
				} `json:"configuration"`
			}
			if err := json.Unmarshal(body, &inst); err != nil {
				t.Fatal(err)
			}
			host := strings.TrimPrefix(ts.URL, "http://")
			want := strings.ReplaceAll(tt.wantStreaming, "{host}", host)
			c := inst.Configuration
			if inst.Domain != tt.wantDomain || inst.Title != tt.wantTitle || inst.Version != "4.6.4" ||
				c.URLs.Streaming != want || c.URLs.About != ts.URL+"/about" ||
				c.Statuses.MaxCharacters != 500 || c.TimelinesAccess.LiveFeeds["remote"] != "public" {
				t.Errorf("instance = %+v", inst)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{})
	post := loadCorpus(t)[7]
	type result struct {
		Accounts []json.RawMessage `json:"accounts"`
		Statuses []apiStatus       `json:"statuses"`
		Hashtags []struct {
			Name    string            `json:"name"`
			URL     string            `json:"url"`
			History []json.RawMessage `json:"history"`
		} `json:"hashtags"`
	}
	tests := []struct {
		query        string
		wantStatuses int // -1: at least one
		wantTags     []string
		wantFirstTag string
		wantAllTags  int
	}{
		{"q=cve&type=hashtags", 0, []string{"cve20234966", "cve_2025_26465"}, "cve", 17},
		{"q=CVE&type=hashtags&limit=2", 0, nil, "cve", 2},
		{"q=%23KEV&type=hashtags", 0, []string{"kev"}, "kev", 1},
		{"q=CVE-2025-54418&type=statuses", 2, nil, "", 0},
		{"q=citrix", 2, []string{"citrixbleed"}, "", 1},
		{"q=" + post.URL + "&type=statuses", 1, nil, "", 0},
		{"q=", 0, nil, "", 0},
		{"q=cve&type=accounts", 0, nil, "", 0},
		{"q=zzzzzz", 0, nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := get(t, ts, "/api/v2/search?"+tt.query)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var r result
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Accounts == nil || r.Statuses == nil || r.Hashtags == nil {
				t.Errorf("missing arrays in %s", body)
			}
			if len(r.Statuses) != tt.wantStatuses {
				t.Errorf("%d statuses, want %d", len(r.Statuses), tt.wantStatuses)
			}
			if len(r.Hashtags) != tt.wantAllTags {
				t.Errorf("%d hashtags, want %d", len(r.Hashtags), tt.wantAllTags)
			}
			names := map[string]bool{}
			for _, h := range r.Hashtags {
				names[h.Name] = true
				if h.History == nil || h.URL != "https://fake.example/tags/"+h.Name {
					t.Errorf("hashtag entity %+v", h)
				}
			}
			for _, want := range tt.wantTags {
				if !names[want] {
					t.Errorf("hashtag %q not found in %v", want, names)
				}
			}
			if tt.wantFirstTag != "" && r.Hashtags[0].Name != tt.wantFirstTag {
				t.Errorf("first hashtag %q, want exact match %q", r.Hashtags[0].Name, tt.wantFirstTag)
			}
		})
	}
	if got := len(srv.Tags()); got != 61 {
		t.Errorf("corpus has %d derived tags, want 61", got)
	}
}

func TestHealthAndRequestLog(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{})
	resp, body := get(t, ts, "/api/v1/streaming/health")
	if resp.StatusCode != 200 || string(body) != "OK" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("health: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/timelines/tag/cve/?limit=5&local=1", nil)
	req.Header.Set("Authorization", "Bearer t")
	if resp, err := ts.Client().Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests logged", len(reqs))
	}
	r := reqs[1]
	if r.Method != "GET" || r.Path != "/api/v1/timelines/tag/cve/" || r.Query.Get("limit") != "5" || !r.Auth || !r.Time.Equal(testNow) || reqs[0].Auth {
		t.Errorf("logged %+v / %+v", reqs[0], r)
	}
	if srv.MaxConcurrent("/api/v1/timelines/tag/cve") != 1 {
		t.Errorf("MaxConcurrent = %d", srv.MaxConcurrent("/api/v1/timelines/tag/cve"))
	}
	srv.ResetRequests()
	if len(srv.Requests()) != 0 || srv.MaxConcurrent("/api/v1/timelines/tag/cve") != 0 {
		t.Error("ResetRequests left data")
	}
}

func TestRequestLogBound(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{MaxLoggedRequests: 3})
	for range 10 {
		get(t, ts, "/api/v1/streaming/health")
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests kept, want 3", n)
	}
}

// TestConcurrentUse is meant for -race: readers page while a writer mutates.
func TestConcurrentUse(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{Engagement: fakefedi.SyntheticEngagement(7)})
	posts := loadCorpus(t)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				paths := []string{"/api/v1/timelines/public?limit=40", "/api/v1/timelines/tag/kev", "/api/v2/search?q=cve", "/api/v2/instance"}
				resp, err := ts.Client().Get(ts.URL + paths[(g+i)%len(paths)])
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, p := range posts[:20] {
			switch i % 4 {
			case 0:
				_, _ = srv.Add(json.RawMessage(`{"content":"c"}`))
			case 1:
				_ = srv.Edit(p.URI, "<p>e</p>")
			case 2:
				_, _ = srv.Boost(p.URI, nil)
			case 3:
				_ = srv.Delete(p.URI)
			}
			_ = srv.SetCounts(posts[30].URI, i, i, i)
			srv.InjectFaults("/nothing", fakefedi.Fault{})
		}
	}()
	wg.Wait()
}
