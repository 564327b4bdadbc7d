package trend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// fakeStore counts Mentions calls so cache behaviour can be asserted.
type fakeStore struct {
	calls    atomic.Int64
	mentions []store.Mention
	posts    map[string][]store.Post
	fail     error
}

func (f *fakeStore) Mentions(ctx context.Context, since time.Time) ([]store.Mention, error) {
	f.calls.Add(1)
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Mention
	for _, m := range f.mentions {
		if !m.CreatedAt.Before(since) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fakeStore) CVE(ctx context.Context, id string) (store.CVE, error) {
	if _, ok := f.posts[id]; !ok {
		return store.CVE{}, store.ErrNotFound
	}
	return store.CVE{ID: id}, nil
}

func (f *fakeStore) Unlisted(ctx context.Context) (map[string]string, error) {
	return nil, nil
}

func (f *fakeStore) CVEPosts(ctx context.Context, id string, since time.Time) ([]store.Post, error) {
	return f.posts[id], nil
}

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newFake() *fakeStore {
	return &fakeStore{
		mentions: []store.Mention{
			{CVE: "CVE-2024-1", PostID: 1, Account: "a", CreatedAt: now.Add(-time.Hour), Reblogs: 1},
			{CVE: "CVE-2024-2", PostID: 2, Account: "b", CreatedAt: now.Add(-2 * time.Hour)},
			{CVE: "CVE-2024-3", PostID: 3, Account: "b", CreatedAt: now.Add(-3 * 24 * time.Hour)},
		},
		posts: map[string][]store.Post{
			"CVE-2024-1": {{URI: "u1", CreatedAt: now.Add(-time.Hour), Reblogs: 1}},
			"CVE-2024-2": {
				{URI: "old", CreatedAt: now.Add(-13 * time.Hour), Favourites: 100}, // 100
				{URI: "new", CreatedAt: now.Add(-2 * time.Hour)},                   // 100, newer
				{URI: "heavy", CreatedAt: now.Add(-5 * time.Hour), Reblogs: 2},     // 120
			},
			"CVE-2024-3": nil,
		},
	}
}

func TestTopCVEAndPosts(t *testing.T) {
	f := newFake()
	s := New(f, time.Minute)
	s.SetClock(func() time.Time { return now })
	ctx := context.Background()
	top, err := s.Top(ctx, 1)
	if err != nil || len(top) != 2 || top[0].CVE != "CVE-2024-1" || top[0].Weight != 110 {
		t.Fatalf("Top(1) = %+v, %v", top, err)
	}
	if top, _ := s.Top(ctx, 7); len(top) != 3 {
		t.Fatalf("Top(7) = %+v", top)
	}
	c, err := s.CVE(ctx, "CVE-2024-2", 1)
	if err != nil || c.Position != 2 || c.Weight != 100 {
		t.Fatalf("CVE = %+v, %v", c, err)
	}
	c, err = s.CVE(ctx, "CVE-2024-3", 1)
	if err != nil || c.Position != 0 || c.Weight != 0 || c.Entry.CVE != "CVE-2024-3" {
		t.Fatalf("CVE outside window = %+v, %v", c, err)
	}
	if _, err := s.CVE(ctx, "CVE-1999-0001", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown CVE err = %v", err)
	}
	posts, err := s.Posts(ctx, "CVE-2024-2", 1)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, p := range posts {
		order = append(order, p.URI)
	}
	if len(order) != 3 || order[0] != "heavy" || order[1] != "new" || order[2] != "old" {
		t.Fatalf("posts order = %v, want heavy, new, old", order)
	}
	for _, days := range []int{0, -1, 31} {
		if _, err := s.Top(ctx, days); err == nil {
			t.Errorf("Top(%d) accepted", days)
		}
	}
}

func TestCacheSharesAndExpires(t *testing.T) {
	f := newFake()
	s := New(f, time.Minute)
	clock := now
	var mu sync.Mutex
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { s.Top(ctx, 1) })
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("20 concurrent Top calls hit the store %d times, want 1", n)
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	s.Top(ctx, 1)
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("after the TTL the store was hit %d times in all, want 2", n)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	f := newFake()
	f.fail = errors.New("disk on fire")
	s := New(f, time.Minute)
	s.SetClock(func() time.Time { return now })
	if _, err := s.Top(context.Background(), 1); err == nil {
		t.Fatal("want the store error")
	}
	f.fail = nil
	if top, err := s.Top(context.Background(), 1); err != nil || len(top) != 2 {
		t.Fatalf("after recovery Top = %+v, %v", top, err)
	}
}
