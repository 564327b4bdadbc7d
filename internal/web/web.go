// Package web renders the server-side HTML pages: the CVE columns and their posts.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Columns is how many CVE columns the home page shows.
const Columns = 30

// PostsPerColumn bounds the posts rendered under one CVE on the home page;
// the CVE page lists them all.
const PostsPerColumn = 5

// ExclusivePerAccount caps single-account CVEs per account on the page (SPEC §4).
const ExclusivePerAccount = 5

// Trend is what the pages need.
type Trend interface {
	Top(ctx context.Context, days int) ([]rank.Entry, error)
	CVE(ctx context.Context, id string, days int) (trend.CVE, error)
	Posts(ctx context.Context, id string, days int) ([]trend.Post, error)
	Unpublished(ctx context.Context, days int) ([]rank.Entry, error)
}

// Site serves the pages.
type Site struct {
	trend Trend
	log   *slog.Logger
	tmpl  *template.Template
	mux   *http.ServeMux
	now   func() time.Time

	statusFn StatusFunc    // ingestion health; see SetStatus
	activity Activity      // optional: long timelines on the CVE page
	cacheTTL time.Duration // how long a rendered page is reused; 0 renders every time
	cache    pageCache
}

// ContentSecurityPolicy allows nothing but the site's own stylesheet and
// images: post HTML is hostile, and no inline script may ever run.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New returns the site.
func New(tr Trend, log *slog.Logger, opts ...Option) (*Site, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s := &Site{trend: tr, log: log, tmpl: t, mux: http.NewServeMux(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			s.error(w, r, http.StatusNotFound, "There is no page at this address.")
			return
		}
		files.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET /status", s.status)
	s.mux.HandleFunc("GET /cve/{id}", s.cvePage)
	s.mux.HandleFunc("GET /about", s.about)
	s.mux.HandleFunc("GET /feed.atom", s.feedAtom)
	s.mux.HandleFunc("GET /feed.json", s.feedJSON)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, http.StatusNotFound, "There is no page at this address.")
	})
	return s, nil
}

// ServeHTTP serves a page with the site's security headers.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// Every page of the site is read-only; forms live under /portal/.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		s.error(w, r, http.StatusMethodNotAllowed, "This page can only be read (GET).")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	days, ok := s.days(w, r, 1)
	if !ok {
		return
	}
	s.serveCached(w, r, "home "+strconv.Itoa(days), "text/html; charset=utf-8", func(ctx context.Context) ([]byte, error) {
		data, err := s.homeData(ctx, days)
		if err != nil {
			return nil, err
		}
		return s.execute("home.html", data)
	})
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	body, err := s.execute(name, data)
	if err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Site) execute(name string, data any) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, fmt.Errorf("web: render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func (s *Site) error(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error.html", struct {
		Status  int
		Title   string
		Message string
	}{status, http.StatusText(status), msg})
}

func (s *Site) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error("page failed", "path", r.URL.Path, "err", err)
	s.error(w, r, http.StatusInternalServerError, "Something went wrong on our side; it has been logged.")
}

func formatWeight(w float64) string { return strconv.FormatFloat(w, 'f', -1, 64) }

// ago renders a time relative to now, the way feeds readers expect.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}
