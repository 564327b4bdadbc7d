package web

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// benchNow is the instant the generated posts are placed around, so a
// database generated once gives the same figures on every run.
var benchNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// benchDB returns a store of n generated posts. The database is built once
// into $CVECROWD_BENCH_DB (default bench/out/web-<n>.db) and reused.
//
// The shape follows the real corpus at a much larger scale: posts spread
// over 30 days with more of them recent, CVE popularity and account activity
// both Zipf-like (a few CVEs and accounts dominate), one CVE per post mostly
// and up to four, engagement heavy-tailed, and Mastodon-shaped HTML of a few
// hundred bytes.
func benchDB(b *testing.B, n int) *store.DB {
	b.Helper()
	path := os.Getenv("CVECROWD_BENCH_DB")
	if path == "" {
		path = filepath.Join("..", "..", "bench", "out", fmt.Sprintf("web-%d.db", n))
	}
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	have, err := db.PostCount(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if have >= n {
		return db
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, uint64(have)))
	cves := rand.NewZipf(rng, 1.1, 8, 49_999)
	accounts := rand.NewZipf(rng, 1.05, 4, 99_999)
	const batch = 2000
	for i := have; i < n; i += batch {
		posts := make([]store.Sighted, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			// Ages: exponential with a 5-day mean, cut at 30 days, so the
			// last day holds ~18% of the posts.
			age := time.Duration(math.Min(rng.ExpFloat64()*5*24, 30*24-1) * float64(time.Hour))
			ids := []string{cveID(cves.Uint64())}
			for k := rng.IntN(10); k >= 7; k-- { // 30% name more than one
				if id := cveID(cves.Uint64()); !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
			acct := accounts.Uint64()
			uri := fmt.Sprintf("https://bench%d.example/users/u%d/statuses/%d", acct%50, acct, j)
			posts = append(posts, store.Sighted{Post: store.Post{
				URI: uri, URL: uri, CreatedAt: benchNow.Add(-age), Language: "en",
				Content: fmt.Sprintf(`<p><span class="h-card"><a href="https://bench.example/@u%d" class="u-url mention">@<span>u%d</span></a></span> %s is being exploited, patch now. <a href="https://nvd.nist.gov/vuln/detail/%s" rel="nofollow noopener noreferrer" target="_blank"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/%s</span><span class="invisible"></span></a> <a href="https://bench.example/tags/cve" class="mention hashtag" rel="tag">#<span>cve</span></a></p>`,
					acct+1, acct+1, ids[0], ids[0], ids[0]),
				Reblogs: int(rng.ExpFloat64() * rng.ExpFloat64() * 3), Favourites: int(rng.ExpFloat64() * rng.ExpFloat64() * 8),
				Replies: rng.IntN(3),
				Account: store.Account{URL: fmt.Sprintf("https://bench%d.example/@u%d", acct%50, acct), Acct: fmt.Sprintf("u%d@bench%d.example", acct, acct%50), DisplayName: fmt.Sprintf("User %d", acct)},
				CVEs:    ids,
			}, LocalID: strconv.Itoa(j)})
		}
		if _, err := db.SaveBatch(ctx, store.Batch{Instance: "https://bench.example", Feed: "bench", Posts: posts}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("generated %d posts into %s in %s", n-have, path, time.Since(start).Round(time.Second))
	return db
}

func cveID(k uint64) string {
	return fmt.Sprintf("CVE-%d-%d", 2020+k%7, 1000+k)
}

// BenchmarkHome renders / over a large database (CVECROWD_BENCH_POSTS posts,
// e.g. 1000000) and reports latency percentiles:
//
//   - cached: the production path, the rendered page reused for the cache TTL
//     (2 s) and refreshed in the background; its first render is reported
//     apart as cold-ms. Run with -benchtime 15s or more so refreshes happen
//     during the measurement;
//   - render: the page rendered on every request over a warm ranking (what a
//     cache refresh costs).
//
// The ranking itself (trend) is warmed first; its cold cost is reported as
// rank-ms.
func BenchmarkHome(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("CVECROWD_BENCH_POSTS"))
	if n <= 0 {
		b.Skip("set CVECROWD_BENCH_POSTS (e.g. 1000000) to run the large-database benchmark")
	}
	db := benchDB(b, n)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, days := range Windows {
		tr := trend.New(db, time.Hour) // warm for the whole run
		tr.SetClock(func() time.Time { return benchNow })
		t0 := time.Now()
		if _, err := tr.Top(context.Background(), days); err != nil {
			b.Fatal(err)
		}
		rankCost := time.Since(t0)
		for _, mode := range []string{"render", "cached"} {
			var opts []Option
			if mode == "cached" {
				opts = append(opts, WithCacheTTL(2*time.Second))
			}
			opts = append(opts, WithActivity(db))
			site, err := New(tr, log, opts...)
			if err != nil {
				b.Fatal(err)
			}
			site.now = func() time.Time { return benchNow }
			b.Run(fmt.Sprintf("days=%d/%s", days, mode), func(b *testing.B) {
				var lat []time.Duration
				var size, chrome, gz int
				var cold time.Duration
				if mode == "cached" {
					// The first request renders (a cold start); what
					// visitors see afterwards is the steady state, with
					// background refreshes running beside them.
					s := time.Now()
					rec0(b, site, days)
					cold = time.Since(s)
					defer site.Close()
				}
				for b.Loop() {
					rec := httptest.NewRecorder()
					s := time.Now()
					site.ServeHTTP(rec, httptest.NewRequest("GET", "/?days="+strconv.Itoa(days), nil))
					lat = append(lat, time.Since(s))
					if rec.Code != 200 {
						b.Fatalf("status %d", rec.Code)
					}
					size = rec.Body.Len()
				}
				gz = gzipLen(rec0(b, site, days))
				// The page without the posts' own data (content, links, names).
				chrome = size - postBytes(b, site, days)
				slices.Sort(lat)
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
				b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
				b.ReportMetric(float64(size)/1024, "page-KiB")
				b.ReportMetric(float64(chrome)/1024, "chrome-KiB")
				b.ReportMetric(float64(gz)/1024, "gzip-KiB")
				b.ReportMetric(ms(rankCost), "rank-ms")
				if cold > 0 { // reported after the loop, which clears metrics
					b.ReportMetric(ms(cold), "cold-ms")
				}
			})
		}
	}
	// The CVE page of the busiest CVE: all its posts of 30 days are weighed
	// and its 500 heaviest rendered, uncached.
	tr := trend.New(db, time.Hour)
	tr.SetClock(func() time.Time { return benchNow })
	site, err := New(tr, log, WithActivity(db))
	if err != nil {
		b.Fatal(err)
	}
	site.now = func() time.Time { return benchNow }
	top, err := tr.Top(context.Background(), 30)
	if err != nil || len(top) == 0 {
		b.Fatalf("top: %v", err)
	}
	b.Run("cve-page/busiest", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			rec := httptest.NewRecorder()
			s := time.Now()
			site.ServeHTTP(rec, httptest.NewRequest("GET", "/cve/"+top[0].CVE, nil))
			lat = append(lat, time.Since(s))
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
		b.ReportMetric(float64(top[0].Posts), "posts")
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// postBytes is how many bytes of the page come from the posts themselves:
// their sanitised content, their links and their authors' names.
func postBytes(b *testing.B, site *Site, days int) int {
	data, err := site.homeData(context.Background(), days)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, c := range data.Columns {
		for _, p := range c.Posts {
			n += len(funcs["safe"].(func(string) template.HTML)(p.Content))
			n += len(p.URL) + len(p.Account.URL) + len(p.Account.Acct) + len(p.Account.DisplayName)
		}
	}
	return n
}

func rec0(b *testing.B, site *Site, days int) []byte {
	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest("GET", "/?days="+strconv.Itoa(days), nil))
	if rec.Code != 200 {
		b.Fatalf("status %d", rec.Code)
	}
	return rec.Body.Bytes()
}

func gzipLen(body []byte) int {
	p := &cachedPage{body: body}
	return len(p.gzipped())
}
