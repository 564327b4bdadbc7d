package lease

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// TestOneRunnerAndHandover runs three keepers on one real database: only
// one works at a time, and when it stops another takes over within a TTL.
func TestOneRunnerAndHandover(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "l.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const ttl = 300 * time.Millisecond

	var running, maxRunning, starts atomic.Int64
	var whoMu sync.Mutex
	var who []string
	work := func(holder string) func(context.Context) {
		return func(ctx context.Context) {
			n := running.Add(1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			starts.Add(1)
			whoMu.Lock()
			who = append(who, holder)
			whoMu.Unlock()
			<-ctx.Done()
			running.Add(-1)
		}
	}
	ctxs := make([]context.CancelFunc, 3)
	var wg sync.WaitGroup
	for i, h := range []string{"a", "b", "c"} {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i] = cancel
		k := &Keeper{Store: db, Holder: h, TTL: ttl, Log: log}
		wg.Go(func() { k.Run(ctx, "instance:x", work(h)) })
	}
	deadline := time.Now().Add(5 * time.Second)
	for starts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	whoMu.Lock()
	first := who[0]
	whoMu.Unlock()
	// Stop the holder: another must take over within about one TTL.
	stopped := time.Now()
	ctxs[map[string]int{"a": 0, "b": 1, "c": 2}[first]]()
	for starts.Load() < 2 && time.Since(stopped) < 5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if took := time.Since(stopped); starts.Load() < 2 || took > 2*ttl {
		t.Fatalf("handover took %s (starts %d), want under %s", took, starts.Load(), 2*ttl)
	}
	time.Sleep(3 * ttl) // renewals keep the new holder alone
	for _, c := range ctxs {
		c()
	}
	wg.Wait()
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("%d keepers ran the work at once, want 1", m)
	}
	if starts.Load() != 2 {
		t.Fatalf("work started %d times, want 2 (%v)", starts.Load(), who)
	}
}
