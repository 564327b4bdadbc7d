// Command api benchmarks the API on a large database: requests per second and p50/p99 latency of
// GET /api/v1/cves?days=7 and GET /api/v1/cves/{id}/posts, beside a handler serving the same bytes from
// memory (the ceiling), in one run, on loopback.
//
//	go run ./bench/api                              # 1,000,000 posts, 5 s per target
//	go run ./bench/api -posts 200000 -duration 3s
//
// The database is generated once from the real corpus's distributions (CVEs per post, posts per
// account, post text; counts from the fake Fediverse's synthetic engagement; CVE popularity
// Zipf-distributed, as mentions are) and kept at -db for the next run. The server under test is the
// production stack: store, trend (cached ranking), httpapi (key check, rate limit, usage counting).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/httpapi"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

func main() {
	posts := flag.Int("posts", 1_000_000, "posts in the generated database")
	dbPath := flag.String("db", "", "database file (default: $TMPDIR/cvecrowd-bench-<posts>.db, reused when present)")
	corpus := flag.String("corpus", "testdata/corpus", "the real corpus directory (run from the repository root)")
	duration := flag.Duration("duration", 5*time.Second, "load per target")
	conc := flag.Int("c", runtime.GOMAXPROCS(0), "concurrent clients (default: one per CPU)")
	ttl := flag.Duration("cache-ttl", 2*time.Second, "ranking cache TTL (the serve default)")
	span := flag.Duration("span", 365*24*time.Hour, "posts are dated uniformly over this span before now (30 days' worth of posts per window at 720h)")
	rank := flag.Int("rank", 10, "bench the posts of the CVE at this place of the 7-day ranking")
	flag.Parse()
	if *dbPath == "" {
		*dbPath = fmt.Sprintf("%s/cvecrowd-bench-v3-%d-%s.db", os.TempDir(), *posts, *span)
	}
	if err := run(*posts, *dbPath, *corpus, *duration, *conc, *ttl, *span, *rank); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, dbPath, corpus string, duration time.Duration, conc int, ttl, span time.Duration, rank int) error {
	ctx := context.Background()
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	have, err := db.PostCount(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if have < n {
		dist, err := loadDistributions(corpus)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := generate(ctx, db, dist, have, n, now, span); err != nil {
			return err
		}
		fmt.Printf("generated %d posts in %s\n", n-have, time.Since(start).Round(time.Second))
	} else {
		fmt.Printf("reusing %s (%d posts)\n", dbPath, have)
	}

	key, prefix, hash, err := apikey.Generate()
	if err != nil {
		return err
	}
	if _, err := db.CreateAPIKey(ctx, "bench", prefix, hash); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tr := trend.New(db, ttl)
	usage := httpapi.NewUsage(db, log)
	uctx, ucancel := context.WithCancel(ctx)
	defer ucancel()
	go usage.Run(uctx, 5*time.Second)
	api := httpapi.New(db, tr, log, httpapi.WithUsage(usage),
		httpapi.WithRateLimit(httpapi.RateLimit{Requests: 1 << 30, Per: time.Hour}), httpapi.WithAnswerCache(ttl))
	apiURL, stopAPI, err := listen(api)
	if err != nil {
		return err
	}
	defer stopAPI()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2}}
	get := func(base, path string) ([]byte, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("GET %s: %s %s", path, resp.Status, b)
		}
		return b, err
	}

	// Cold answers, then pick a CVE high in the week's ranking (the 10th by
	// default: one the page shows; -rank 1 benches the largest answer).
	t0 := time.Now()
	list, err := get(apiURL, "/api/v1/cves?days=7")
	if err != nil {
		return err
	}
	cold := time.Since(t0)
	var ids []string
	if err := json.Unmarshal(list, &ids); err != nil || len(ids) == 0 {
		return fmt.Errorf("list: %v (%d ids)", err, len(ids))
	}
	pick := ids[min(rank, len(ids))-1]
	routes := []string{"/api/v1/cves?days=7", "/api/v1/cves/" + pick + "/posts?days=7"}
	fmt.Printf("database: %d posts over %s; days=7 board: %d CVEs, first answer (cold) in %s; CVE #%d is %s\n",
		max(have, n), span, len(ids), cold.Round(time.Millisecond), min(rank, len(ids)), pick)

	loadavg, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(loadavg))
	fmt.Printf("%d clients, %s per target, %d CPUs, load average %s", conc, duration, runtime.NumCPU(), strings.Join(f[:min(3, len(f))], " "))
	fmt.Printf("\n%-44s %12s %10s %10s %10s %8s\n", "target", "bytes", "req/s", "p50", "p99", "errors")
	for _, route := range routes {
		body, err := get(apiURL, route)
		if err != nil {
			return err
		}
		ceiling := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(body)
		})
		ceilURL, stopCeil, err := listen(ceiling)
		if err != nil {
			return err
		}
		if os.Getenv("BENCH_DEBUG") != "" {
			for range 10 {
				t := time.Now()
				get(apiURL, route)
				fmt.Println("  sequential", time.Since(t))
			}
		}
		c := load(get, ceilURL, route, duration, conc)
		stopCeil()
		a := load(get, apiURL, route, duration, conc)
		c.print("ceiling "+route, len(body))
		a.print("api     "+route, len(body))
		ok := a.rps >= 0.7*c.rps && a.p99 < 10*time.Millisecond
		fmt.Printf("  → %.2f of ceiling throughput, p99 %s: %s\n", a.rps/c.rps, a.p99.Round(10*time.Microsecond), map[bool]string{true: "target met", false: "TARGET MISSED"}[ok])
	}
	return nil
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

func (r result) print(name string, size int) {
	fmt.Printf("%-44s %12d %10.0f %10s %10s %8d\n", name, size, r.rps, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errors)
}

// load runs conc clients against base+path for d and reports throughput and latency.
func load(get func(base, path string) ([]byte, error), base, path string, d time.Duration, conc int) result {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t := time.Now()
				if _, err := get(base, path); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := result{rps: float64(len(lat)) / elapsed.Seconds(), errors: errs}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
	}
	return r
}

// distributions are what the generator samples, read from the real corpus.
type distributions struct {
	cvesPerPost     []int // one entry per corpus post
	postsPerAccount []int // one entry per corpus account
	texts           []string
}

func loadDistributions(dir string) (distributions, error) {
	var d distributions
	human := map[string]int{}
	if err := eachLine(dir+"/corpus-truth.jsonl", func(b []byte) error {
		var t struct {
			ID        string   `json:"id"`
			HumanCVEs []string `json:"human_cves"`
		}
		err := json.Unmarshal(b, &t)
		human[t.ID] = len(t.HumanCVEs)
		return err
	}); err != nil {
		return d, err
	}
	perAccount := map[string]int{}
	if err := eachLine(dir+"/corpus.jsonl", func(b []byte) error {
		var p struct {
			ID      string `json:"id"`
			Content string `json:"content"`
			Account struct {
				URL string `json:"url"`
			} `json:"account"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		if k := human[p.ID]; k > 0 {
			d.cvesPerPost = append(d.cvesPerPost, k)
		}
		perAccount[p.Account.URL]++
		d.texts = append(d.texts, p.Content)
		return nil
	}); err != nil {
		return d, err
	}
	for _, k := range perAccount {
		d.postsPerAccount = append(d.postsPerAccount, k)
	}
	slices.Sort(d.postsPerAccount) // map order must not change the generated data
	if len(d.cvesPerPost) == 0 || len(d.texts) == 0 {
		return d, fmt.Errorf("corpus %s: no posts", dir)
	}
	return d, nil
}

func eachLine(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return sc.Err()
}

// generate stores posts from index have to n, dated uniformly over span
// before now.
func generate(ctx context.Context, db *store.DB, d distributions, have, n int, now time.Time, span time.Duration) error {
	rng := rand.New(rand.NewPCG(1, uint64(have)))
	const universe = 40_000 // distinct CVEs mentioned in a month
	zipf := rand.NewZipf(rng, 1.1, 2, universe-1)
	engagement := fakefedi.SyntheticEngagement(7)
	account, left := 0, 0
	// Posts are stored oldest first, as ingestion stores them (a feed is
	// read forward in time), so a window's posts sit together on disk.
	times := make([]int64, n-have)
	for i := range times {
		times[i] = rng.Int64N(int64(span))
	}
	slices.Sort(times)
	slices.Reverse(times) // largest age first
	batch := make([]store.Sighted, 0, 2000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// Each post is stored a second after it was written, as a poller
		// would: its updated_at follows its created_at.
		at := batch[len(batch)-1].CreatedAt.Add(time.Second)
		db.SetClock(func() time.Time { return at })
		_, err := db.SaveBatch(ctx, store.Batch{Instance: "bench.example", Feed: "public", Posts: batch})
		db.SetClock(time.Now)
		batch = batch[:0]
		return err
	}
	for i := have; i < n; i++ {
		if left == 0 {
			account++
			left = d.postsPerAccount[rng.IntN(len(d.postsPerAccount))]
		}
		left--
		k := d.cvesPerPost[rng.IntN(len(d.cvesPerPost))]
		cves := make([]string, 0, k)
		for len(cves) < k {
			z := int(zipf.Uint64())
			id := fmt.Sprintf("CVE-%d-%d", 2015+z%11, 1000+z)
			if !slices.Contains(cves, id) {
				cves = append(cves, id)
			}
		}
		slices.Sort(cves)
		uri := fmt.Sprintf("https://bench.example/users/u%d/statuses/%d", account, i)
		r, f, rep := engagement(uri)
		text := d.texts[rng.IntN(len(d.texts))]
		if len(text) > 400 {
			text = text[:400]
		}
		batch = append(batch, store.Sighted{Post: store.Post{
			URI: uri, URL: uri, CreatedAt: now.Add(-time.Duration(times[i-have])),
			Content: "<p>" + html.EscapeString(text) + " " + strings.Join(cves, " ") + "</p>",
			Reblogs: r, Favourites: f, Replies: rep,
			Account: store.Account{URL: fmt.Sprintf("https://bench.example/@u%d", account), Acct: fmt.Sprintf("u%d@bench.example", account),
				DisplayName: fmt.Sprintf("User %d", account)},
			CVEs: cves,
		}, LocalID: fmt.Sprint(i), Authoritative: true})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
			if (i+1)%100_000 == 0 {
				fmt.Printf("  %d posts\n", i+1)
			}
		}
	}
	return flush()
}
