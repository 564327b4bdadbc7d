package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// The browser suite drives Debian's chromium against the real program. It
// is slow and needs the browser, so it runs only when CVECROWD_BROWSER is set
// (.ci/run does). Screenshots go to CVECROWD_ARTIFACTS, or a temporary
// directory named in the log.

// hostileContent is stored as it is, bypassing the ingest-time sanitiser,
// so the page's own defences are what stands between it and the browser.
// Every payload would set window.__pwned if it ran.
const hostileContent = `<p>CVE-2021-44228 payloads:</p>
<script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 2">
<a href="javascript:window.__pwned = 3">click</a>
<a href="jav&#x09;ascript:window.__pwned = 4">tab</a>
<svg onload="window.__pwned = 5"><script>window.__pwned = 6</script></svg>
<iframe srcdoc="<script>parent.__pwned = 7</script>"></iframe>
<details open ontoggle="window.__pwned = 8"><summary>x</summary></details>
<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned = 9"></style></mglyph></table></mtext></math>
<style>body { background: red }</style>
<p style="background:url(javascript:window.__pwned=10)">styled</p>
<form action="javascript:window.__pwned=11"><button>go</button></form>
<object data="data:text/html,<script>parent.__pwned=12</script>"></object>
<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=13">`

type cveFacts struct {
	ID           string    `json:"cve_id"`
	Published    time.Time `json:"published"`
	Updated      time.Time `json:"updated"`
	Description  string    `json:"description"`
	Vendor       *string   `json:"vendor"`
	Product      *string   `json:"product"`
	CVSSVector   *string   `json:"cvss_vector"`
	BaseScore    *float64  `json:"base_score"`
	BaseSeverity *string   `json:"base_severity"`
}

func TestBrowser(t *testing.T) {
	if os.Getenv("CVECROWD_BROWSER") == "" {
		t.Skip("set CVECROWD_BROWSER=1 to run the browser tests (needs chromium)")
	}
	chromium := cmpOr(os.Getenv("CVECROWD_CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium: %v (apt-get install -y chromium, or set CVECROWD_CHROMIUM)", err)
	}
	artefacts := os.Getenv("CVECROWD_ARTIFACTS")
	if artefacts == "" {
		artefacts = t.TempDir()
	}
	must(t, os.MkdirAll(artefacts, 0o755))
	t.Logf("screenshots in %s", artefacts)

	m, key := bootBrowserSeeded(t)
	base := m.URL()

	ctx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1440, 900))
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	must(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return err
	})))
	console := collectConsole(ctx)

	// run bounds one step, keeping the browser (bound to ctx) alive.
	run := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(t *testing.T, js string, v any) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		raw, err := chromedp.Run(sctx, chromedp.Evaluate[[]byte](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		must(t, json.Unmarshal(raw, v))
	}
	viewport := func(w, h int64, dark bool) chromedp.Action[chromedp.Void] {
		scheme := "light"
		if dark {
			scheme = "dark"
		}
		return chromedp.Steps(chromedp.EmulateViewport(w, h), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		}))
	}
	screenshot := func(t *testing.T, name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
		must(t, err)
		path := filepath.Join(artefacts, name)
		must(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot %s (%d bytes)", path, len(png))
	}

	t.Run("home loads clean in API order", func(t *testing.T) {
		console.reset()
		run(t, viewport(1440, 900, false), chromedp.Navigate(base+"/"), chromedp.WaitVisible("section.column"))
		var page []string
		eval(t, `[...document.querySelectorAll("section.column")].map(s => s.dataset.cve)`, &page)
		var api []string
		if status := (client{t: t, base: base, key: key}).get("/api/v1/cves?days=1", &api); status != 200 {
			t.Fatalf("API status %d", status)
		}
		if len(page) == 0 || page[0] != api[0] || !isSubsequence(page, api) {
			t.Fatalf("page columns %v are not in the API order %v", page, api)
		}
		var links []string
		eval(t, `[...document.querySelectorAll("section.column h2 a.cve")].map(a => a.getAttribute("href"))`, &links)
		for i, id := range page {
			if links[i] != "/cve/"+id {
				t.Errorf("column %d links to %q, want /cve/%s", i, links[i], id)
			}
		}
		var graphs int
		eval(t, `[...document.querySelectorAll("section.column svg.graph path.bar")].filter(p => p.getBBox().height > 0).length`, &graphs)
		if graphs == 0 {
			t.Error("no graph bars rendered")
		}
		screenshot(t, "home-1440-light.png")
		run(t, viewport(1440, 900, true))
		screenshot(t, "home-1440-dark.png")
		run(t, viewport(2560, 1200, false))
		screenshot(t, "home-2560-light.png")
		console.assertClean(t)
	})

	t.Run("hostile post runs no script", func(t *testing.T) {
		console.reset()
		run(t, viewport(1440, 900, false), chromedp.Navigate(base+"/cve/CVE-2021-44228"), chromedp.WaitVisible("ol.posts"))
		time.Sleep(300 * time.Millisecond) // let any late handler (onerror, ontoggle) fire
		var state struct {
			Pwned   bool `json:"pwned"`
			Hostile int  `json:"hostile"`
			Found   bool `json:"found"`
		}
		eval(t, `({pwned: window.__pwned !== undefined,
			hostile: document.querySelectorAll(".content :is(script,img,svg,math,iframe,object,style,form,details,meta,[style])").length,
			found: [...document.querySelectorAll(".content")].some(c => c.textContent.includes("payloads"))})`, &state)
		if !state.Found {
			t.Fatal("the hostile post is not on the CVE page")
		}
		if state.Pwned {
			t.Error("a payload ran: window.__pwned is set")
		}
		if state.Hostile != 0 {
			t.Errorf("%d hostile elements survived in post content", state.Hostile)
		}
		var hrefs []string
		eval(t, `[...document.querySelectorAll(".content a")].map(a => a.href)`, &hrefs)
		for _, h := range hrefs {
			if !strings.HasPrefix(h, "http://") && !strings.HasPrefix(h, "https://") {
				t.Errorf("post link %q is not http(s)", h)
			}
		}
		console.assertClean(t)
	})

	t.Run("window selector", func(t *testing.T) {
		console.reset()
		run(t, viewport(1440, 900, false), chromedp.Navigate(base+"/"),
			chromedp.Click(`nav.windows a[href="/?days=7"]`),
			chromedp.WaitVisible(`nav.windows a[aria-current="page"][href="/?days=7"]`))
		var got struct {
			Search  string   `json:"search"`
			Columns []string `json:"columns"`
		}
		eval(t, `({search: location.search, columns: [...document.querySelectorAll("section.column")].map(s => s.dataset.cve)})`, &got)
		var api []string
		(client{t: t, base: base, key: key}).get("/api/v1/cves?days=7", &api)
		if got.Search != "?days=7" || len(got.Columns) == 0 || got.Columns[0] != api[0] || !isSubsequence(got.Columns, api) {
			t.Fatalf("after clicking 7 days: %+v, API order %v", got, api)
		}
		console.assertClean(t)
	})

	t.Run("keyboard", func(t *testing.T) {
		console.reset()
		run(t, viewport(1440, 900, false), chromedp.Navigate(base+"/"), chromedp.WaitVisible("section.column"))
		type focused struct {
			Tag     string `json:"tag"`
			Href    string `json:"href"`
			Class   string `json:"cls"`
			Outline string `json:"outline"`
		}
		var order []focused
		for range 40 {
			run(t, chromedp.KeyEvent(kb.Tab))
			var f focused
			eval(t, `(e => ({tag: e.tagName, href: e.getAttribute("href") || "", cls: e.className || "", outline: getComputedStyle(e).outlineStyle}))(document.activeElement)`, &f)
			order = append(order, f)
		}
		if order[0].Class != "skip" {
			t.Errorf("first tab stop is %+v, want the skip link", order[0])
		}
		var selector, cveLink int = -1, -1
		for i, f := range order {
			if f.Outline == "none" {
				t.Errorf("tab stop %d (%s %s) has no visible focus outline", i, f.Tag, f.Href)
			}
			if selector < 0 && f.Href == "/?days=7" {
				selector = i
			}
			if cveLink < 0 && f.Class == "cve" {
				cveLink = i
			}
		}
		if selector < 0 || cveLink < 0 || selector > cveLink {
			t.Fatalf("tab order reaches window selector at %d and first CVE link at %d: %+v", selector, cveLink, order)
		}
		// The skip link moves focus past the header.
		run(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible("section.column"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
		var active string
		eval(t, `document.activeElement.id`, &active)
		if active != "main" {
			t.Errorf("after the skip link, focus is on #%s, want #main", active)
		}
		console.assertClean(t)
	})

	t.Run("phone width", func(t *testing.T) {
		console.reset()
		run(t, viewport(390, 844, false), chromedp.Navigate(base+"/"), chromedp.WaitVisible("section.column"))
		var w struct {
			Scroll int `json:"scroll"`
			Column int `json:"column"`
		}
		eval(t, `({scroll: document.documentElement.scrollWidth, column: Math.round(document.querySelector("section.column").getBoundingClientRect().width)})`, &w)
		if w.Scroll > 390 {
			t.Errorf("page is %d px wide at a 390 px viewport: it scrolls sideways", w.Scroll)
		}
		if w.Column < 300 {
			t.Errorf("a column is %d px wide on a phone, want the full width", w.Column)
		}
		screenshot(t, "home-390-light.png")
		run(t, viewport(390, 844, true))
		screenshot(t, "home-390-dark.png")
		run(t, viewport(390, 844, false), chromedp.Navigate(base+"/cve/CVE-2024-3094"), chromedp.WaitVisible("h1"))
		screenshot(t, "cve-390-light.png")
		console.assertClean(t)
	})

	t.Run("CVE page and 404", func(t *testing.T) {
		console.reset()
		run(t, viewport(1440, 900, false), chromedp.Navigate(base+"/cve/CVE-2024-3094"), chromedp.WaitVisible("h1"))
		var got struct {
			H1     string   `json:"h1"`
			Graphs int      `json:"graphs"`
			Links  []string `json:"links"`
			Posts  int      `json:"posts"`
		}
		eval(t, `({h1: document.querySelector("h1").textContent, graphs: document.querySelectorAll("svg.graph").length,
			links: [...document.querySelectorAll("ul.links a")].map(a => a.hostname), posts: document.querySelectorAll("li.post").length})`, &got)
		if got.H1 != "CVE-2024-3094" || got.Graphs != 2 || got.Posts == 0 ||
			!slices.Contains(got.Links, "nvd.nist.gov") || !slices.Contains(got.Links, "www.cve.org") || !slices.Contains(got.Links, "api.first.org") {
			t.Fatalf("CVE page: %+v", got)
		}
		screenshot(t, "cve-1440-light.png")
		run(t, chromedp.Navigate(base+"/about"), chromedp.WaitVisible("h1"))
		screenshot(t, "about-1440-light.png")
		console.assertClean(t)
		// A 404 is reported on the console as a failed load; that is expected here.
		run(t, chromedp.Navigate(base+"/cve/CVE-1999-0000"), chromedp.WaitVisible("h1"))
		var h1 string
		eval(t, `document.querySelector("h1").textContent`, &h1)
		if !strings.HasPrefix(h1, "404") {
			t.Fatalf("unknown CVE page h1 = %q", h1)
		}
		// The collector must see that failed load, or the clean-console
		// checks above prove nothing.
		if !console.has(func(m chromedp.ConsoleMessage) bool {
			return m.Type == chromedp.ConsoleError && strings.Contains(m.Text, "404")
		}) {
			t.Error("the console collector did not report the 404; console checks are blind")
		}
	})
}

// bootBrowserSeeded boots the program over the fake Fediverse serving the real
// corpus, adds posts about four real CVEs with their official facts and one
// hostile post, and returns it with an API key.
func bootBrowserSeeded(t *testing.T) (*Main, string) {
	t.Helper()
	ctx := context.Background()
	posts, err := fakefedi.LoadCorpusFile(corpusDir + "corpus.jsonl")
	must(t, err)
	engagement := fakefedi.SyntheticEngagement(7)
	fake, ts := fakefedi.NewTestServer(t, posts, fakefedi.Options{Engagement: engagement})
	dbPath := filepath.Join(t.TempDir(), "browser.db")
	m := NewMain(Config{DB: dbPath, Listen: "127.0.0.1:0", Instances: []string{ts.URL}, PollInterval: 200 * time.Millisecond,
		CacheTTL: 100 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, m.Run(ctx))
	t.Cleanup(func() { m.Close() })
	want := len(expectedPosts(t, fake, engagement))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n, err := m.DB.PostCount(ctx)
		must(t, err)
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d posts stored, want %d", n, want)
		}
	}

	raw, err := os.ReadFile("testdata/browser/cve5-facts.json")
	must(t, err)
	var facts []cveFacts
	must(t, json.Unmarshal(raw, &facts))
	now := time.Now()
	var seeded []store.Sighted
	for i, f := range facts {
		// A few accounts each, spread over the last day, so graphs have shape.
		for j := range 3 + 2*(len(facts)-i) {
			uri := fmt.Sprintf("https://seed.example/@analyst%d/%d%d", j, i, j)
			seeded = append(seeded, store.Sighted{Post: store.Post{
				URI: uri, URL: uri, CreatedAt: now.Add(-time.Duration(j*5+i) * time.Hour / 2),
				Content: fmt.Sprintf(`<p>Patch now: <a href="https://nvd.nist.gov/vuln/detail/%[1]s" rel="nofollow noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/%[1]s</span><span class="invisible"></span></a> <a href="https://seed.example/tags/%[2]s" class="mention hashtag" rel="tag">#<span>%[2]s</span></a></p>`,
					f.ID, strings.ToLower(strings.ReplaceAll(f.ID, "-", ""))),
				Reblogs: (len(facts) - i) * (j + 1), Favourites: 3 * j,
				Account: store.Account{URL: fmt.Sprintf("https://seed.example/@analyst%d", j), Acct: fmt.Sprintf("analyst%d@seed.example", j), DisplayName: fmt.Sprintf("Analyst %d", j)},
				CVEs:    []string{f.ID},
			}, LocalID: uri})
		}
	}
	seeded = append(seeded, store.Sighted{Post: store.Post{
		URI: "https://evil.example/@mallory/1", URL: "https://evil.example/@mallory/1", CreatedAt: now.Add(-20 * time.Minute),
		Content: hostileContent, Reblogs: 50,
		Account: store.Account{URL: "https://evil.example/@mallory", Acct: "mallory@evil.example", DisplayName: `<img src=x onerror="window.__pwned=20">Mallory`},
		CVEs:    []string{"CVE-2021-44228"},
	}, LocalID: "evil-1"})
	_, err = m.DB.SaveBatch(ctx, store.Batch{Instance: "https://seed.example", Feed: "test", Posts: seeded})
	must(t, err)

	// Stand in for the enrichment stage: write the official facts.
	sqldb, err := sql.Open("sqlite", dbPath)
	must(t, err)
	defer sqldb.Close()
	for _, f := range facts {
		_, err := sqldb.Exec(`UPDATE cves SET description = $2, vendor = $3, product = $4, published = $5, updated = $6,
			cvss_vector = $7, base_score = $8, base_severity = $9, kev = $10, state = 'PUBLISHED', verified = 1 WHERE cve_id = $1`,
			f.ID, f.Description, f.Vendor, f.Product, f.Published.UnixMilli(), f.Updated.UnixMilli(),
			f.CVSSVector, f.BaseScore, f.BaseSeverity, boolInt(f.ID == "CVE-2021-44228"))
		must(t, err)
	}

	k, prefix, hash, err := apikey.Generate()
	must(t, err)
	_, err = m.DB.CreateAPIKey(ctx, "browser", prefix, hash)
	must(t, err)
	time.Sleep(150 * time.Millisecond) // let the ranking and page caches expire
	return m, k
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// consoleLog gathers the page's console messages, uncaught exceptions and
// browser log entries (CSP violations and failed loads land there).
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func collectConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *consoleLog) reset() {
	c.mu.Lock()
	c.msgs = nil
	c.mu.Unlock()
}

func (c *consoleLog) has(match func(chromedp.ConsoleMessage) bool) bool {
	time.Sleep(100 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.msgs, match)
}

func (c *consoleLog) assertClean(t *testing.T) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // messages arrive asynchronously
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			t.Errorf("console %s: %s (%s)", m.Type, m.Text, m.URL)
		}
	}
}
