package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// loginThrottle counts failed logins per account and per client address
// in a fixed window, so password guessing is slow and cannot starve the
// argon2id slots real users need. It lives in memory: a restart forgets,
// which is acceptable for a brake (not a lockout).
type loginThrottle struct {
	mu         sync.Mutex
	now        func() time.Time
	window     time.Duration
	perAccount int
	perAddress int
	fails      map[string]*failCount
}

type failCount struct {
	n     int
	start time.Time
}

// maxTracked bounds the map; past it, expired entries are dropped, and if
// that is not enough the oldest window is forgotten wholesale.
const maxTracked = 100_000

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{now: now, window: 15 * time.Minute, perAccount: 5, perAddress: 30, fails: map[string]*failCount{}}
}

func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait reports how long the account or the address must wait before the
// next attempt, or 0.
func (t *loginThrottle) wait(email, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var d time.Duration
	for key, limit := range map[string]int{"a:" + email: t.perAccount, "i:" + addr: t.perAddress} {
		f := t.fails[key]
		if f == nil || now.Sub(f.start) >= t.window {
			continue
		}
		if f.n >= limit {
			d = max(d, f.start.Add(t.window).Sub(now))
		}
	}
	return d
}

// failed counts a failed attempt against the account and the address.
func (t *loginThrottle) failed(email, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.fails) >= maxTracked {
		for k, f := range t.fails {
			if now.Sub(f.start) >= t.window {
				delete(t.fails, k)
			}
		}
		if len(t.fails) >= maxTracked {
			clear(t.fails)
		}
	}
	for _, key := range []string{"a:" + email, "i:" + addr} {
		f := t.fails[key]
		if f == nil || now.Sub(f.start) >= t.window {
			f = &failCount{start: now}
			t.fails[key] = f
		}
		f.n++
	}
}

// succeeded clears the account's failures (not the address's: one good
// password must not reset a guesser working through many accounts).
func (t *loginThrottle) succeeded(email string) {
	t.mu.Lock()
	delete(t.fails, "a:"+email)
	t.mu.Unlock()
}
