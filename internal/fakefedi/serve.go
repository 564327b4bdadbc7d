package fakefedi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Fault is a misbehaviour the next matching request will meet. Fields
// combine: Delay happens first, then Hang, or a Status/Garbage answer
// replacing the real one, or the real answer cut short by Truncate/Abort.
// Header is added to whatever is sent (e.g. Retry-After on a 429).
type Fault struct {
	// Status, if non-zero, replaces the answer with this status code and
	// Body (default {"error":"<status text>"}, {"error":"Too many requests"}
	// for 429, as Mastodon's rack-attack responder sends).
	Status int
	// Header is merged into the response headers, replacing same-named
	// ones (so X-RateLimit-Remaining: 0 can be faked too).
	Header http.Header
	// Body is the body for Status and Garbage faults.
	Body string
	// Delay holds the answer back this long (or until the client gives up).
	Delay time.Duration
	// Garbage answers 200 (or Status) with a body that is not JSON: Body,
	// or by default an HTML page such as a proxy or captive portal serves.
	Garbage bool
	// Truncate answers with the real status and headers but only the first
	// half of the real body: valid JSON cut in half, consistently framed, so
	// the client's JSON decoder is what fails.
	Truncate bool
	// Abort announces the full Content-Length, sends half of the body and
	// drops the connection, so the client's body read fails with an
	// unexpected EOF instead.
	Abort bool
	// Hang never answers; the request ends when the client's context is
	// done (or Server.Close is called).
	Hang bool
}

type queuedFault struct {
	prefix string
	fault  Fault
}

// defaultGarbage is what a misconfigured reverse proxy or a captive portal
// sends with a 200.
const defaultGarbage = "<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head>" +
	"<body><h1>Checking your browser before accessing the instance.</h1></body></html>\n"

// InjectFaults queues faults for requests whose path starts with pathPrefix
// ("" matches everything). Queued faults are consumed one per request, in
// the order they were injected; a request takes the first queued fault whose
// prefix matches its path, so faults for different prefixes do not block one
// another.
func (s *Server) InjectFaults(pathPrefix string, faults ...Fault) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	for _, f := range faults {
		s.faults = append(s.faults, queuedFault{prefix: pathPrefix, fault: f})
	}
}

// PendingFaults is the number of injected faults not yet consumed.
func (s *Server) PendingFaults() int {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	return len(s.faults)
}

func (s *Server) takeFault(path string) (Fault, bool) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	for i, q := range s.faults {
		if strings.HasPrefix(path, q.prefix) {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return q.fault, true
		}
	}
	return Fault{}, false
}

// Request is one logged request.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the path as the client sent it (trailing slash included).
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Time is Options.Now() when the request arrived.
	Time time.Time
	// Auth reports whether an Authorization header was present; cvecrowd
	// polls public timelines anonymously and tests check it stays so.
	Auth bool
	// Agent is the User-Agent header: it tells cooperating clients apart.
	Agent string
	// Faulted reports whether an injected fault was applied.
	Faulted bool
}

// Requests returns the logged requests, oldest first (at most
// Options.MaxLoggedRequests, the most recent ones).
func (s *Server) Requests() []Request {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	reqs := s.requests
	if n := s.opts.MaxLoggedRequests; len(reqs) > n {
		reqs = reqs[len(reqs)-n:]
	}
	out := make([]Request, len(reqs))
	for i, r := range reqs {
		r.Query = cloneValues(r.Query)
		out[i] = r
	}
	return out
}

// ResetRequests clears the request log and the concurrency high-water marks
// (requests still in flight keep counting).
func (s *Server) ResetRequests() {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	s.requests = nil
	for p := range s.maxInflight {
		s.maxInflight[p] = s.inflight[p]
	}
}

// MaxConcurrent is the largest number of requests for path that were in
// flight at the same time. path is compared without trailing slashes and
// without query.
func (s *Server) MaxConcurrent(path string) int {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	return s.maxInflight[normalizePath(path)]
}

func (s *Server) enter(r *http.Request, path string, now time.Time, faulted bool) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	s.inflight[path]++
	if s.inflight[path] > s.maxInflight[path] {
		s.maxInflight[path] = s.inflight[path]
	}
	s.requests = append(s.requests, Request{
		Method:  r.Method,
		Path:    r.URL.Path,
		Query:   r.URL.Query(),
		Time:    now,
		Auth:    r.Header.Get("Authorization") != "",
		Agent:   r.Header.Get("User-Agent"),
		Faulted: faulted,
	})
	// Trim in bulk, not per request, so the log costs amortised O(1).
	if n := s.opts.MaxLoggedRequests; len(s.requests) > 2*n {
		s.requests = append([]Request(nil), s.requests[len(s.requests)-n:]...)
	}
}

func (s *Server) leave(path string) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	s.inflight[path]--
}

type rateWindow struct {
	window int64
	count  int
}

// rateLimit counts r against its key's window and returns the X-RateLimit-*
// headers and whether the limit is exceeded. Like Mastodon, the key is the
// access token when there is one and the client IP otherwise, windows are
// aligned to the epoch, and Reset is
// now + (period - now.to_i % period) in ISO 8601 with microseconds.
func (s *Server) rateLimit(r *http.Request, now time.Time) (http.Header, bool) {
	period := int64(s.opts.RateLimitWindow / time.Second)
	key := r.Header.Get("Authorization")
	if key == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		key = "ip:" + host
	}
	win := now.Unix() / period

	s.obsMu.Lock()
	rw := s.rate[key]
	if rw == nil || rw.window != win {
		if len(s.rate) > 10000 { // forget stale keys of a long dev run
			for k, v := range s.rate {
				if v.window != win {
					delete(s.rate, k)
				}
			}
		}
		rw = &rateWindow{window: win}
		s.rate[key] = rw
	}
	rw.count++
	count := rw.count
	s.obsMu.Unlock()

	remaining := max(s.opts.RateLimit-count, 0)
	reset := now.Add(time.Duration(period-now.Unix()%period) * time.Second)
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04:05.000000Z"))
	return h, count > s.opts.RateLimit
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := normalizePath(r.URL.Path)
	now := s.opts.Now()
	if s.serveStream(w, r, path, now) {
		return
	}
	f, faulted := s.takeFault(path)
	s.enter(r, path, now, faulted)
	defer s.leave(path)
	rl, exceeded := s.rateLimit(r, now)

	// A delay cut short by Close still answers; one cut short by the
	// client has nobody left to answer.
	if faulted && f.Delay > 0 && !s.wait(r.Context(), f.Delay) && r.Context().Err() != nil {
		return
	}
	if faulted && f.Hang {
		s.wait(r.Context(), -1)
		return
	}

	var resp response
	switch {
	case faulted && f.Garbage:
		body := f.Body
		if body == "" {
			body = defaultGarbage
		}
		resp = response{status: http.StatusOK, header: http.Header{}, body: []byte(body)}
		if f.Status != 0 {
			resp.status = f.Status
		}
		resp.header.Set("Content-Type", "text/html; charset=utf-8")
	case faulted && f.Status != 0:
		msg := http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			msg = "Too many requests"
		}
		resp = errorResponse(f.Status, msg)
		if f.Body != "" {
			resp.body = []byte(f.Body)
		}
	case exceeded && s.opts.EnforceRateLimit:
		resp = errorResponse(http.StatusTooManyRequests, "Too many requests")
	default:
		resp = s.answer(r, path)
	}

	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	for k, v := range rl {
		h[k] = v
	}
	h.Set("X-Request-Id", fmt.Sprintf("fakefedi-%016x", s.requestSeq.Add(1)))
	if faulted {
		for k, v := range f.Header {
			h[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
	body := resp.body
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if faulted && (f.Truncate || f.Abort) {
		body = body[:len(body)/2]
		if !f.Abort {
			h.Set("Content-Length", strconv.Itoa(len(body)))
		}
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(body) // a client that went away is not our problem
	if faulted && f.Abort {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// ErrAbortHandler makes net/http drop the connection without
		// logging a stack trace.
		panic(http.ErrAbortHandler)
	}
}

// wait blocks for d (forever if d < 0) or until ctx is done or the Server is
// closed; it reports whether the full duration passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}
