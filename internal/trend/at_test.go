package trend

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

type emptyStore struct{ calls atomic.Int64 }

func (f *emptyStore) Mentions(ctx context.Context, since time.Time) ([]store.Mention, error) {
	f.calls.Add(1)
	return nil, nil
}
func (f *emptyStore) CVE(ctx context.Context, id string) (store.CVE, error) { return store.CVE{}, nil }
func (f *emptyStore) CVEPosts(ctx context.Context, id string, since time.Time) ([]store.Post, error) {
	return nil, nil
}
func (f *emptyStore) Unlisted(ctx context.Context) (map[string]string, error) { return nil, nil }

// TestBoardTime checks BoardTime names the instant the cached board was
// computed at, and moves only when the board is recomputed.
func TestBoardTime(t *testing.T) {
	st := &emptyStore{}
	s := New(st, time.Minute)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex // background refreshes read the clock too
	now := t0
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	steps := []struct {
		advance time.Duration
		want    time.Time
		calls   int
	}{
		{0, t0, 1},
		{20 * time.Second, t0, 1}, // cached board (under half its TTL: no refresh ahead)
		{41 * time.Second, t0.Add(61 * time.Second), 2}, // expired: recomputed now
		{10 * time.Second, t0.Add(61 * time.Second), 2}, // cached again
	}
	for i, st2 := range steps {
		mu.Lock()
		now = now.Add(st2.advance)
		mu.Unlock()
		got, err := s.BoardTime(context.Background(), 7)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(st2.want) || st.calls.Load() != int64(st2.calls) {
			t.Errorf("step %d: board time %s after %d computations, want %s after %d", i, got, st.calls.Load(), st2.want, st2.calls)
		}
	}
	if _, err := s.BoardTime(context.Background(), 31); err == nil {
		t.Error("31 days accepted")
	}
}
