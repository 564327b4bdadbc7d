package web

import (
	"context"
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

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, posts ...store.Sighted) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x", Feed: "public", Posts: posts}); err != nil {
		t.Fatal(err)
	}
	tr := trend.New(db, time.Second)
	tr.SetClock(func() time.Time { return now })
	site, err := New(tr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	site.now = func() time.Time { return now }
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	return srv
}

func sighted(n int, account string, age time.Duration, reblogs int, content string, cves ...string) store.Sighted {
	uri := "https://x.example/s/" + string(rune('a'+n))
	return store.Sighted{Post: store.Post{
		URI: uri, URL: uri, CreatedAt: now.Add(-age), Content: sanitize.HTML(content), Reblogs: reblogs,
		Account: store.Account{URL: "https://x.example/@" + account, Acct: account, DisplayName: account},
		CVEs:    cves,
	}, LocalID: uri}
}

func fetch(t *testing.T, url string) (*http.Response, *html.Node) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc
}

// walk calls fn for every element node.
func walk(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func TestHomeOrderAndSafety(t *testing.T) {
	var posts []store.Sighted
	posts = append(posts,
		sighted(0, "alice", time.Hour, 0, `<p>CVE-2024-3094 <script>window.pwned=1</script><img src=x onerror="window.pwned=1"></p>`, "CVE-2024-3094"),
		sighted(1, "bob", time.Hour, 5, `<p>CVE-2021-44228 <a href="javascript:alert(1)">x</a></p>`, "CVE-2021-44228"),
	)
	// One account with seven CVEs of its own: the page shows its five heaviest.
	for i := range 7 {
		id := "CVE-2025-100" + string(rune('0'+i))
		posts = append(posts, sighted(2+i, "bot", time.Duration(i+2)*time.Hour, 0, "<p>"+id+"</p>", id))
	}
	srv := setup(t, posts...)
	resp, doc := fetch(t, srv.URL+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP = %q", csp)
	}
	var cves []string
	walk(doc, func(n *html.Node) {
		if v, ok := attr(n, "data-cve"); ok && n.Data == "section" {
			cves = append(cves, v)
		}
		switch n.Data {
		case "script", "img", "iframe", "object":
			t.Errorf("hostile element <%s> rendered", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || strings.Contains(strings.ToLower(a.Val), "javascript:") {
				t.Errorf("hostile attribute %s=%q on <%s>", a.Key, a.Val, n.Data)
			}
		}
	})
	want := []string{"CVE-2021-44228", "CVE-2024-3094", "CVE-2025-1000", "CVE-2025-1001", "CVE-2025-1002", "CVE-2025-1003", "CVE-2025-1004"}
	if strings.Join(cves, ",") != strings.Join(want, ",") {
		t.Fatalf("columns = %v, want %v", cves, want)
	}
}

func TestHomeWindowsAndErrors(t *testing.T) {
	srv := setup(t, sighted(0, "alice", 3*24*time.Hour, 0, "<p>CVE-2024-3094</p>", "CVE-2024-3094"))
	tests := []struct {
		path    string
		status  int
		columns int
	}{
		{"/", 200, 0},
		{"/?days=7", 200, 1},
		{"/?days=30", 200, 1},
		{"/?days=0", 400, 0},
		{"/?days=x", 400, 0},
		{"/nope", 404, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, doc := fetch(t, srv.URL+tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			n := 0
			walk(doc, func(x *html.Node) {
				if _, ok := attr(x, "data-cve"); ok {
					n++
				}
			})
			if n != tt.columns {
				t.Fatalf("columns = %d, want %d", n, tt.columns)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/static/style.css")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stylesheet: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestReadOnlyAndNoListings(t *testing.T) {
	srv := setup(t)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/", 405},
		{"DELETE", "/about", 405},
		{"PUT", "/static/style.css", 405},
		{"GET", "/static/", 404},
		{"GET", "/static/style.css", 200},
		{"HEAD", "/", 200},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
}
