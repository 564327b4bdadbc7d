package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// benchPosts is how many posts the pipeline benchmark pushes through: the
// real corpus replicated, each copy with its own uri and id.
var benchPosts = 200_000

// replicatedPages returns the corpus replicated to n posts as timeline
// pages of 40: the exact bytes a poller receives.
func replicatedPages(tb testing.TB, n int) [][]byte {
	tb.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var items []map[string]json.RawMessage
	var uris []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatal(err)
		}
		var uri string
		if err := json.Unmarshal(m["uri"], &uri); err != nil {
			tb.Fatal(err)
		}
		items = append(items, m)
		uris = append(uris, uri)
	}
	var pages [][]byte
	var page bytes.Buffer
	inPage := 0
	for i := range n {
		m, uri := items[i%len(items)], uris[i%len(items)]
		id := fmt.Sprintf("%d", 115000000000000000+i)
		m["id"], _ = json.Marshal(id)
		m["uri"], _ = json.Marshal(fmt.Sprintf("%s/copy/%d", uri, i))
		m["created_at"], _ = json.Marshal(time.Now().Add(-time.Duration(i) * time.Second).UTC().Format(time.RFC3339Nano))
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		if inPage == 0 {
			page.WriteByte('[')
		} else {
			page.WriteByte(',')
		}
		page.Write(b)
		inPage++
		if inPage == pageLimit || i == n-1 {
			page.WriteByte(']')
			pages = append(pages, bytes.Clone(page.Bytes()))
			page.Reset()
			inPage = 0
		}
	}
	return pages
}

// plainStatus is what a plain encoding/json decode of a status fills: the
// ceiling any pipeline that reads the same bytes is measured against.
type plainStatus struct {
	ID         string    `json:"id"`
	URI        string    `json:"uri"`
	URL        string    `json:"url"`
	CreatedAt  time.Time `json:"created_at"`
	EditedAt   *string   `json:"edited_at"`
	Content    string    `json:"content"`
	Visibility string    `json:"visibility"`
	Language   *string   `json:"language"`
	Reblogs    int       `json:"reblogs_count"`
	Favourites int       `json:"favourites_count"`
	Replies    int       `json:"replies_count"`
	Tags       []struct {
		Name string `json:"name"`
	} `json:"tags"`
	Account struct {
		ID           string `json:"id"`
		Acct         string `json:"acct"`
		URL          string `json:"url"`
		DisplayName  string `json:"display_name"`
		Note         string `json:"note"`
		Bot          bool   `json:"bot"`
		Discoverable *bool  `json:"discoverable"`
		Noindex      *bool  `json:"noindex"`
	} `json:"account"`
	Reblog *plainStatus `json:"reblog"`
}

// convertPage is what a poller does with one page before storing it:
// decode item by item, extract CVEs, apply the eligibility rules.
func convertPage(in *Ingester, body []byte) (store.Batch, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return store.Batch{}, err
	}
	pg := &mastodon.Page{}
	for _, it := range items {
		st, err := mastodon.ParseStatus(it)
		if err != nil {
			pg.Malformed++
			continue
		}
		pg.Statuses = append(pg.Statuses, *st)
	}
	b := store.Batch{Instance: "bench.example", Feed: FeedPublic, RefreshAt: time.Now().Add(5 * time.Minute)}
	b.Posts, b.Skipped, b.Gone = in.convert("bench.example", FeedPublic, pg, in.log)
	return b, nil
}

// pipeline runs pages through convertPage on every core and stores them
// from one writer, pagesPerTx pages per transaction (SQLite has one writer
// anyway). It returns how many posts were stored new.
func pipeline(ctx context.Context, in *Ingester, db *store.DB, pages [][]byte, pagesPerTx int) (int, error) {
	work := make(chan []byte)
	out := make(chan store.Batch, 4*pagesPerTx)
	var wg sync.WaitGroup
	var convErr atomic.Value
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for p := range work {
				b, err := convertPage(in, p)
				if err != nil {
					convErr.Store(err)
					continue
				}
				out <- b
			}
		})
	}
	go func() {
		for _, p := range pages {
			work <- p
		}
		close(work)
		wg.Wait()
		close(out)
	}()
	stored := 0
	var group []store.Batch
	var saveErr error
	flush := func() {
		if len(group) == 0 || saveErr != nil {
			return
		}
		res, err := db.SaveBatches(ctx, group)
		if err != nil {
			saveErr = err
		}
		for _, r := range res {
			stored += r.New
		}
		group = group[:0]
	}
	for b := range out {
		group = append(group, b)
		if len(group) == pagesPerTx {
			flush()
		}
	}
	flush()
	if err, _ := convErr.Load().(error); err != nil {
		return stored, err
	}
	return stored, saveErr
}

// BenchmarkIngestPipeline measures posts/s through decode → extract →
// eligibility → store (SQLite; decoding on every core, one writer, 25
// 40-post pages per transaction) on the
// real corpus replicated to 200,000 posts, and in the same run the rate of
// a plain encoding/json decode of the same bytes, the ceiling.
//
//	go test -run '^$' -bench IngestPipeline -benchtime 1x ./internal/ingest
func BenchmarkIngestPipeline(b *testing.B) {
	if v := os.Getenv("CVECROWD_BENCH_POSTS"); v != "" {
		fmt.Sscan(v, &benchPosts) // a smaller run for profiling
	}
	pages := replicatedPages(b, benchPosts)
	var total int
	for _, p := range pages {
		total += len(p)
	}
	ctx := context.Background()
	var ceiling, elapsed, ceilCPU, pipeCPU time.Duration
	var stored int
	for b.Loop() {
		start, cpu0 := time.Now(), cpuTime()
		for _, p := range pages {
			var v []plainStatus
			if err := json.Unmarshal(p, &v); err != nil {
				b.Fatal(err)
			}
		}
		ceiling += time.Since(start)
		ceilCPU += cpuTime() - cpu0

		b.StopTimer()
		db, err := store.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		in, _ := New(Config{}, db, quiet())
		b.StartTimer()
		start, cpu0 = time.Now(), cpuTime()
		stored, err = pipeline(ctx, in, db, pages, 25)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		pipeCPU += cpuTime() - cpu0
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	iters := float64(b.N)
	ceilRate := float64(benchPosts) * iters / ceiling.Seconds()
	pipeRate := float64(benchPosts) * iters / elapsed.Seconds()
	b.ReportMetric(pipeRate, "posts/s")
	b.ReportMetric(ceilRate, "ceiling-posts/s")
	b.ReportMetric(pipeRate/ceilRate, "of-ceiling")
	b.ReportMetric(float64(stored), "stored")
	// CPU-time rates do not depend on what else the machine runs.
	ceilPerCPU := float64(benchPosts) * iters / ceilCPU.Seconds()
	pipePerCPU := float64(benchPosts) * iters / pipeCPU.Seconds()
	b.ReportMetric(pipePerCPU, "posts/cpu-s")
	b.ReportMetric(ceilPerCPU, "ceiling-posts/cpu-s")
	b.Logf("%d posts (%d MB in %d pages): pipeline %.0f posts/s into SQLite (%d stored), plain encoding/json decode %.0f posts/s; ratio %.2f",
		benchPosts, total>>20, len(pages), pipeRate, stored, ceilRate, pipeRate/ceilRate)
	b.Logf("per CPU-second (all threads): pipeline %.0f posts, ceiling %.0f posts; ratio %.2f", pipePerCPU, ceilPerCPU, pipePerCPU/ceilPerCPU)
}
