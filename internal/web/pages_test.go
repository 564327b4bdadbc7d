package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/cvecrowd/cvecrowd/internal/sanitize"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// enrichedSite is setup with the CVE facts of log4shell filled in, as the
// enrichment stage would, and CVE-2024-3094 left unenriched.
func enrichedSite(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pages.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	posts := []store.Sighted{
		sighted(0, "alice", time.Hour, 2, `<p>Log4Shell again: CVE-2021-44228</p>`, "CVE-2021-44228"),
		sighted(1, "bob", 3*time.Hour, 0, `<p>CVE-2021-44228 <a href="https://logging.apache.org/">advisory</a></p>`, "CVE-2021-44228"),
		sighted(2, "carol", 26*time.Hour, 1, `<p>xz: CVE-2024-3094</p>`, "CVE-2024-3094"),
		sighted(3, "dave", 2*time.Hour, 0, `<p>xz: CVE-2024-3094</p>`, "CVE-2024-3094"),
	}
	if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x", Feed: "public", Posts: posts}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE cves SET description = 'Apache Log4j2 JNDI features <b>do not</b> protect', vendor = 'Apache Software Foundation',
		product = 'Apache Log4j2', published = $1, updated = $2, cvss_vector = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H',
		base_score = 10, base_severity = 'CRITICAL', epss = 0.94358, epss_percentile = 0.99961, kev = 1 WHERE cve_id = 'CVE-2021-44228'`,
		time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(2025, 2, 4, 14, 25, 0, 0, time.UTC).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	tr := trend.New(db, time.Second)
	tr.SetClock(func() time.Time { return now })
	site, err := New(tr, slog.New(slog.NewTextHandler(io.Discard, nil)), WithActivity(db), WithCacheTTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	site.now = func() time.Time { return now }
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	return srv
}

// find returns the elements matching a tiny selector: tag, optionally
// with .class (one class) or [attr] / [attr=value].
func find(doc *html.Node, tag, class string, attrKV ...string) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if tag != "" && n.Data != tag {
			return
		}
		if class != "" {
			c, _ := attr(n, "class")
			if !strings.Contains(" "+c+" ", " "+class+" ") {
				return
			}
		}
		for i := 0; i+1 < len(attrKV); i += 2 {
			v, ok := attr(n, attrKV[i])
			if !ok || (attrKV[i+1] != "" && v != attrKV[i+1]) {
				return
			}
		}
		out = append(out, n)
	})
	return out
}

// bars counts the bars of a graph: one path of "M…z" runs, or rects.
func bars(svg *html.Node) int {
	n := len(find(svg, "rect", "bar"))
	for _, p := range find(svg, "path", "bar") {
		d, _ := attr(p, "d")
		n += strings.Count(d, "M")
	}
	return n
}

func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func TestHomeColumns(t *testing.T) {
	srv := enrichedSite(t)
	resp, doc := fetch(t, srv.URL+"/?days=7")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cols := find(doc, "section", "column")
	if len(cols) != 2 {
		t.Fatalf("%d columns", len(cols))
	}
	t.Run("enriched column", func(t *testing.T) {
		c := cols[0]
		if id, _ := attr(c, "data-cve"); id != "CVE-2021-44228" {
			t.Fatalf("first column %s", id)
		}
		if a := find(c, "a", "cve", "href", "/cve/CVE-2021-44228"); len(a) != 1 {
			t.Error("no link to the CVE page")
		}
		checks := map[string]string{}
		for _, dl := range find(c, "dl", "facts") {
			for _, d := range find(dl, "div", "") {
				checks[text(find(d, "dt", "")[0])] = text(find(d, "dd", "")[0])
			}
		}
		want := map[string]string{
			"Product":   "Apache Software Foundation / Apache Log4j2",
			"Published": "2021-12-10 · updated 2025-02-04",
			"CVSS":      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
			"EPSS":      "94.36% (percentile 99.96%)",
		}
		for k, v := range want {
			if checks[k] != v {
				t.Errorf("%s = %q, want %q", k, checks[k], v)
			}
		}
		if sev := find(c, "span", "sev-critical"); len(sev) != 1 || text(sev[0]) != "CRITICAL 10.0" {
			t.Errorf("severity badge %v", sev)
		}
		if kev := find(c, "abbr", "kev"); len(kev) != 1 {
			t.Error("no KEV badge")
		}
		if d := find(c, "p", "desc"); len(d) != 1 || text(d[0]) != "Apache Log4j2 JNDI features <b>do not</b> protect" {
			t.Errorf("description (escaped as text) = %v", d)
		}
		if g := find(c, "svg", "graph", "role", "img"); len(g) != 1 || bars(g[0]) != 2 {
			t.Error("24-hour graph missing or without its two bars")
		}
		posts := find(c, "li", "post")
		if len(posts) != 2 || !strings.Contains(text(posts[0]), "Log4Shell again") {
			t.Fatalf("posts %d, heaviest first", len(posts))
		}
		if a := find(posts[0], "a", "time", "href", "https://x.example/s/a", "rel", "nofollow"); len(a) != 1 || text(a[0]) != "1h ago, original post" {
			t.Errorf("link to the original: %v", a)
		}
		if a := find(posts[1], "a", "", "href", "https://logging.apache.org/", "rel", ""); len(a) != 1 {
			t.Error("sanitised link in content missing")
		} else if rel, _ := attr(a[0], "rel"); !strings.Contains(rel, "nofollow") || !strings.Contains(rel, "noopener") {
			t.Errorf("content link rel %q", rel)
		}
	})
	t.Run("unenriched column omits the facts", func(t *testing.T) {
		c := cols[1]
		if len(find(c, "dl", "facts"))+len(find(c, "span", "sev"))+len(find(c, "abbr", "kev"))+len(find(c, "p", "desc")) != 0 {
			t.Error("facts rendered for a CVE enrichment has not reached")
		}
		if strings.Contains(text(c), "<nil>") || strings.Contains(text(c), "0x") {
			t.Errorf("null fields leak: %q", text(c))
		}
		if len(find(c, "li", "post")) != 2 {
			t.Error("7-day window should list both posts")
		}
	})
	t.Run("layout", func(t *testing.T) {
		if s := find(doc, "a", "skip", "href", "#main"); len(s) != 1 {
			t.Error("no skip link")
		}
		if m := find(doc, "main", "", "id", "main"); len(m) != 1 {
			t.Error("no #main")
		}
		cur := find(doc, "a", "", "aria-current", "page")
		if len(cur) != 1 || text(cur[0]) != "7 days" {
			t.Errorf("window selector marks %v", cur)
		}
		for _, n := range find(doc, "", "") {
			switch n.Data {
			case "script", "style", "iframe":
				t.Errorf("<%s> on the page", n.Data)
			}
			if _, ok := attr(n, "style"); ok {
				t.Errorf("inline style on <%s>: the CSP blocks it", n.Data)
			}
			for _, k := range []string{"src", "href"} {
				if v, ok := attr(n, k); ok && n.Data != "a" && !strings.HasPrefix(v, "/") {
					t.Errorf("<%s %s=%q> loads an external resource", n.Data, k, v)
				}
			}
		}
	})
}

func TestCVEPage(t *testing.T) {
	srv := enrichedSite(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path     string
		status   int
		posts    int
		location string
	}{
		{"/cve/CVE-2021-44228", 200, 2, ""},
		{"/cve/CVE-2024-3094", 200, 2, ""},
		{"/cve/CVE-2024-3094?days=1", 200, 1, ""},
		{"/cve/cve-2024-3094?days=7", 301, 0, "/cve/CVE-2024-3094?days=7"},
		{"/cve/CVE-1999-0001", 404, 0, ""},
		{"/cve/CVE-2024-30945678", 404, 0, ""},
		{"/cve/%3Cscript%3E", 404, 0, ""},
		{"/cve/CVE-2024-3094?days=31", 400, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := noRedirect.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if loc := resp.Header.Get("Location"); loc != tt.location {
				t.Fatalf("Location %q, want %q", loc, tt.location)
			}
			if ct := resp.Header.Get("Content-Type"); tt.status != 301 && ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q: errors are HTML pages", ct)
			}
			doc, err := html.Parse(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(find(doc, "li", "post")); n != tt.posts {
				t.Errorf("%d posts, want %d", n, tt.posts)
			}
			if tt.status != 200 {
				return
			}
			hosts := map[string]bool{}
			for _, a := range find(doc, "ul", "links") {
				for _, l := range find(a, "a", "") {
					h, _ := attr(l, "href")
					hosts[strings.Split(strings.TrimPrefix(h, "https://"), "/")[0]] = true
				}
			}
			for _, h := range []string{"nvd.nist.gov", "www.cve.org", "api.first.org"} {
				if !hosts[h] {
					t.Errorf("no link to %s", h)
				}
			}
			graphs := find(doc, "svg", "graph")
			if len(graphs) != 2 || len(find(graphs[1], "title", "")) == 0 {
				t.Fatalf("%d graphs", len(graphs))
			}
			// The 30-day timeline counts every stored post, whatever the window.
			if bars := find(graphs[1], "rect", "bar"); len(bars) == 0 || len(find(bars[0], "title", "")) != 1 {
				t.Error("30-day timeline has no bars")
			}
		})
	}
}

func TestAboutPage(t *testing.T) {
	srv := enrichedSite(t)
	resp, doc := fetch(t, srv.URL+"/about")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body := text(doc)
	for _, want := range []string{"public", "bot", "discoverable: false", "noindex: true", "#nobot", "#noindex", "opt out"} {
		if !strings.Contains(body, want) {
			t.Errorf("About page does not mention %q", want)
		}
	}
	if len(find(doc, "a", "", "href", "/status")) == 0 {
		t.Error("no link to the status page")
	}
}

func TestFeeds(t *testing.T) {
	srv := enrichedSite(t)
	t.Run("atom", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/feed.atom")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		// RFC 4287 §4.1.1: a feed has exactly one id, title and updated, an
		// author (or every entry has one), and entries with id, title,
		// updated; times are RFC 3339.
		var f struct {
			XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
			ID      []string `xml:"id"`
			Title   []string `xml:"title"`
			Updated []string `xml:"updated"`
			Author  []struct {
				Name string `xml:"name"`
			} `xml:"author"`
			Links []struct {
				Rel  string `xml:"rel,attr"`
				Href string `xml:"href,attr"`
			} `xml:"link"`
			Entries []struct {
				ID      []string `xml:"id"`
				Title   []string `xml:"title"`
				Updated []string `xml:"updated"`
				Summary string   `xml:"summary"`
				Link    struct {
					Href string `xml:"href,attr"`
				} `xml:"link"`
			} `xml:"entry"`
		}
		if err := xml.NewDecoder(resp.Body).Decode(&f); err != nil {
			t.Fatalf("not Atom XML: %v", err)
		}
		if len(f.ID) != 1 || len(f.Title) != 1 || len(f.Updated) != 1 || len(f.Author) != 1 || f.Author[0].Name == "" {
			t.Fatalf("feed metadata %+v", f)
		}
		if _, err := time.Parse(time.RFC3339, f.Updated[0]); err != nil {
			t.Errorf("feed updated: %v", err)
		}
		self := false
		for _, l := range f.Links {
			self = self || (l.Rel == "self" && l.Href == srv.URL+"/feed.atom")
		}
		if !self {
			t.Error("no rel=self link")
		}
		// The 1-day trending list: log4shell, then xz (its 2-hour-old post).
		if len(f.Entries) != 2 {
			t.Fatalf("%d entries", len(f.Entries))
		}
		e := f.Entries[0]
		if len(e.ID) != 1 || e.ID[0] != srv.URL+"/cve/CVE-2021-44228" || len(e.Title) != 1 || len(e.Updated) != 1 || e.Link.Href != e.ID[0] {
			t.Fatalf("entry %+v", e)
		}
		if !strings.Contains(e.Title[0], "CVE-2021-44228") || !strings.Contains(e.Title[0], "CRITICAL 10.0") || !strings.Contains(e.Summary, "Known Exploited") {
			t.Errorf("entry title %q summary %q", e.Title[0], e.Summary)
		}
		if _, err := time.Parse(time.RFC3339, e.Updated[0]); err != nil {
			t.Errorf("entry updated: %v", err)
		}
	})
	t.Run("json feed", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/feed.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/feed+json; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		// JSON Feed 1.1: version, title and items are required; each item
		// needs an id (a string) and content_html or content_text.
		var f map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
			t.Fatal(err)
		}
		if f["version"] != "https://jsonfeed.org/version/1.1" || f["title"] == "" || f["feed_url"] != srv.URL+"/feed.json" {
			t.Fatalf("feed %v", f)
		}
		items, ok := f["items"].([]any)
		if !ok || len(items) != 2 {
			t.Fatalf("items %v", f["items"])
		}
		for _, it := range items {
			m := it.(map[string]any)
			id, ok := m["id"].(string)
			if !ok || id == "" {
				t.Errorf("item id %v", m["id"])
			}
			if s, _ := m["content_text"].(string); s == "" {
				t.Errorf("item %s has no content", id)
			}
			if d, _ := m["date_modified"].(string); d != "" {
				if _, err := time.Parse(time.RFC3339, d); err != nil {
					t.Errorf("date_modified: %v", err)
				}
			}
		}
		if items[0].(map[string]any)["url"] != srv.URL+"/cve/CVE-2021-44228" {
			t.Errorf("first item %v", items[0])
		}
	})
}

// TestFastPathAgreesWithTrend checks that columns built from the store's
// cheap rows (WithActivity) show exactly the posts, order and weights that
// trend.Posts gives, across windows, the 12-hour penalty and ties.
func TestFastPathAgreesWithTrend(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "agree.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var posts []store.Sighted
	for i := range 40 {
		age := time.Duration(i*i)*time.Hour/3 + time.Minute // from a minute to ~21 days
		p := sighted(i, fmt.Sprintf("acct%d", i%7), age, i%4, fmt.Sprintf("<p>post %d</p>", i), "CVE-2024-3094")
		p.URI = fmt.Sprintf("https://x.example/s/%02d", i)
		p.URL, p.LocalID, p.Favourites = p.URI, p.URI, (i*7)%5
		if i%3 == 0 {
			p.CVEs = append(p.CVEs, "CVE-2021-44228")
		}
		posts = append(posts, p)
	}
	if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x", Feed: "public", Posts: posts}); err != nil {
		t.Fatal(err)
	}
	tr := trend.New(db, time.Minute)
	tr.SetClock(func() time.Time { return now })
	render := func(opts ...Option) map[string]string {
		site, err := New(tr, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
		if err != nil {
			t.Fatal(err)
		}
		site.now = func() time.Time { return now }
		srv := httptest.NewServer(site)
		defer srv.Close()
		out := map[string]string{}
		for _, path := range []string{"/?days=1", "/?days=7", "/?days=30", "/cve/CVE-2024-3094?days=7", "/cve/CVE-2021-44228"} {
			_, doc := fetch(t, srv.URL+path)
			var b strings.Builder
			for _, p := range find(doc, "li", "post") {
				href, _ := attr(find(p, "a", "time")[0], "href")
				fmt.Fprintf(&b, "%s=%s ", href, text(find(p, "span", "pw")[0]))
			}
			for _, m := range find(doc, "p", "more") {
				b.WriteString(text(m))
			}
			for _, g := range find(doc, "svg", "graph") {
				b.WriteString(text(find(g, "desc", "")[0]))
			}
			out[path] = b.String()
		}
		return out
	}
	slow, fast := render(), render(WithActivity(db))
	for path, want := range slow {
		if fast[path] != want {
			t.Errorf("%s\nfast path: %s\ntrend:     %s", path, fast[path], want)
		}
		if !strings.Contains(want, "=") {
			t.Errorf("%s shows no posts", path)
		}
	}
}

// TestGzip checks cached pages go out compressed to clients that ask, and
// identical once decompressed.
func TestGzip(t *testing.T) {
	srv := enrichedSite(t)
	for _, path := range []string{"/?days=7", "/feed.atom", "/feed.json"} {
		t.Run(path, func(t *testing.T) {
			get := func(enc string) (*http.Response, []byte) {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.Header.Set("Accept-Encoding", enc) // set by hand: the client then leaves the body alone
				resp, err := http.DefaultTransport.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, b
			}
			plainResp, plain := get("identity")
			gzResp, gz := get("br;q=1.0, gzip;q=0.8")
			if plainResp.Header.Get("Content-Encoding") != "" || gzResp.Header.Get("Content-Encoding") != "gzip" ||
				!strings.Contains(gzResp.Header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("encodings %q / %q, Vary %q", plainResp.Header.Get("Content-Encoding"), gzResp.Header.Get("Content-Encoding"), gzResp.Header.Get("Vary"))
			}
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			if err != nil {
				t.Fatal(err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, plain) || len(gz) >= len(plain) {
				t.Fatalf("gzip body: %v, %d bytes for %d plain", err, len(gz), len(plain))
			}
			if _, b := get("gzip;q=0"); !bytes.Equal(b, plain) {
				t.Error("gzip;q=0 still got gzip")
			}
		})
	}
}

// TestHomeWeightBudget fills the home page to the brim — 30 columns, every
// CVE enriched with a long description, 5 posts shown in each — and checks
// the page stays under 150 KB before the posts' own data (content, links,
// names).
func TestHomeWeightBudget(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "weight.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	content := `<p><span class="h-card"><a href="https://infosec.exchange/@someone" class="u-url mention">@<span>someone</span></a></span> Exploitation in the wild of CVE-2025-1000, patch now: <a href="https://nvd.nist.gov/vuln/detail/CVE-2025-1000" rel="nofollow noopener noreferrer" target="_blank"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/CVE-20</span><span class="invisible">25-1000</span></a> <a href="https://infosec.exchange/tags/cve" class="mention hashtag" rel="tag">#<span>cve</span></a></p>`
	var posts []store.Sighted
	perPost := 0
	for c := range 32 {
		id := fmt.Sprintf("CVE-2025-%d", 10000+c)
		for k := range 7 {
			uri := fmt.Sprintf("https://mastodon.example/users/analyst%04d/statuses/1134567890123456%02d%d", k, c, k)
			acct := fmt.Sprintf("https://mastodon.example/@analyst%04d", k)
			p := store.Sighted{Post: store.Post{
				URI: uri, URL: uri, CreatedAt: now.Add(-time.Duration(c*7+k) * 5 * time.Minute), Content: content,
				Reblogs: 100 - c, Favourites: 1000 - c*3 - k, Replies: 12,
				Account: store.Account{URL: acct, Acct: fmt.Sprintf("analyst%04d@mastodon.example", k), DisplayName: fmt.Sprintf("Security Analyst %04d", k)},
				CVEs:    []string{id},
			}, LocalID: uri}
			perPost = len(sanitize.HTML(content)) + len(p.URL) + len(p.Account.URL) + len(p.Account.Acct) + len(p.Account.DisplayName)
			posts = append(posts, p)
		}
	}
	if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x", Feed: "public", Posts: posts}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	desc := strings.Repeat("A use-after-free in the request parser of Example Server allows a remote unauthenticated attacker to execute arbitrary code. ", 12)
	if _, err := raw.Exec(`UPDATE cves SET description = $1, vendor = 'Example Software Foundation', product = 'Example HTTP Server Enterprise Edition',
		published = $2, updated = $2, cvss_vector = 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H', base_score = 10,
		base_severity = 'CRITICAL', epss = 0.97512, epss_percentile = 0.99987, kev = 1, verified = 1`, desc, now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	tr := trend.New(db, time.Minute)
	tr.SetClock(func() time.Time { return now })
	site, err := New(tr, slog.New(slog.NewTextHandler(io.Discard, nil)), WithActivity(db))
	if err != nil {
		t.Fatal(err)
	}
	site.now = func() time.Time { return now }
	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.Bytes()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	cols, shown := len(find(doc, "section", "column")), len(find(doc, "li", "post"))
	if cols != Columns || shown != Columns*PostsPerColumn || len(find(doc, "dl", "facts")) != Columns {
		t.Fatalf("%d columns, %d posts: the page is not full", cols, shown)
	}
	chrome := len(page) - shown*perPost
	gz := (&cachedPage{body: page}).gzipped()
	t.Logf("page %d bytes, %d before posts' own data (%d posts × %d), %d gzipped", len(page), chrome, shown, perPost, len(gz))
	if chrome >= 150_000 {
		t.Errorf("page weighs %d bytes before posts' own data, budget 150000", chrome)
	}
}
