package trend

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

type countingStore struct {
	calls atomic.Int32
	mu    sync.Mutex
	ms    []store.Mention
}

func (c *countingStore) Mentions(ctx context.Context, since time.Time) ([]store.Mention, error) {
	c.calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]store.Mention(nil), c.ms...), nil
}
func (c *countingStore) CVE(ctx context.Context, id string) (store.CVE, error) {
	return store.CVE{ID: id}, nil
}
func (c *countingStore) CVEPosts(ctx context.Context, id string, since time.Time) ([]store.Post, error) {
	return nil, nil
}

func (c *countingStore) Unlisted(ctx context.Context) (map[string]string, error) {
	return nil, nil
}

func (c *countingStore) set(ms ...store.Mention) {
	c.mu.Lock()
	c.ms = ms
	c.mu.Unlock()
}

// TestRefreshAhead: a board past half its TTL is served while a fresh one is
// computed in the background; a board past its TTL is never served.
func TestRefreshAhead(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	st := &countingStore{}
	st.set(store.Mention{CVE: "CVE-2024-0001", PostID: 1, Account: "a", CreatedAt: t0.Add(-time.Hour)})
	s := New(st, 10*time.Second)
	s.SetClock(clock)
	top := func() string {
		e, err := s.Top(ctx, 1)
		if err != nil || len(e) == 0 {
			t.Fatalf("Top = %v, %v", e, err)
		}
		return e[0].CVE
	}
	if top() != "CVE-2024-0001" || st.calls.Load() != 1 {
		t.Fatal("first computation")
	}
	st.set(store.Mention{CVE: "CVE-2024-0002", PostID: 2, Account: "b", CreatedAt: t0})

	advance(4 * time.Second) // fresh: cached, no refresh
	if top() != "CVE-2024-0001" || st.calls.Load() != 1 {
		t.Fatalf("young board: calls %d", st.calls.Load())
	}
	advance(2 * time.Second) // past half the TTL: served, refreshed behind
	if top() != "CVE-2024-0001" {
		t.Fatal("the ageing board was not served at once")
	}
	s.Close() // wait for the refresh
	if st.calls.Load() != 2 || top() != "CVE-2024-0002" {
		t.Fatalf("after refresh: calls %d", st.calls.Load())
	}
	s.Close()

	st.set(store.Mention{CVE: "CVE-2024-0003", PostID: 3, Account: "c", CreatedAt: t0})
	advance(11 * time.Second) // expired: recomputed before answering
	if top() != "CVE-2024-0003" {
		t.Fatal("an expired board was served")
	}
	s.Close()
}
