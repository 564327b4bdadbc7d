package ingest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// memStore is an in-memory Store for scheduler tests.
type memStore struct {
	mu      sync.Mutex
	posts   map[int64]*store.RefreshTarget
	next    map[int64]time.Time
	deleted []string
	saved   int
}

func (m *memStore) Feed(ctx context.Context, instance, feed string) (store.FeedState, error) {
	return store.FeedState{}, nil
}
func (m *memStore) SaveBatch(ctx context.Context, b store.Batch) (store.SaveResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved += len(b.Posts)
	return store.SaveResult{Updated: len(b.Posts)}, nil
}
func (m *memStore) FeedError(ctx context.Context, instance, feed, msg string) error { return nil }
func (m *memStore) DeleteByLocalID(ctx context.Context, instance, localID, reason string) (string, error) {
	return "", nil
}
func (m *memStore) DeletePost(ctx context.Context, uri, reason string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, p := range m.posts {
		if p.URI == uri {
			delete(m.posts, id)
			delete(m.next, id)
		}
	}
	m.deleted = append(m.deleted, uri)
	return true, nil
}
func (m *memStore) DueRefresh(ctx context.Context, now time.Time, limit int) ([]store.RefreshTarget, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.RefreshTarget
	for id, p := range m.posts {
		if n, ok := m.next[id]; ok && !n.After(now) && len(out) < limit {
			out = append(out, *p)
		}
	}
	return out, nil
}
func (m *memStore) ScheduleRefresh(ctx context.Context, id int64, next time.Time, step int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if next.IsZero() {
		delete(m.next, id)
	} else {
		m.next[id] = next
	}
	if p := m.posts[id]; p != nil {
		p.Step = step
	}
	return nil
}

// fakeAPI answers /api/v1/statuses/:id in memory (no sockets, so synctest
// can advance its clock) and records when each id was asked for.
type fakeAPI struct {
	mu     sync.Mutex
	calls  map[string][]time.Time
	header func(n int) (int, http.Header) // status and headers of the n-th call
	n      int
}

func (f *fakeAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	id := strings.TrimPrefix(r.URL.Path, "/api/v1/statuses/")
	f.mu.Lock()
	f.calls[id] = append(f.calls[id], time.Now())
	f.n++
	code, h := 200, http.Header{}
	if f.header != nil {
		code, h = f.header(f.n)
	}
	f.mu.Unlock()
	body := fmt.Sprintf(`{"id":%q,"uri":"https://a.example/users/x/statuses/%s","created_at":%q,"visibility":"public",
		"content":"<p>CVE-2024-3094</p>","reblogs_count":3,"favourites_count":4,"account":{"id":"1","acct":"x","url":"https://a.example/@x"}}`,
		id, id, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if code != 200 {
		body = `{"error":"x"}`
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

func newSchedulerRig(t *testing.T, api *fakeAPI, posts ...store.RefreshTarget) (*refresher, *memStore) {
	t.Helper()
	ms := &memStore{posts: map[int64]*store.RefreshTarget{}, next: map[int64]time.Time{}}
	for i := range posts {
		p := posts[i]
		ms.posts[p.ID] = &p
		ms.next[p.ID] = time.Now().Add(DefaultRefreshSteps[0])
	}
	in, err := New(Config{RefreshEvery: time.Minute, RefreshRate: 1}, ms, quiet())
	if err != nil {
		t.Fatal(err)
	}
	c := &mastodon.Client{BaseURL: &url.URL{Scheme: "https", Host: "a.example"}, HTTP: &http.Client{Transport: api}}
	return newRefresher(in, map[string]*mastodon.Client{"a.example": c}), ms
}

// TestRefreshDecayingSchedule follows one post through 31 days of virtual
// time: refreshed after 5 min, 30 min, 1 h, 3 h, 6 h, 12 h, 24 h, then
// daily, and never once it is 30 days old.
func TestRefreshDecayingSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		created := time.Now()
		api := &fakeAPI{calls: map[string][]time.Time{}}
		r, ms := newSchedulerRig(t, api, store.RefreshTarget{ID: 1, URI: "https://a.example/users/x/statuses/42", CreatedAt: created})
		ctx, cancel := context.WithCancel(context.Background())
		go r.run(ctx)
		time.Sleep(31 * 24 * time.Hour)
		cancel()
		synctest.Wait()

		calls := api.calls["42"]
		want := []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
		if len(calls) < len(want)+20 {
			t.Fatalf("%d refreshes in 31 days, want about %d", len(calls), len(want)+29)
		}
		prev := created
		for i, at := range calls {
			gap := at.Sub(prev)
			w := 24 * time.Hour
			if i < len(want) {
				w = want[i]
			}
			// The scheduler looks for due posts once a minute.
			if gap < w || gap > w+time.Minute+time.Second {
				t.Errorf("refresh %d came %s after the previous, want %s", i+1, gap, w)
			}
			prev = at
		}
		if last := calls[len(calls)-1]; last.Sub(created) > 30*24*time.Hour {
			t.Errorf("refreshed at day %.1f, past the 30-day window", last.Sub(created).Hours()/24)
		}
		if _, ok := ms.next[1]; ok {
			t.Error("post still scheduled after leaving the window")
		}
	})
}

// TestRefreshBudgetObeysRateLimit: when the server says its budget is
// spent, no request goes to it before X-RateLimit-Reset; a 429 waits for
// Retry-After; a 404 deletes the post.
func TestRefreshBudgetObeysRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		api := &fakeAPI{calls: map[string][]time.Time{}}
		api.header = func(n int) (int, http.Header) {
			h := http.Header{}
			h.Set("X-RateLimit-Limit", "300")
			switch n {
			case 1: // the budget is spent until 10 minutes from now
				h.Set("X-RateLimit-Remaining", "0")
				h.Set("X-RateLimit-Reset", time.Now().Add(10*time.Minute).UTC().Format("2006-01-02T15:04:05.000000Z"))
				return 200, h
			case 2:
				h.Set("Retry-After", "1200")
				return 429, h
			case 3:
				return 404, h
			}
			h.Set("X-RateLimit-Remaining", "250")
			return 200, h
		}
		var posts []store.RefreshTarget
		for i := range 3 {
			posts = append(posts, store.RefreshTarget{ID: int64(i + 1), URI: fmt.Sprintf("https://a.example/users/x/statuses/%d", 100+i), CreatedAt: start})
		}
		r, ms := newSchedulerRig(t, api, posts...)
		ctx, cancel := context.WithCancel(context.Background())
		go r.run(ctx)
		time.Sleep(2 * time.Hour)
		cancel()
		synctest.Wait()

		var all []time.Time
		for _, c := range api.calls {
			all = append(all, c...)
		}
		if len(all) < 4 {
			t.Fatalf("%d requests", len(all))
		}
		first := all[0]
		for _, c := range all {
			if c.Before(first) {
				first = c
			}
		}
		var second, third time.Time
		for _, c := range all {
			if c.After(first) && (second.IsZero() || c.Before(second)) {
				second = c
			}
		}
		for _, c := range all {
			if c.After(second) && (third.IsZero() || c.Before(third)) {
				third = c
			}
		}
		if second.Sub(first) < 10*time.Minute {
			t.Errorf("second request %s after a spent budget, want >= 10m (X-RateLimit-Reset)", second.Sub(first))
		}
		if third.Sub(second) < 20*time.Minute {
			t.Errorf("request %s after a 429 with Retry-After 1200, want >= 20m", third.Sub(second))
		}
		if len(ms.deleted) != 1 {
			t.Errorf("deleted %v, want the post that answered 404", ms.deleted)
		}
	})
}

// failingAPI answers every request 503 and records when it was asked.
type failingAPI struct {
	mu    sync.Mutex
	times []time.Time
}

func (f *failingAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.times = append(f.times, time.Now())
	f.mu.Unlock()
	return &http.Response{StatusCode: 503, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("down")), Request: r}, nil
}

// TestStreamReconnectBackoff: a stream whose server keeps failing is
// retried with exponential backoff and jitter up to the cap, never in a
// hot loop, and shows as disconnected.
func TestStreamReconnectBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := &memStore{posts: map[int64]*store.RefreshTarget{}, next: map[int64]time.Time{}}
		in, err := New(Config{
			Sources:    []Source{{URL: "https://a.example", Token: "t", Feeds: []string{FeedStream}}},
			MinBackoff: time.Second, MaxBackoff: time.Minute,
		}, ms, quiet())
		if err != nil {
			t.Fatal(err)
		}
		api := &failingAPI{}
		src := in.sources[0]
		src.client.HTTP = &http.Client{Transport: api}
		p := &poller{in: in, src: src, instance: src.host, client: src.client, log: quiet(), kick: make(chan struct{}, 1)}
		sm := &streamer{p: p, log: quiet()}
		ctx, cancel := context.WithCancel(context.Background())
		go sm.run(ctx)
		time.Sleep(10 * time.Minute)
		cancel()
		synctest.Wait()

		if len(api.times) < 8 || len(api.times) > 20 {
			t.Fatalf("%d attempts in 10 minutes", len(api.times))
		}
		for i := 1; i < len(api.times); i++ {
			gap := api.times[i].Sub(api.times[i-1])
			base := min(time.Second<<(i-1), time.Minute)
			if gap < base*3/4 || gap > base*5/4+time.Millisecond {
				t.Errorf("attempt %d came %s after the previous, want %s ±25%%", i+1, gap, base)
			}
		}
		h, _ := in.Health(context.Background(), &fakeLister{})
		if len(h.Feeds) != 0 && h.Feeds[0].State != StateDisconnected {
			t.Errorf("stream state %q", h.Feeds[0].State)
		}
		in.Stats.mu.Lock()
		st := in.Stats.feeds[[2]string{"a.example", FeedStream}]
		in.Stats.mu.Unlock()
		if st == nil || st.State != StateDisconnected || st.Errors != int64(len(api.times)) {
			t.Errorf("stream stats %+v after %d failures", st, len(api.times))
		}
	})
}

type fakeLister struct{}

func (fakeLister) Feeds(ctx context.Context) ([]store.FeedState, error) { return nil, nil }
