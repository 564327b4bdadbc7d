// Package httpapi serves the CVE Crowd compatible REST API (v1 and v2) with bearer API keys.
package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// Keys is what the API needs to check keys.
type Keys interface {
	APIKeysByPrefix(ctx context.Context, prefix string) ([]store.StoredKey, error)
}

// Trend is what the API needs to answer.
type Trend interface {
	Top(ctx context.Context, days int) ([]rank.Entry, error)
	CVE(ctx context.Context, id string, days int) (trend.CVE, error)
	Posts(ctx context.Context, id string, days int) ([]trend.Post, error)
	TopWithUnpublished(ctx context.Context, days int) ([]rank.Entry, error)
}

// API is the REST API handler.
type API struct {
	keys    Keys
	trend   Trend
	log     *slog.Logger
	mux     *http.ServeMux
	public  *http.ServeMux // routes that need no key
	routes  []string
	limit   RateLimit
	limiter *limiter
	usage   *Usage
	answers *answerCache // nil: no answer cache
	now     func() time.Time

	statusFn StatusFunc // ingestion health; see SetStatus
}

// Option configures the API.
type Option func(*API)

// WithRateLimit sets the per-key request limit (default DefaultRateLimit).
func WithRateLimit(l RateLimit) Option { return func(a *API) { a.limit = l } }

// WithUsage counts every authenticated request in u.
func WithUsage(u *Usage) Option { return func(a *API) { a.usage = u } }

// WithClock replaces the clock of rate limits and usage (tests).
func WithClock(now func() time.Time) Option { return func(a *API) { a.now = now } }

// New returns the API. It serves /api/... and /v2/....
func New(keys Keys, tr Trend, log *slog.Logger, opts ...Option) *API {
	a := &API{keys: keys, trend: tr, log: log, mux: http.NewServeMux(), limit: DefaultRateLimit, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	a.limiter = newLimiter(a.limit, a.now)
	a.public = a.publicRoutes()
	for _, prefix := range []string{"/api/v1", "/v2"} {
		a.route(prefix+"/cves", a.listCVEs(prefix == "/v2"))
		a.route(prefix+"/cves/{cve_id}", a.getCVE)
		a.route(prefix+"/cves/{cve_id}/posts", a.listPosts(prefix == "/v2"))
	}
	a.route("/api/v1/status", a.status)
	notFound := a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "no such API route: " + r.URL.Path}
	})
	a.mux.Handle("/api/", notFound)
	a.mux.Handle("/v2/", notFound)
	return a
}

// route registers h for GET (and HEAD) and a JSON 405 for other methods.
func (a *API) route(path string, h handler) {
	a.handle(a.mux, path, h)
}

func (a *API) handle(mux *http.ServeMux, path string, h handler) {
	a.routes = append(a.routes, "GET "+path)
	mux.Handle("GET "+path, a.wrap(h))
	mux.Handle(path, a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", "GET, HEAD")
		return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Detail: r.Method + " is not allowed here; use GET"}
	}))
}

// Routes lists the API's routes as "METHOD /path/{param}" patterns (HEAD
// is served wherever GET is), for the contract test that holds them to
// api/openapi.yaml.
func (a *API) Routes() []string { return slices.Clone(a.routes) }

// MaxHeaderBytes bounds the total size of a request's headers; the HTTP
// server's own, larger limit answers in plain text, this one in JSON.
const MaxHeaderBytes = 8 << 10

// ServeHTTP checks the request's shape, authenticates it, applies the key's
// rate limit, then routes it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must answer a JSON 500, never a stack trace or a dropped connection.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.writeError(w, r, fmt.Errorf("panic: %v", v))
		}
	}()
	if err := checkShape(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	if _, pattern := a.public.Handler(r); pattern != "" {
		a.public.ServeHTTP(w, r) // (not the handler found: ServeHTTP sets the path values)
		return
	}
	k, err := a.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cvecrowd"`)
		a.writeError(w, r, err)
		return
	}
	if a.usage != nil {
		a.usage.Record(k.ID, a.now())
	}
	q := a.limiter.take(k.ID)
	q.write(w.Header())
	if !q.ok {
		w.Header().Set("Retry-After", strconv.Itoa(seconds(q.reset)))
		a.writeError(w, r, q.error(a.limit))
		return
	}
	a.mux.ServeHTTP(w, r)
}

// checkShape refuses oversized headers and non-canonical paths ("..", "//"),
// which the router would otherwise answer with a redirect.
func checkShape(r *http.Request) error {
	size := len(r.Method) + len(r.RequestURI)
	for name, vs := range r.Header {
		for _, v := range vs {
			size += len(name) + len(v) + 4
		}
	}
	if size > MaxHeaderBytes {
		return &Error{Status: http.StatusRequestHeaderFieldsTooLarge, Code: "headers_too_large",
			Detail: fmt.Sprintf("request line and headers total %d bytes; at most %d are accepted", size, MaxHeaderBytes)}
	}
	// The escaped path: %2F inside a parameter is the parameter's business.
	p := r.URL.EscapedPath()
	if strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return &Error{Status: http.StatusBadRequest, Code: "invalid_path", Detail: "the path is not canonical (no //, . or .. segments): " + truncate(p, 80)}
	}
	return nil
}

func (a *API) authenticate(r *http.Request) (store.APIKey, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return store.APIKey{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "missing API key: send Authorization: Bearer <key>"}
	}
	scheme, key, ok := strings.Cut(h[0], " ")
	key = strings.TrimSpace(key)
	if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || key == "" || len(key) > 256 {
		return store.APIKey{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "malformed Authorization header: want Bearer <key>"}
	}
	if len(key) < apikey.PrefixLen {
		return store.APIKey{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "unknown API key"}
	}
	candidates, err := a.keys.APIKeysByPrefix(r.Context(), key[:apikey.PrefixLen])
	if err != nil {
		return store.APIKey{}, err
	}
	hash := []byte(apikey.Hash(key))
	var k *store.StoredKey
	for i := range candidates {
		if subtle.ConstantTimeCompare(hash, []byte(candidates[i].Hash)) == 1 {
			k = &candidates[i]
		}
	}
	if k == nil {
		return store.APIKey{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "unknown API key"}
	}
	if k.RevokedAt != nil {
		return store.APIKey{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "API key revoked"}
	}
	return k.APIKey, nil
}

// intParam reads an optional integer parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	// url.Values from r.URL.Query() silently drops malformed pairs; refuse them instead.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, badParam("the query string is malformed (%v); parameters are days, limit and offset", err)
	}
	vs, ok := q[name]
	if !ok {
		return def, nil
	}
	if len(vs) > 1 {
		return 0, badParam("parameter %s is given %d times; give it once", name, len(vs))
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < lo || n > hi {
		return 0, badParam("parameter %s must be an integer from %d to %d, got %q", name, lo, hi, truncate(vs[0], 40))
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func days(r *http.Request) (int, error) { return intParam(r, "days", 1, 1, trend.MaxDays) }

func cveID(r *http.Request) (string, error) {
	raw := r.PathValue("cve_id")
	id, err := cve.Parse(raw)
	if err != nil {
		return "", badParam("cve_id %q is not a CVE ID: want CVE-YYYY-NNNN", truncate(raw, 40))
	}
	return string(id), nil
}

// MaxLimit bounds limit on list routes.
const MaxLimit = 1000

// listParams reads the parameters every list route takes: days, limit
// (defLimit when absent; 0 means all), offset and include.
func listParams(r *http.Request, defLimit int) (d, limit, offset int, unpublished bool, err error) {
	if d, err = days(r); err != nil {
		return
	}
	if limit, err = intParam(r, "limit", defLimit, 1, MaxLimit); err != nil {
		return
	}
	if offset, err = intParam(r, "offset", 0, 0, 1_000_000); err != nil {
		return
	}
	unpublished, err = includeUnpublished(r)
	return
}

func (a *API) listCVEs(v2 bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		def := 0 // v1: everything
		if v2 {
			def = 100
		}
		d, limit, offset, unpublished, err := listParams(r, def)
		if err != nil {
			return err
		}
		key := fmt.Sprintf("cves|%d|%d|%d|%t", d, limit, offset, unpublished)
		return a.answer(w, r, key, func() (any, error) {
			top := a.trend.Top
			if unpublished {
				top = a.trend.TopWithUnpublished
			}
			entries, err := top(r.Context(), d)
			if err != nil {
				return nil, err
			}
			ids := make([]string, 0, len(entries))
			for _, e := range page(entries, offset, limit) {
				ids = append(ids, e.CVE)
			}
			return ids, nil
		})
	}
}

func page[T any](s []T, offset, limit int) []T {
	if offset >= len(s) {
		return nil
	}
	s = s[offset:]
	if limit > 0 && limit < len(s) {
		s = s[:limit]
	}
	return s
}

func (a *API) getCVE(w http.ResponseWriter, r *http.Request) error {
	id, err := cveID(r)
	if err != nil {
		return err
	}
	d, err := days(r)
	if err != nil {
		return err
	}
	inc, err := includeUnpublished(r)
	if err != nil {
		return err
	}
	return a.answer(w, r, fmt.Sprintf("cve|%s|%d|%t", id, d, inc), func() (any, error) {
		c, err := a.cve(r, id, d)
		if err != nil {
			return nil, err
		}
		return NewCVE(c), nil
	})
}

// includeUnpublished reads the include parameter: "unpublished" adds the
// CVEs that have no published record yet (SPEC §3) to the answer.
func includeUnpublished(r *http.Request) (bool, error) {
	vs := r.URL.Query()["include"]
	inc := false
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			switch strings.TrimSpace(part) {
			case "unpublished":
				inc = true
			case "":
			default:
				return false, badParam("parameter include accepts only \"unpublished\", got %q", truncate(part, 40))
			}
		}
	}
	return inc, nil
}

// cve looks id up, answering 404 for a CVE without a published record
// unless the request asks for those.
func (a *API) cve(r *http.Request, id string, days int) (trend.CVE, error) {
	inc, err := includeUnpublished(r)
	if err != nil {
		return trend.CVE{}, err
	}
	c, err := a.trend.CVE(r.Context(), id, days)
	if err != nil {
		return trend.CVE{}, err
	}
	if c.Unpublished() && !inc {
		return trend.CVE{}, &Error{Status: http.StatusNotFound, Code: "not_found",
			Detail: id + " has no published CVE record (reserved or mistyped); add include=unpublished to see it"}
	}
	return c, nil
}

func (a *API) listPosts(v2 bool) handler {
	def := 0 // v1: everything
	if v2 {
		def = 100
	}
	return func(w http.ResponseWriter, r *http.Request) error { return a.posts(w, r, def) }
}

func (a *API) posts(w http.ResponseWriter, r *http.Request, defLimit int) error {
	id, err := cveID(r)
	if err != nil {
		return err
	}
	d, limit, offset, inc, err := listParams(r, defLimit)
	if err != nil {
		return err
	}
	return a.answer(w, r, fmt.Sprintf("posts|%s|%d|%d|%d|%t", id, d, limit, offset, inc), func() (any, error) {
		// Tells an unknown (or rejected, or unpublished) CVE from a known
		// one that is quiet in the window.
		if _, err := a.cve(r, id, d); err != nil {
			return nil, err
		}
		posts, err := a.trend.Posts(r.Context(), id, d)
		if err != nil {
			return nil, err
		}
		out := make([]Post, 0, len(posts))
		for _, p := range page(posts, offset, limit) {
			out = append(out, NewPost(p))
		}
		return out, nil
	})
}
