// Package httpapi serves the CVE Crowd compatible REST API (v1 and v2) with bearer API keys.
package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// Keys is what the API needs to check keys.
type Keys interface {
	APIKeyByHash(ctx context.Context, hash string) (store.APIKey, error)
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
	keys  Keys
	trend Trend
	log   *slog.Logger
	mux   *http.ServeMux

	statusFn StatusFunc // ingestion health; see SetStatus
}

// New returns the API. It serves /api/... and /v2/....
func New(keys Keys, tr Trend, log *slog.Logger) *API {
	a := &API{keys: keys, trend: tr, log: log, mux: http.NewServeMux()}
	for _, prefix := range []string{"/api/v1", "/v2"} {
		a.route(prefix+"/cves", a.listCVEs(prefix == "/v2"))
		a.route(prefix+"/cves/{cve_id}", a.getCVE)
		a.route(prefix+"/cves/{cve_id}/posts", a.listPosts)
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
	a.mux.Handle("GET "+path, a.wrap(h))
	a.mux.Handle(path, a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", "GET, HEAD")
		return &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Detail: r.Method + " is not allowed here; use GET"}
	}))
}

// ServeHTTP authenticates the request, then routes it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.authenticate(r); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cvecrowd"`)
		a.writeError(w, r, err)
		return
	}
	a.mux.ServeHTTP(w, r)
}

func (a *API) authenticate(r *http.Request) error {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "missing API key: send Authorization: Bearer <key>"}
	}
	scheme, key, ok := strings.Cut(h[0], " ")
	key = strings.TrimSpace(key)
	if len(h) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") || key == "" || len(key) > 256 {
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "malformed Authorization header: want Bearer <key>"}
	}
	hash := apikey.Hash(key)
	k, err := a.keys.APIKeyByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "unknown API key"}
	}
	if err != nil {
		return err
	}
	// The lookup is by hash already; this keeps the final check constant-time.
	if subtle.ConstantTimeCompare([]byte(apikey.Hash(key)), []byte(hash)) != 1 || k.RevokedAt != nil {
		return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: "API key revoked"}
	}
	return nil
}

// intParam reads an optional integer parameter within [lo, hi].
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	vs, ok := r.URL.Query()[name]
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

func (a *API) listCVEs(v2 bool) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		d, err := days(r)
		if err != nil {
			return err
		}
		def := 0 // v1: everything
		if v2 {
			def = 100
		}
		limit, err := intParam(r, "limit", def, 1, MaxLimit)
		if err != nil {
			return err
		}
		offset, err := intParam(r, "offset", 0, 0, 1_000_000)
		if err != nil {
			return err
		}
		unpublished, err := includeUnpublished(r)
		if err != nil {
			return err
		}
		top := a.trend.Top
		if unpublished {
			top = a.trend.TopWithUnpublished
		}
		entries, err := top(r.Context(), d)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(entries))
		for _, e := range page(entries, offset, limit) {
			ids = append(ids, e.CVE)
		}
		writeJSON(w, http.StatusOK, ids)
		return nil
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
	c, err := a.cve(r, id, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewCVE(c))
	return nil
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

func (a *API) listPosts(w http.ResponseWriter, r *http.Request) error {
	id, err := cveID(r)
	if err != nil {
		return err
	}
	d, err := days(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 0, 1, MaxLimit)
	if err != nil {
		return err
	}
	offset, err := intParam(r, "offset", 0, 0, 1_000_000)
	if err != nil {
		return err
	}
	// Tells an unknown (or rejected, or unpublished) CVE from a known one
	// that is quiet in the window.
	if _, err := a.cve(r, id, d); err != nil {
		return err
	}
	posts, err := a.trend.Posts(r.Context(), id, d)
	if err != nil {
		return err
	}
	out := make([]Post, 0, len(posts))
	for _, p := range page(posts, offset, limit) {
		out = append(out, NewPost(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
