package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// countingTrend counts the rankings the API asks for and lets the test change them.
type countingTrend struct {
	calls atomic.Int32
	top   atomic.Value // []rank.Entry
}

func (c *countingTrend) Top(ctx context.Context, days int) ([]rank.Entry, error) {
	c.calls.Add(1)
	return c.top.Load().([]rank.Entry), nil
}
func (c *countingTrend) CVE(ctx context.Context, id string, days int) (trend.CVE, error) {
	return trend.CVE{}, store.ErrNotFound
}
func (c *countingTrend) Posts(ctx context.Context, id string, days int) ([]trend.Post, error) {
	return nil, nil
}
func (c *countingTrend) TopWithUnpublished(ctx context.Context, days int) ([]rank.Entry, error) {
	return c.Top(ctx, days)
}

func TestAnswerCache(t *testing.T) {
	f := setup(t) // for its store and key
	clock := &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	tr := &countingTrend{}
	tr.top.Store([]rank.Entry{{CVE: "CVE-2024-0001"}})
	a := New(f.db, tr, slog.New(slog.NewTextHandler(io.Discard, nil)), WithAnswerCache(10*time.Second), WithClock(clock.now),
		WithRateLimit(RateLimit{Requests: 1000, Per: time.Hour}))
	srv := httptest.NewServer(validated(t, a))
	t.Cleanup(srv.Close)
	g := fixture{srv: srv, key: f.key, db: f.db}

	body := func() string {
		status, _, b := g.get(t, "GET", "/api/v1/cves?days=3")
		if status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		return string(b)
	}
	if body() != "[\"CVE-2024-0001\"]\n" || tr.calls.Load() != 1 {
		t.Fatal("first answer")
	}
	tr.top.Store([]rank.Entry{{CVE: "CVE-2024-0002"}})
	clock.add(4 * time.Second)
	if body() != "[\"CVE-2024-0001\"]\n" || tr.calls.Load() != 1 {
		t.Fatalf("young answer not served from the cache (calls %d)", tr.calls.Load())
	}
	// Other parameters are other answers.
	g.get(t, "GET", "/api/v1/cves?days=3&limit=1")
	if tr.calls.Load() != 2 {
		t.Fatal("limit is not part of the cache key")
	}
	clock.add(2 * time.Second) // past half the TTL: one request recomputes
	if body() != "[\"CVE-2024-0002\"]\n" || tr.calls.Load() != 3 {
		t.Fatalf("ageing answer not recomputed (calls %d)", tr.calls.Load())
	}
	tr.top.Store([]rank.Entry{{CVE: "CVE-2024-0003"}})
	clock.add(11 * time.Second)
	if body() != "[\"CVE-2024-0003\"]\n" {
		t.Fatal("an expired answer was served")
	}
	// Errors are never cached; a revoked key is refused even for a cached answer.
	keys, _ := f.db.APIKeys(context.Background())
	f.db.RevokeAPIKey(context.Background(), keys[0].ID, nil)
	if status, _, _ := g.get(t, "GET", "/api/v1/cves?days=3"); status != 401 {
		t.Fatalf("revoked key got %d from the cache", status)
	}
}

func TestAnswerCacheBounded(t *testing.T) {
	c := &answerCache{ttl: time.Minute, m: map[string]cachedAnswer{}}
	now := time.Now()
	for i := range maxCachedAnswers * 3 {
		c.put(string(rune(i)), []byte("x"), now)
	}
	if len(c.m) > maxCachedAnswers {
		t.Fatalf("cache holds %d answers", len(c.m))
	}
	big := make([]byte, maxCachedBytes/10)
	for i := range 30 {
		c.put("big"+string(rune(i)), big, now)
	}
	total := 0
	for _, e := range c.m {
		total += len(e.body)
	}
	if total > maxCachedBytes || total != c.bytes {
		t.Fatalf("cache holds %d bytes (counted %d), bound %d", total, c.bytes, maxCachedBytes)
	}
}

type panickingTrend struct{ countingTrend }

func (*panickingTrend) Top(ctx context.Context, days int) ([]rank.Entry, error) { panic("bug") }

// TestPanicIsJSON500: a bug answers a JSON 500 and no stack trace.
func TestPanicIsJSON500(t *testing.T) {
	f := setup(t)
	a := New(f.db, &panickingTrend{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(validated(t, a))
	t.Cleanup(srv.Close)
	status, h, b := fixture{srv: srv, key: f.key}.get(t, "GET", "/api/v1/cves")
	if status != 500 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || errorCode(t, b) != "internal_error" ||
		strings.Contains(string(b), "goroutine") || strings.Contains(string(b), "bug") {
		t.Fatalf("panic answered %d %s", status, b)
	}
}
