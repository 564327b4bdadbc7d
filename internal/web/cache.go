package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// pageCache keeps rendered pages for the cache TTL. Concurrent requests for
// a missing page share one render. Once a page is older than the TTL the
// next request starts one background refresh and every request keeps
// getting the previous page until it lands (stale-while-revalidate): at a
// million posts a render takes hundreds of milliseconds, which no visitor
// should wait for. A page is at most TTL plus one render old, except that a
// page is not refreshed more often than every costFactor renders: where one
// render takes seconds (millions of posts, 30-day window), refreshing on every
// 2-second TTL would keep the CPUs rendering forever.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]*cachedPage
	wg    sync.WaitGroup // background refreshes, waited for by Close
}

// maxCachedPages bounds the cache: three windows and a few feed hosts.
const maxCachedPages = 64

// costFactor spaces refreshes to at least this many render durations, so
// refreshing a page takes at most about 1/costFactor of one CPU.
const costFactor = 4

// refreshTimeout bounds one background render.
const refreshTimeout = 30 * time.Second

type cachedPage struct {
	at         time.Time
	cost       time.Duration // how long the render took
	body       []byte
	err        error
	ready      chan struct{} // closed once body/err are set
	refreshing bool

	gzOnce sync.Once
	gz     []byte // body gzipped, made on first demand
}

// gzipped returns the body compressed, compressing it once per page: the
// home page shrinks from ~240 KB to ~30 KB on the wire.
func (p *cachedPage) gzipped() []byte {
	p.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write(p.body)
		zw.Close()
		p.gz = buf.Bytes()
	})
	return p.gz
}

// serveCached answers with the page under key, rendering it with build when
// it is missing or older than the TTL. Failures are not cached.
func (s *Site) serveCached(w http.ResponseWriter, r *http.Request, key, contentType string, build func(context.Context) ([]byte, error)) {
	p, err := s.page(r.Context(), key, build)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		w.Write(p.gzipped())
		return
	}
	w.Write(p.body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func (s *Site) cached(ctx context.Context, key string, build func(context.Context) ([]byte, error)) ([]byte, error) {
	p, err := s.page(ctx, key, build)
	if err != nil {
		return nil, err
	}
	return p.body, nil
}

func (s *Site) page(ctx context.Context, key string, build func(context.Context) ([]byte, error)) (*cachedPage, error) {
	if s.cacheTTL <= 0 {
		body, err := build(ctx)
		return &cachedPage{body: body}, err
	}
	c := &s.cache
	now := time.Now()
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
			if p.err != nil {
				p = nil // render again below
				break
			}
			if now.Sub(p.at) >= max(s.cacheTTL, costFactor*p.cost) && !p.refreshing {
				p.refreshing = true
				c.wg.Go(func() { s.refresh(key, p, build) })
			}
			c.mu.Unlock()
			return p, nil
		default: // the first render is under way: wait for it below
		}
	}
	if p == nil {
		p = &cachedPage{at: now, ready: make(chan struct{})}
		c.pages[key] = p
		c.mu.Unlock()
		// The render outlives a visitor who gives up, so the others waiting
		// for it still get the page.
		p.body, p.err = build(context.WithoutCancel(ctx))
		p.cost = time.Since(now)
		close(p.ready)
		return p, p.err
	}
	c.mu.Unlock()
	select {
	case <-p.ready:
		return p, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh renders key again in the background and swaps it in. On failure
// the stale page stays and the next request tries again.
func (s *Site) refresh(key string, old *cachedPage, build func(context.Context) ([]byte, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	start := time.Now()
	body, err := build(ctx)
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		s.log.Error("refresh cached page", "page", key, "err", err)
		old.refreshing = false
		return
	}
	p := &cachedPage{at: start, cost: time.Since(start), body: body, ready: make(chan struct{})}
	close(p.ready)
	c.pages[key] = p
}

// Close waits for background page refreshes to finish.
func (s *Site) Close() {
	s.cache.wg.Wait()
}
