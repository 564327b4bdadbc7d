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
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/bench/gen"
	"github.com/cvecrowd/cvecrowd/internal/apikey"
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
		dist, err := gen.LoadDistributions(corpus)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := gen.Generate(ctx, db, dist, have, n, now, span); err != nil {
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
