// Command engines measures ingest throughput and ranking latency on SQLite beside PostgreSQL, in one run,
// on the same generated posts.
//
//	go run ./bench/engines                                   # 1,000,000 posts per engine
//	go run ./bench/engines -posts 200000 -pg postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// For each engine it stores -posts posts drawn from the real corpus's distributions (batches of 2,000 in
// single transactions, as a busy poller does), then times the ranking of the 1-, 7- and 30-day windows from
// scratch (the mentions query plus ranking in Go, as a cold cache does) and the posts of the heaviest
// 7-day CVE. PostgreSQL runs in a fresh schema that is dropped at the end.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cvecrowd/cvecrowd/bench/gen"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

func main() {
	posts := flag.Int("posts", 1_000_000, "posts stored per engine")
	pg := flag.String("pg", envOr("CVECROWD_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL server to use (a fresh schema is made and dropped)")
	corpus := flag.String("corpus", "testdata/corpus", "the real corpus directory (run from the repository root)")
	span := flag.Duration("span", 365*24*time.Hour, "posts are dated uniformly over this span before now")
	reps := flag.Int("reps", 5, "timed repetitions of each ranking")
	only := flag.String("engines", "sqlite,postgres", "engines to measure, comma-separated")
	flag.Parse()
	if err := run(*posts, *pg, *corpus, *span, *reps, strings.Split(*only, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(n int, pg, corpus string, span time.Duration, reps int, only []string) error {
	ctx := context.Background()
	dist, err := gen.LoadDistributions(corpus)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cvecrowd-engines-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	schema := fmt.Sprintf("bench_engines_%d", os.Getpid())
	admin, err := sql.Open("pgx", pg)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	engines := []struct{ name, dsn string }{
		{"sqlite", dir + "/bench.db"},
		{"postgres", pg + sep + "search_path=" + schema},
	}
	now := time.Now()
	fmt.Printf("%d posts per engine, dated over %s; ranking timed %d times (median, max)\n\n", n, span, reps)
	fmt.Printf("%-9s %12s %14s %14s %14s %16s\n", "engine", "ingest", "rank 1d", "rank 7d", "rank 30d", "posts top 7d")
	for _, e := range engines {
		if !slices.Contains(only, e.name) {
			continue
		}
		db, err := store.Open(ctx, e.dsn)
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		start := time.Now()
		if err := gen.Generate(ctx, db, dist, 0, n, now, span); err != nil {
			db.Close()
			return fmt.Errorf("%s: generate: %w", e.name, err)
		}
		rate := float64(n) / time.Since(start).Seconds()
		// Fresh statistics, as autovacuum (PostgreSQL) would gather them
		// soon after a load: without them the planner guesses.
		if err := db.Analyze(ctx); err != nil {
			db.Close()
			return fmt.Errorf("%s: analyze: %w", e.name, err)
		}
		cols := []string{fmt.Sprintf("%.0f posts/s", rate)}
		var top string
		for _, days := range []int{1, 7, 30} {
			var times []time.Duration
			for range reps {
				// A fresh service each time: the cost a cold cache pays.
				tr := trend.New(db, time.Hour)
				t0 := time.Now()
				entries, err := tr.Top(ctx, days)
				times = append(times, time.Since(t0))
				tr.Close()
				if err != nil {
					db.Close()
					return fmt.Errorf("%s: rank %dd: %w", e.name, days, err)
				}
				if days == 7 && len(entries) > 0 {
					top = entries[0].CVE
				}
			}
			cols = append(cols, summary(times))
		}
		var times []time.Duration
		tr := trend.New(db, time.Hour)
		for range reps {
			t0 := time.Now()
			if _, err := tr.Posts(ctx, top, 7); err != nil {
				db.Close()
				return fmt.Errorf("%s: posts: %w", e.name, err)
			}
			times = append(times, time.Since(t0))
		}
		tr.Close()
		cols = append(cols, summary(times))
		fmt.Printf("%-9s %12s %14s %14s %14s %16s\n", e.name, cols[0], cols[1], cols[2], cols[3], cols[4])
		db.Close()
	}
	return nil
}

func summary(ds []time.Duration) string {
	slices.Sort(ds)
	return fmt.Sprintf("%s/%s", ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}
