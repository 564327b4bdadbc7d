package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimit is how many requests one key may make per window.
type RateLimit struct {
	Requests int
	Per      time.Duration
}

// DefaultRateLimit is the limit when the operator sets none.
var DefaultRateLimit = RateLimit{Requests: 60, Per: time.Minute}

// String renders the limit as ParseRateLimit reads it.
func (l RateLimit) String() string {
	switch l.Per {
	case time.Second:
		return fmt.Sprintf("%d/second", l.Requests)
	case time.Minute:
		return fmt.Sprintf("%d/minute", l.Requests)
	case time.Hour:
		return fmt.Sprintf("%d/hour", l.Requests)
	}
	return fmt.Sprintf("%d/%s", l.Requests, l.Per)
}

// ParseRateLimit reads "N/second", "N/minute", "N/hour" (or s, m, h) or
// "N/DURATION" such as "100/30s".
func ParseRateLimit(s string) (RateLimit, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("rate limit %q: want N/minute, N/second, N/hour or N/DURATION", s)
	}
	var l RateLimit
	var err error
	if l.Requests, err = strconv.Atoi(strings.TrimSpace(n)); err != nil || l.Requests < 1 {
		return RateLimit{}, fmt.Errorf("rate limit %q: the count must be a positive integer", s)
	}
	switch per = strings.ToLower(strings.TrimSpace(per)); per {
	case "s", "sec", "second":
		l.Per = time.Second
	case "m", "min", "minute":
		l.Per = time.Minute
	case "h", "hour":
		l.Per = time.Hour
	default:
		if l.Per, err = time.ParseDuration(per); err != nil || l.Per < time.Second {
			return RateLimit{}, fmt.Errorf("rate limit %q: the window must be second, minute, hour or a duration of at least 1s", s)
		}
	}
	return l, nil
}

// limiter counts requests per key in fixed windows aligned on the clock
// (every key's minute starts on the minute), which makes X-RateLimit-Reset
// exact and lets stale counters be dropped wholesale.
type limiter struct {
	limit RateLimit
	now   func() time.Time

	mu     sync.Mutex
	window time.Time // start of the current window
	counts map[int64]int
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	return &limiter{limit: l, now: now, counts: make(map[int64]int)}
}

// quota is the outcome of taking one request from a key's allowance.
type quota struct {
	limit, remaining int
	reset            time.Duration // until the window ends
	ok               bool
}

func (l *limiter) take(key int64) quota {
	now := l.now()
	start := now.Truncate(l.limit.Per)
	l.mu.Lock()
	if !start.Equal(l.window) {
		l.window = start
		clear(l.counts)
	}
	n := l.counts[key]
	ok := n < l.limit.Requests
	if ok {
		n++
		l.counts[key] = n
	}
	l.mu.Unlock()
	return quota{limit: l.limit.Requests, remaining: l.limit.Requests - n, reset: start.Add(l.limit.Per).Sub(now), ok: ok}
}

// seconds rounds up, so a client that waits that long is never early.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func (q quota) write(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(q.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(q.remaining))
	h.Set("X-RateLimit-Reset", strconv.Itoa(seconds(q.reset)))
}

func (q quota) error(l RateLimit) error {
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
		Detail: fmt.Sprintf("this key may make %d requests per %s; retry in %d s", l.Requests, l.Per, seconds(q.reset))}
}
