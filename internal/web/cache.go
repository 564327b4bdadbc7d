package web

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// pageCache keeps rendered pages for the cache TTL. Like the ranking cache
// it lets concurrent requests for the same page share one render, so a burst
// of visitors after expiry costs one database round, not one per visitor.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]*cachedPage
}

// maxCachedPages bounds the cache: three windows and a few feed hosts.
const maxCachedPages = 64

type cachedPage struct {
	at    time.Time
	body  []byte
	err   error
	ready chan struct{}
}

// serveCached answers with the page under key, rendering it with build when
// it is missing or older than the TTL. Failures are not cached.
func (s *Site) serveCached(w http.ResponseWriter, r *http.Request, key string, build func(context.Context) ([]byte, error)) {
	body, err := s.cached(r.Context(), key, build)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(body)
}

func (s *Site) cached(ctx context.Context, key string, build func(context.Context) ([]byte, error)) ([]byte, error) {
	if s.cacheTTL <= 0 {
		return build(ctx)
	}
	now := time.Now()
	c := &s.cache
	c.mu.Lock()
	if c.pages == nil {
		c.pages = make(map[string]*cachedPage)
	}
	if len(c.pages) >= maxCachedPages {
		// Keys carry the request's Host for feeds; never let them pile up.
		clear(c.pages)
	}
	p := c.pages[key]
	if p != nil {
		select {
		case <-p.ready:
			if p.err != nil || now.Sub(p.at) >= s.cacheTTL {
				p = nil
			}
		default: // being rendered: wait for it below
		}
	}
	if p == nil {
		p = &cachedPage{at: now, ready: make(chan struct{})}
		c.pages[key] = p
		c.mu.Unlock()
		// The render outlives a visitor who gives up, so the others waiting
		// for it still get the page.
		p.body, p.err = build(context.WithoutCancel(ctx))
		close(p.ready)
		return p.body, p.err
	}
	c.mu.Unlock()
	select {
	case <-p.ready:
		return p.body, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
