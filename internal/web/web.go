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

// PostsPerColumn bounds the posts rendered under one CVE on the home page.
const PostsPerColumn = 20

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

	statusFn StatusFunc // ingestion health; see SetStatus
}

// ContentSecurityPolicy allows nothing but the site's own stylesheet and
// images: post HTML is hostile, and no inline script may ever run.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New returns the site.
func New(tr Trend, log *slog.Logger) (*Site, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"ago":    ago,
		"weight": formatWeight,
		"pct":    func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
		"safe":   func(s string) template.HTML { return template.HTML(s) }, // content is sanitised at ingest
		"lag":    lag,
		"when":   when,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s := &Site{trend: tr, log: log, tmpl: t, mux: http.NewServeMux(), now: time.Now}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET /status", s.status)
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
	s.mux.ServeHTTP(w, r)
}

type column struct {
	trend.CVE
	Posts []trend.Post
	More  int // posts not shown
}

type homeData struct {
	Days    int
	Windows []int
	Columns []column
	Now     time.Time
	// Unpublished are mentioned CVEs without a published record (SPEC §3).
	Unpublished []rank.Entry
}

func (s *Site) home(w http.ResponseWriter, r *http.Request) {
	days := 1
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > trend.MaxDays {
			s.error(w, r, http.StatusBadRequest, fmt.Sprintf("days must be a whole number from 1 to %d.", trend.MaxDays))
			return
		}
		days = n
	}
	ctx := r.Context()
	entries, err := s.trend.Top(ctx, days)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	entries = rank.CapExclusive(entries, ExclusivePerAccount)
	if len(entries) > Columns {
		entries = entries[:Columns]
	}
	data := homeData{Days: days, Windows: []int{1, 7, 30}, Now: s.now()}
	for _, e := range entries {
		c, err := s.trend.CVE(ctx, e.CVE, days)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		posts, err := s.trend.Posts(ctx, e.CVE, days)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		col := column{CVE: c, Posts: posts}
		if len(posts) > PostsPerColumn {
			col.Posts, col.More = posts[:PostsPerColumn], len(posts)-PostsPerColumn
		}
		data.Columns = append(data.Columns, col)
	}
	if data.Unpublished, err = s.trend.Unpublished(ctx, days); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "home.html", data)
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
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
