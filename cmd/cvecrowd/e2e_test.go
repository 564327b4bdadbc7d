package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

const corpusDir = "../../testdata/corpus/"

// expected is an independent reading of the corpus: which posts are
// eligible, which CVEs they name (the hand-checked truth, not the
// extractor), and their weights under the fake's engagement.
type expectedPost struct {
	uri, account string
	created      time.Time
	reblogs      int
	favourites   int
	cves         []string
}

func expectedPosts(t *testing.T, fake *fakefedi.Server, engagement fakefedi.EngagementFunc) []expectedPost {
	t.Helper()
	human := map[string][]string{}
	readJSONL(t, corpusDir+"corpus-truth.jsonl", func(b []byte) {
		var tr struct {
			ID        string   `json:"id"`
			HumanCVEs []string `json:"human_cves"`
		}
		must(t, json.Unmarshal(b, &tr))
		human[tr.ID] = tr.HumanCVEs
	})
	var out []expectedPost
	readJSONL(t, corpusDir+"corpus.jsonl", func(b []byte) {
		var p struct {
			ID, URI, Visibility string
			CreatedAt           time.Time `json:"created_at"`
			Account             struct {
				URL          string
				Bot          bool
				Discoverable *bool
				Noindex      *bool
			}
		}
		must(t, json.Unmarshal(b, &p))
		if p.Visibility != "public" || p.Account.Bot || (p.Account.Discoverable != nil && !*p.Account.Discoverable) ||
			(p.Account.Noindex != nil && *p.Account.Noindex) {
			return
		}
		r, f, _ := engagement(p.URI)
		out = append(out, expectedPost{uri: p.URI, account: p.Account.URL, created: p.CreatedAt.Add(fake.Offset()),
			reblogs: r, favourites: f, cves: human[p.ID]})
	})
	return out
}

// expectedOrder ranks by SPEC §4, written out independently of package rank.
func expectedOrder(posts []expectedPost, days int, now time.Time) ([]string, map[string]float64) {
	type agg struct {
		best   map[string]float64
		newest time.Time
	}
	byCVE := map[string]*agg{}
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	for _, p := range posts {
		if p.created.Before(since) {
			continue
		}
		w := float64(100 + 10*p.reblogs + p.favourites)
		if now.Sub(p.created) > 12*time.Hour {
			w /= 2
		}
		for _, c := range p.cves {
			a := byCVE[c]
			if a == nil {
				a = &agg{best: map[string]float64{}}
				byCVE[c] = a
			}
			a.best[p.account] = max(a.best[p.account], w)
			if p.created.After(a.newest) {
				a.newest = p.created
			}
		}
	}
	weights := map[string]float64{}
	var ids []string
	for c, a := range byCVE {
		for _, w := range a.best {
			weights[c] += w
		}
		ids = append(ids, c)
	}
	slices.SortFunc(ids, func(x, y string) int {
		if weights[x] != weights[y] {
			if weights[x] > weights[y] {
				return -1
			}
			return 1
		}
		if c := byCVE[y].newest.Compare(byCVE[x].newest); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return ids, weights
}

func readJSONL(t *testing.T, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			fn(sc.Bytes())
		}
	}
	must(t, sc.Err())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type client struct {
	t    *testing.T
	base string
	key  string
}

func (c client) get(path string, v any) int {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	must(c.t, err)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	must(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(c.t, err)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// TestEndToEnd boots the whole program against the fake Fediverse serving
// the real corpus and checks the API and the page against SPEC §4.
func TestEndToEnd(t *testing.T) {
	posts, err := fakefedi.LoadCorpusFile(corpusDir + "corpus.jsonl")
	must(t, err)
	engagement := fakefedi.SyntheticEngagement(7)
	fake, ts := fakefedi.NewTestServer(t, posts, fakefedi.Options{Engagement: engagement})

	dbPath := filepath.Join(t.TempDir(), "e2e.db")
	var keyOut bytes.Buffer
	must(t, run(context.Background(), []string{"keys", "create", "--db", dbPath, "--name", "e2e"}, &keyOut, io.Discard))
	key := strings.TrimSpace(keyOut.String())
	if !strings.HasPrefix(key, "cvc_") || strings.Contains(key, "\n") {
		t.Fatalf("keys create printed %q, want the key alone", keyOut.String())
	}

	start := time.Now()
	m := NewMain(Config{DB: dbPath, Listen: "127.0.0.1:0", Instances: []string{ts.URL}, PollInterval: 200 * time.Millisecond,
		CacheTTL: 100 * time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, m.Run(context.Background()))
	defer m.Close()
	api := client{t: t, base: m.URL(), key: key}

	want := expectedPosts(t, fake, engagement)
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	var firstAnswer time.Duration
	for {
		got = nil
		if status := api.get("/api/v1/cves?days=7", &got); status != 200 {
			t.Fatalf("GET /api/v1/cves?days=7 = %d", status)
		}
		if len(got) > 0 && firstAnswer == 0 {
			firstAnswer = time.Since(start)
		}
		n, _ := m.DB.PostCount(context.Background())
		if n == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d posts stored, want %d", n, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // let the ranking cache expire
	got = nil
	api.get("/api/v1/cves?days=7", &got)
	t.Logf("%d posts, %d CVEs; first non-empty answer after %s, all posts after %s",
		len(want), len(got), firstAnswer.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	wantIDs, weights := expectedOrder(want, 7, time.Now())
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("/api/v1/cves?days=7 order\n got %v\nwant %v", got, wantIDs)
	}

	for _, id := range got {
		var cve struct {
			CVEID      string  `json:"cve_id"`
			Weight     float64 `json:"weight"`
			PostsCount int     `json:"posts_count"`
		}
		if status := api.get("/api/v1/cves/"+id+"?days=7", &cve); status != 200 {
			t.Fatalf("GET cve %s = %d", id, status)
		}
		var ps []struct {
			Weight  float64 `json:"weight"`
			Account struct {
				URL string `json:"url"`
			} `json:"account"`
			CVEs []string `json:"cves"`
		}
		if status := api.get("/api/v1/cves/"+id+"/posts?days=7", &ps); status != 200 {
			t.Fatalf("GET posts of %s = %d", id, status)
		}
		best := map[string]float64{}
		for i, p := range ps {
			best[p.Account.URL] = max(best[p.Account.URL], p.Weight)
			if i > 0 && p.Weight > ps[i-1].Weight {
				t.Errorf("%s: posts not heaviest first", id)
			}
			if !slices.Contains(p.CVEs, id) {
				t.Errorf("%s: a post lists cves %v", id, p.CVEs)
			}
		}
		var sum float64
		for _, w := range best {
			sum += w
		}
		if sum != cve.Weight || cve.Weight != weights[id] || cve.PostsCount != len(ps) {
			t.Errorf("%s: weight %v, best posts per account add to %v, independent expectation %v; posts_count %d vs %d",
				id, cve.Weight, sum, weights[id], cve.PostsCount, len(ps))
		}
	}

	// The page shows the same order (after the per-account cap of SPEC §4).
	resp, err := http.Get(m.URL() + "/?days=7")
	must(t, err)
	doc, err := html.Parse(resp.Body)
	resp.Body.Close()
	must(t, err)
	var page []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "section" {
			for _, a := range n.Attr {
				if a.Key == "data-cve" {
					page = append(page, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(page) == 0 {
		t.Fatal("the page shows no CVE")
	}
	if !isSubsequence(page, got) || page[0] != got[0] {
		t.Fatalf("page order %v is not the API order %v", page, got)
	}

	if status := (client{t: t, base: m.URL()}).get("/api/v1/cves?days=7", nil); status != 401 {
		t.Fatalf("request without a key = %d, want 401", status)
	}
}

func isSubsequence(sub, of []string) bool {
	i := 0
	for _, s := range of {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}

// liveStatus makes the i-th status of a test's live publisher: author
// name+(i mod authors) on the fake instance, saying content.
func liveStatus(name string, i, authors, idBase int, bot bool, content string) (uri string, raw []byte) {
	user := fmt.Sprintf("%s%d", name, i%authors)
	uri = fmt.Sprintf("https://fake.example/users/%s/statuses/%d", user, idBase+i)
	raw, _ = json.Marshal(map[string]any{
		"uri": uri, "url": uri, "visibility": "public", "content": content,
		"account": map[string]any{"id": fmt.Sprint(i % authors), "username": user, "acct": user,
			"url": "https://fake.example/@" + user, "bot": bot, "discoverable": true},
	})
	return uri, raw
}
