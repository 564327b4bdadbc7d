package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/sanitize"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// Activity is the store's cheap per-CVE view: every post's time and counts
// without its content, and the content of the few posts a page shows. With
// it a column of a CVE with 40,000 posts reads 40,000 small rows and five
// posts, instead of 40,000 posts.
type Activity interface {
	Activity(ctx context.Context, id string, since time.Time) ([]store.Activity, error)
	PostsByID(ctx context.Context, ids []int64) ([]store.Post, error)
}

// boardTimer is implemented by trend.Service: the instant its board was
// computed, at which post weights add up to the CVE weights.
type boardTimer interface {
	BoardTime(ctx context.Context, days int) (time.Time, error)
}

// Option configures a Site.
type Option func(*Site)

// WithActivity lets the pages pick posts and draw timelines from a's cheap
// rows; without it they load every post of the window through Trend.
func WithActivity(a Activity) Option { return func(s *Site) { s.activity = a } }

// WithCacheTTL reuses a rendered home page or feed for ttl, the same span
// the ranking itself is cached for, so a busy page costs one render per
// window per ttl.
func WithCacheTTL(ttl time.Duration) Option { return func(s *Site) { s.cacheTTL = ttl } }

// Windows are the day spans the selector offers.
var Windows = []int{1, 7, 30}

// MaxCVEPagePosts bounds the posts listed on one CVE page; a CVE that
// gathers more in the window is rare and the rest are counted.
const MaxCVEPagePosts = 500

var funcs = template.FuncMap{
	"ago":    ago,
	"weight": formatWeight,
	// Content was sanitised when stored; it is sanitised again here so a
	// stricter policy protects posts stored before it, and a store written
	// by anything else cannot inject markup.
	"safe":   func(s string) template.HTML { return template.HTML(sanitize.HTML(s)) },
	"date":   func(t *time.Time) string { return t.UTC().Format("2006-01-02") },
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"score":  func(f *float64) string { return strconv.FormatFloat(*f, 'f', 1, 64) },
	"pct":    func(f *float64) string { return strconv.FormatFloat(*f*100, 'f', 2, 64) + "%" },
	"lower":  func(s *string) string { return strings.ToLower(*s) },
	"plural": plural,
	"clip":   clip,
	"postAt": func(p trend.Post, now time.Time) postView { return postView{p, now} },
	"lag":    lag,
	"when":   when,
}

// postView is a post with the instant its relative time is measured from.
type postView struct {
	trend.Post
	Now time.Time
}

// column is one CVE as the pages show it.
type column struct {
	trend.CVE
	Posts []trend.Post
	More  int // posts in the window not shown
	Graph template.HTML
}

type homeData struct {
	Base    string // the page the window selector links to
	Days    int
	Windows []int
	Columns []column
	Now     time.Time
	// Unpublished are mentioned CVEs without a published record (SPEC §3),
	// shown in their own lane.
	Unpublished []rank.Entry
}

// days reads the window from ?days=, answering 400 itself when it is bad.
func (s *Site) days(w http.ResponseWriter, r *http.Request, def int) (int, bool) {
	v := r.URL.Query().Get("days")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > trend.MaxDays {
		s.error(w, r, http.StatusBadRequest, fmt.Sprintf("days must be a whole number from 1 to %d.", trend.MaxDays))
		return 0, false
	}
	return n, true
}

// board is the page's list: the ranking with the user-exclusive cap, cut to
// the columns shown.
func (s *Site) board(ctx context.Context, days int) ([]rank.Entry, error) {
	entries, err := s.trend.Top(ctx, days)
	if err != nil {
		return nil, err
	}
	entries = rank.CapExclusive(entries, ExclusivePerAccount)
	if len(entries) > Columns {
		entries = entries[:Columns]
	}
	return entries, nil
}

func (s *Site) homeData(ctx context.Context, days int) (homeData, error) {
	entries, err := s.board(ctx, days)
	if err != nil {
		return homeData{}, err
	}
	now := s.now()
	data := homeData{Base: "/", Days: days, Windows: Windows, Now: now, Columns: make([]column, len(entries))}
	// Columns are independent reads; a few at a time overlap the
	// database's waits without flooding its connection pool.
	errs := make([]error, len(entries))
	sem := make(chan struct{}, columnReaders)
	var wg sync.WaitGroup
	for i, e := range entries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			data.Columns[i], errs[i] = s.column(ctx, e.CVE, days, now, PostsPerColumn, false)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return homeData{}, err
	}
	if data.Unpublished, err = s.trend.Unpublished(ctx, days); err != nil {
		return homeData{}, err
	}
	return data, nil
}

// columnReaders is how many columns of a page are read at once.
const columnReaders = 4

// column loads one CVE with its heaviest limit posts and its 24-hour graph,
// with a tooltip per bar when detailed.
func (s *Site) column(ctx context.Context, id string, days int, now time.Time, limit int, detailed bool) (column, error) {
	c, err := s.trend.CVE(ctx, id, days)
	if err != nil {
		return column{}, err
	}
	col := column{CVE: c}
	var events []Event
	if s.activity != nil {
		events, col.Posts, col.More, err = s.heaviest(ctx, id, days, now, limit)
		if err != nil {
			return column{}, err
		}
	} else {
		posts, err := s.trend.Posts(ctx, id, days)
		if err != nil {
			return column{}, err
		}
		events = make([]Event, 0, len(posts))
		for _, p := range posts {
			events = append(events, Event{At: p.CreatedAt, Interactions: p.Reblogs + p.Favourites})
		}
		col.Posts = posts
		if len(posts) > limit {
			col.Posts, col.More = posts[:limit], len(posts)-limit
		}
	}
	// Every window is at least a day, so the window's posts hold the last 24 hours.
	tl := BucketEvents(events, now, 24, time.Hour)
	tl.Tooltips = detailed
	col.Graph = tl.SVG("Posts about " + id + " per hour, last 24 hours")
	return col, nil
}

// heaviest weighs every post of the window from its counts alone, exactly
// as trend.Posts does (same weights, same instant, same order), and loads the
// content of the limit heaviest only.
func (s *Site) heaviest(ctx context.Context, id string, days int, now time.Time, limit int) ([]Event, []trend.Post, int, error) {
	at := now
	if bt, ok := s.trend.(boardTimer); ok {
		var err error
		if at, err = bt.BoardTime(ctx, days); err != nil {
			return nil, nil, 0, err
		}
	}
	acts, err := s.activity.Activity(ctx, id, rank.Window(days, at))
	if err != nil {
		return nil, nil, 0, err
	}
	events := make([]Event, len(acts))
	weighed := make([]rank.WeighedPost, len(acts))
	ids := make(map[string]int64, len(acts))
	for i, a := range acts {
		events[i] = Event{At: a.CreatedAt, Interactions: a.Reblogs + a.Favourites}
		weighed[i] = rank.WeighedPost{Weight: rank.PostWeight(a.Reblogs, a.Favourites, a.CreatedAt, at), CreatedAt: a.CreatedAt, Key: a.URI}
		ids[a.URI] = a.PostID
	}
	slices.SortFunc(weighed, rank.ComparePosts)
	more := 0
	if len(weighed) > limit {
		weighed, more = weighed[:limit], len(weighed)-limit
	}
	want := make([]int64, len(weighed))
	weights := make(map[int64]float64, len(weighed))
	for i, w := range weighed {
		want[i] = ids[w.Key]
		weights[want[i]] = w.Weight
	}
	// A post deleted between the two reads is simply missing.
	stored, err := s.activity.PostsByID(ctx, want)
	if err != nil {
		return nil, nil, 0, err
	}
	posts := make([]trend.Post, len(stored))
	for i, p := range stored {
		posts[i] = trend.Post{Post: p, Weight: weights[p.ID]}
	}
	return events, posts, more, nil
}

type cveData struct {
	column
	Base     string
	Days     int
	Windows  []int
	Now      time.Time
	Timeline template.HTML
	Span     string
}

// cvePage shows one CVE with all its posts of the window and a timeline of
// the whole 30 days.
func (s *Site) cvePage(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := cve.Parse(raw)
	if err != nil {
		s.error(w, r, http.StatusNotFound, "That is not a CVE ID; they look like CVE-2024-3094.")
		return
	}
	if string(id) != raw {
		http.Redirect(w, r, "/cve/"+string(id)+queryOf(r), http.StatusMovedPermanently)
		return
	}
	days, ok := s.days(w, r, trend.MaxDays)
	if !ok {
		return
	}
	ctx := r.Context()
	now := s.now()
	col, err := s.column(ctx, string(id), days, now, MaxCVEPagePosts, true)
	if errors.Is(err, store.ErrNotFound) {
		s.error(w, r, http.StatusNotFound, "No post we collected mentions "+string(id)+".")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := cveData{column: col, Base: "/cve/" + string(id), Days: days, Windows: Windows, Now: now}
	long, err := s.timeline(ctx, string(id), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data.Timeline, data.Span = long, "30 days"
	s.render(w, r, http.StatusOK, "cve.html", data)
}

// timeline draws the CVE's posts of the whole 30-day window in daily buckets.
func (s *Site) timeline(ctx context.Context, id string, now time.Time) (template.HTML, error) {
	var events []Event
	if s.activity != nil {
		acts, err := s.activity.Activity(ctx, id, rank.Window(trend.MaxDays, now))
		if err != nil {
			return "", err
		}
		events = make([]Event, len(acts))
		for i, a := range acts {
			events[i] = Event{At: a.CreatedAt, Interactions: a.Reblogs + a.Favourites}
		}
	} else {
		ps, err := s.trend.Posts(ctx, id, trend.MaxDays)
		if err != nil {
			return "", err
		}
		for _, p := range ps {
			events = append(events, Event{At: p.CreatedAt, Interactions: p.Reblogs + p.Favourites})
		}
	}
	tl := BucketEvents(events, now, trend.MaxDays, 24*time.Hour)
	tl.Tooltips = true
	return tl.SVG("Posts about " + id + " per day, last 30 days"), nil
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func (s *Site) about(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "about.html", struct {
		Windows             []int
		ExclusivePerAccount int
		Columns             int
	}{Windows, ExclusivePerAccount, Columns})
}

// clip shortens s to about n bytes at a word boundary, so thirty long CVE
// descriptions cannot blow up the home page; the CVE page shows them whole.
func clip(s *string, n int) string {
	if len(*s) <= n {
		return *s
	}
	cut := strings.LastIndexByte((*s)[:n], ' ')
	if cut < n/2 {
		cut = n
	}
	for cut > 0 && !utf8.RuneStart((*s)[cut]) {
		cut--
	}
	return strings.TrimRight((*s)[:cut], " ,.;:") + "…"
}
