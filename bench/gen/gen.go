// Package gen fills a store with posts drawn from the real corpus's distributions, for benchmarks.
package gen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Distributions are what the generator samples, read from the real corpus.
type Distributions struct {
	cvesPerPost     []int // one entry per corpus post
	postsPerAccount []int // one entry per corpus account
	texts           []string
}

// LoadDistributions reads them from the corpus directory (testdata/corpus).
func LoadDistributions(dir string) (Distributions, error) {
	var d Distributions
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

// Generate stores posts from index have to n, dated uniformly over span
// before now.
func Generate(ctx context.Context, db *store.DB, d Distributions, have, n int, now time.Time, span time.Duration) error {
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
