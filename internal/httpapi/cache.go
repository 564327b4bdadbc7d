package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// WithAnswerCache keeps each successful answer's JSON bytes for ttl, keyed
// by route and parameters: under load the ranking is computed once per
// cache period and each request costs a map lookup and a write, instead of
// a query and an encoding. Answers are then at most ttl older than the
// ranking they come from.
func WithAnswerCache(ttl time.Duration) Option {
	return func(a *API) {
		if ttl > 0 {
			a.answers = &answerCache{ttl: ttl, m: make(map[string]cachedAnswer)}
		}
	}
}

// maxCachedAnswers and maxCachedBytes bound the cache: parameters come from
// clients, so the number of distinct keys is theirs to choose.
const (
	maxCachedAnswers = 4096
	maxCachedBytes   = 64 << 20
)

type answerCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	m       map[string]cachedAnswer
	bytes   int                // total size of the cached bodies
	flights map[string]*flight // answers being computed
}

// flight is one computation of an answer that concurrent requests for the
// same key wait for, instead of each running the same queries.
type flight struct {
	done chan struct{}
	body []byte
	err  error
}

// join returns the flight computing key and whether the caller leads it
// (and must call land).
func (c *answerCache) join(key string) (*flight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.flights[key]; ok {
		return f, false
	}
	if c.flights == nil {
		c.flights = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	return f, true
}

func (c *answerCache) land(key string, f *flight) {
	c.mu.Lock()
	delete(c.flights, key)
	c.mu.Unlock()
	close(f.done)
}

type cachedAnswer struct {
	body       []byte
	at         time.Time
	refreshing bool // one request is recomputing it
}

// get returns a fresh cached answer. Past half its life, the first request
// to see an entry is told to recompute it (ok false) while the others keep
// being served the cached copy, so under load nobody waits for a
// recomputation, and no answer outlives the TTL.
func (c *answerCache) get(key string, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	age := now.Sub(e.at)
	if age >= c.ttl {
		return nil, false
	}
	if age >= c.ttl/2 && !e.refreshing {
		e.refreshing = true
		c.m[key] = e
		return nil, false
	}
	return e.body, true
}

func (c *answerCache) put(key string, body []byte, now time.Time) {
	if len(body) > maxCachedBytes/8 {
		return // too big to be worth evicting everything else for
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.bytes -= len(old.body)
		delete(c.m, key)
	}
	if len(c.m) >= maxCachedAnswers || c.bytes+len(body) > maxCachedBytes {
		for k, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				c.bytes -= len(e.body)
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedAnswers || c.bytes+len(body) > maxCachedBytes {
			clear(c.m)
			c.bytes = 0
		}
	}
	c.m[key] = cachedAnswer{body: body, at: now}
	c.bytes += len(body)
}

// answer writes the 200 answer computed by fn, from the cache when a fresh
// copy is there.
func (a *API) answer(w http.ResponseWriter, r *http.Request, key string, fn func() (any, error)) error {
	now := a.now()
	if a.answers != nil {
		if b, ok := a.answers.get(key, now); ok {
			writeBody(w, http.StatusOK, b)
			return nil
		}
	}
	if a.answers == nil {
		b, err := encode(fn)
		if err != nil {
			return err
		}
		writeBody(w, http.StatusOK, b)
		return nil
	}
	f, leader := a.answers.join(key)
	if leader {
		f.body, f.err = encode(fn)
		if f.err == nil {
			a.answers.put(key, f.body, now)
		}
		a.answers.land(key, f)
	} else {
		select {
		case <-f.done:
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}
	body, err := f.body, f.err
	if !leader && err != nil && errors.Is(err, context.Canceled) && r.Context().Err() == nil {
		// The leader's client went away mid-computation; this one did not.
		body, err = encode(fn)
	}
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, body)
	return nil
}

func encode(fn func() (any, error)) ([]byte, error) {
	v, err := fn()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}
