package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestPageCache checks the render cache: one render per TTL, stale pages
// served while a background refresh runs, failures never cached.
func TestPageCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Site{log: slog.New(slog.NewTextHandler(io.Discard, nil)), cacheTTL: 2 * time.Second}
		var renders atomic.Int32
		var fail atomic.Bool
		build := func(ctx context.Context) ([]byte, error) {
			n := renders.Add(1)
			time.Sleep(500 * time.Millisecond) // a slow render
			if fail.Load() {
				return nil, errors.New("database down")
			}
			return []byte{byte('0' + n)}, nil
		}
		get := func() string {
			b, err := s.cached(context.Background(), "home 1", build)
			if err != nil {
				return "error"
			}
			return string(b)
		}

		// Concurrent first requests share one render.
		results := make(chan string, 3)
		for range 3 {
			go func() { results <- get() }()
		}
		for range 3 {
			if got := <-results; got != "1" {
				t.Fatalf("first render = %q", got)
			}
		}
		if renders.Load() != 1 {
			t.Fatalf("%d renders for 3 concurrent requests", renders.Load())
		}

		time.Sleep(time.Second)
		if got := get(); got != "1" || renders.Load() != 1 {
			t.Fatalf("within the TTL: %q after %d renders", got, renders.Load())
		}

		// Past the TTL: the stale page comes back at once, a refresh starts.
		time.Sleep(2 * time.Second)
		start := time.Now()
		if got := get(); got != "1" || time.Since(start) != 0 {
			t.Fatalf("stale request got %q after waiting %s", got, time.Since(start))
		}
		if got := get(); got != "1" {
			t.Fatalf("during the refresh: %q", got)
		}
		synctest.Wait()
		time.Sleep(time.Second)
		if got := get(); got != "2" || renders.Load() != 2 {
			t.Fatalf("after the refresh: %q, %d renders (want exactly one refresh)", got, renders.Load())
		}

		// A failed refresh keeps the stale page and is retried.
		fail.Store(true)
		time.Sleep(3 * time.Second)
		if got := get(); got != "2" {
			t.Fatalf("stale page during a failing refresh: %q", got)
		}
		time.Sleep(time.Second)
		got := get()
		synctest.Wait() // the retry has started
		if got != "2" || renders.Load() != 4 {
			t.Fatalf("after a failed refresh: %q, %d renders (want a retry)", got, renders.Load())
		}
		s.Close()

		// A failed first render is not cached.
		s2 := &Site{log: s.log, cacheTTL: time.Hour}
		if _, err := s2.cached(context.Background(), "k", build); err == nil {
			t.Fatal("want the render error")
		}
		fail.Store(false)
		if b, err := s2.cached(context.Background(), "k", build); err != nil || len(b) != 1 {
			t.Fatalf("after a failure: %q %v", b, err)
		}
		s2.Close()
	})
}

// TestPageCacheSpacesSlowRefreshes checks a page whose render takes longer
// than the TTL is refreshed at most every costFactor renders.
func TestPageCacheSpacesSlowRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Site{log: slog.New(slog.NewTextHandler(io.Discard, nil)), cacheTTL: 2 * time.Second}
		var renders atomic.Int32
		build := func(ctx context.Context) ([]byte, error) {
			renders.Add(1)
			time.Sleep(3 * time.Second)
			return []byte("page"), nil
		}
		if _, err := s.cached(context.Background(), "k", build); err != nil {
			t.Fatal(err)
		}
		// The page was started at 0 and took 3 s: no refresh before 12 s.
		for elapsed := 3 * time.Second; elapsed < 12*time.Second; elapsed += time.Second {
			s.cached(context.Background(), "k", build)
			synctest.Wait()
			if renders.Load() != 1 {
				t.Fatalf("refreshed %s after a 3 s render with a 2 s TTL", elapsed)
			}
			time.Sleep(time.Second)
		}
		s.cached(context.Background(), "k", build)
		synctest.Wait()
		if renders.Load() != 2 {
			t.Fatalf("%d renders at 12 s, want the refresh", renders.Load())
		}
		s.Close()
	})
}
