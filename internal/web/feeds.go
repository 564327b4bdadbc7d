package web

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// FeedDays is the window the feeds follow: what is trending today.
const FeedDays = 1

// feedItem is one trending CVE as both feeds describe it.
type feedItem struct {
	ID      string
	URL     string
	Title   string
	Summary string
	Updated time.Time
}

// feedItems lists the page's 1-day board, with absolute links built from
// base so feed readers can follow them.
func (s *Site) feedItems(ctx context.Context, base string) ([]feedItem, time.Time, error) {
	entries, err := s.board(ctx, FeedDays)
	if err != nil {
		return nil, time.Time{}, err
	}
	updated := s.now().UTC().Truncate(time.Second)
	items := make([]feedItem, 0, len(entries))
	for _, e := range entries {
		c, err := s.trend.CVE(ctx, e.CVE, FeedDays)
		if err != nil {
			return nil, time.Time{}, err
		}
		items = append(items, feedItem{
			ID:      base + "/cve/" + e.CVE,
			URL:     base + "/cve/" + e.CVE,
			Title:   feedTitle(c),
			Summary: feedSummary(c),
			Updated: e.Newest.UTC().Truncate(time.Second),
		})
	}
	return items, updated, nil
}

func feedTitle(c trend.CVE) string {
	t := fmt.Sprintf("#%d %s", c.Position, c.CVE.ID)
	var vp []string
	for _, p := range []*string{c.Vendor, c.Product} {
		if p != nil && *p != "" {
			vp = append(vp, *p)
		}
	}
	if len(vp) > 0 {
		t += " — " + strings.Join(vp, " ")
	}
	if c.BaseSeverity != nil && c.BaseScore != nil {
		t += fmt.Sprintf(" (%s %.1f)", *c.BaseSeverity, *c.BaseScore)
	}
	return t
}

func feedSummary(c trend.CVE) string {
	s := fmt.Sprintf("%d post%s, %d interaction%s, weight %s in the last day.",
		c.Entry.Posts, plural(c.Entry.Posts), c.Interactions, plural(c.Interactions), formatWeight(c.Weight))
	if c.KEV {
		s += " In CISA's Known Exploited Vulnerabilities catalog."
	}
	if c.Description != nil && *c.Description != "" {
		s += " " + *c.Description
	}
	return s
}

// baseURL is the site's origin as the client reached it. A proxy that
// terminates TLS says so with X-Forwarded-Proto.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Atom 1.0 (RFC 4287) document types.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Summary string   `xml:"summary"`
}

func (s *Site) feedAtom(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	s.serveCached(w, r, "atom "+base, "application/atom+xml; charset=utf-8", func(ctx context.Context) ([]byte, error) {
		items, updated, err := s.feedItems(ctx, base)
		if err != nil {
			return nil, err
		}
		f := atomFeed{
			ID: base + "/feed.atom", Title: "cvecrowd: trending CVEs", Updated: updated.Format(time.RFC3339),
			Author: atomPerson{Name: "cvecrowd"},
			Links: []atomLink{
				{Rel: "self", Type: "application/atom+xml", Href: base + "/feed.atom"},
				{Rel: "alternate", Type: "text/html", Href: base + "/"},
			},
		}
		for _, it := range items {
			f.Entries = append(f.Entries, atomEntry{
				ID: it.ID, Title: it.Title, Updated: it.Updated.Format(time.RFC3339),
				Link: atomLink{Rel: "alternate", Type: "text/html", Href: it.URL}, Summary: it.Summary,
			})
		}
		out, err := xml.MarshalIndent(f, "", " ")
		if err != nil {
			return nil, fmt.Errorf("web: atom feed: %w", err)
		}
		return append([]byte(xml.Header), out...), nil
	})
}

// JSON Feed 1.1 (https://jsonfeed.org/version/1.1) document types.
type jsonFeed struct {
	Version     string       `json:"version"`
	Title       string       `json:"title"`
	HomePageURL string       `json:"home_page_url"`
	FeedURL     string       `json:"feed_url"`
	Description string       `json:"description"`
	Authors     []jsonAuthor `json:"authors"`
	Language    string       `json:"language"`
	Items       []jsonItem   `json:"items"`
}

type jsonAuthor struct {
	Name string `json:"name"`
}

type jsonItem struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	Title        string `json:"title"`
	ContentText  string `json:"content_text"`
	Summary      string `json:"summary"`
	DateModified string `json:"date_modified"`
}

func (s *Site) feedJSON(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	s.serveCached(w, r, "json "+base, "application/feed+json; charset=utf-8", func(ctx context.Context) ([]byte, error) {
		items, _, err := s.feedItems(ctx, base)
		if err != nil {
			return nil, err
		}
		f := jsonFeed{
			Version: "https://jsonfeed.org/version/1.1", Title: "cvecrowd: trending CVEs",
			HomePageURL: base + "/", FeedURL: base + "/feed.json",
			Description: "CVEs the Fediverse is discussing in the last day, heaviest first.",
			Authors:     []jsonAuthor{{Name: "cvecrowd"}}, Language: "en",
			Items: make([]jsonItem, 0, len(items)),
		}
		for _, it := range items {
			f.Items = append(f.Items, jsonItem{ID: it.ID, URL: it.URL, Title: it.Title,
				ContentText: it.Summary, Summary: it.Summary, DateModified: it.Updated.Format(time.RFC3339)})
		}
		out, err := json.MarshalIndent(f, "", " ")
		if err != nil {
			return nil, fmt.Errorf("web: json feed: %w", err)
		}
		return out, nil
	})
}
