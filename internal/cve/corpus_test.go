package cve

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// corpusDir holds pseudonymised real posts (see its SOURCES.md). Tests read
// the repository copy only.
var corpusDir = filepath.Join("..", "..", "testdata", "corpus")

// corpusExtractor pins the maximum year: the corpus posts were re-timed to
// 2025, and no post names an ID after 2025, so 2026 keeps the result
// independent of the date the tests run on.
var corpusExtractor = Extractor{MaxYear: 2026}

type corpusPost struct {
	ID      string `json:"id"`
	Content string `json:"content"`
	// Tags is absent from the published corpus, but a Mastodon status
	// carries it; read it in case later corpus versions include it.
	Tags []struct {
		Name string `json:"name"`
	} `json:"tags"`
}

func (p corpusPost) tagNames() []string {
	var names []string
	for _, tg := range p.Tags {
		names = append(names, tg.Name)
	}
	return names
}

type corpusTruth struct {
	ID        string `json:"id"`
	HumanCVEs []ID   `json:"human_cves"`
}

// readJSONL decodes one JSON value per non-empty line of a corpus file.
func readJSONL[T any](tb testing.TB, name string) []T {
	tb.Helper()
	f, err := os.Open(filepath.Join(corpusDir, name))
	if err != nil {
		tb.Fatalf("open corpus: %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			tb.Fatalf("%s:%d: %v", name, line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	return out
}

func loadCorpus(tb testing.TB) []corpusPost {
	tb.Helper()
	posts := readJSONL[corpusPost](tb, "corpus.jsonl")
	if len(posts) == 0 {
		tb.Fatal("corpus.jsonl is empty")
	}
	return posts
}

// TestCorpus checks extraction against the hand-verified truth for every
// post of the real corpus, and reports precision and recall over
// (post, CVE) pairs.
func TestCorpus(t *testing.T) {
	posts := loadCorpus(t)
	truth := map[string][]ID{}
	for _, tr := range readJSONL[corpusTruth](t, "corpus-truth.jsonl") {
		truth[tr.ID] = tr.HumanCVEs
	}

	var tp, fp, fn int
	for _, p := range posts {
		want, ok := truth[p.ID]
		if !ok {
			t.Errorf("post %s has no truth entry", p.ID)
			continue
		}
		got := corpusExtractor.FromPost(p.Content, p.tagNames())
		gotSet := map[ID]bool{}
		for _, id := range got {
			gotSet[id] = true
		}
		wantSet := map[ID]bool{}
		for _, id := range want {
			wantSet[id] = true
			if gotSet[id] {
				tp++
			} else {
				fn++
			}
		}
		for _, id := range got {
			if !wantSet[id] {
				fp++
			}
		}
		t.Run(p.ID, func(t *testing.T) {
			sortedWant := slices.Clone(want)
			slices.SortFunc(sortedWant, Compare)
			if !slices.Equal(got, sortedWant) {
				t.Errorf("FromPost:\n got %q\nwant %q\ncontent: %.300q", got, sortedWant, p.Content)
			}
		})
	}
	precision, recall := ratio(tp, tp+fp), ratio(tp, tp+fn)
	t.Logf("precision %.3f recall %.3f over %d pairs in %d posts (tp=%d fp=%d fn=%d)",
		precision, recall, tp+fn, len(posts), tp, fp, fn)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// TestFedisecfeedsSlice: every post the feed lists under CVE-2025-54418 names
// exactly that ID (emoji-glued "🚨CVE-2025-54418:", "(CVE-2025-54418)").
func TestFedisecfeedsSlice(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpusDir, "fedisecfeeds-CVE-2025-54418-slice.json"))
	if err != nil {
		t.Fatal(err)
	}
	var feed map[ID]struct {
		Posts []struct {
			URL     string `json:"url"`
			Content string `json:"content"`
		} `json:"posts"`
	}
	if err := json.Unmarshal(raw, &feed); err != nil {
		t.Fatalf("decode feed slice: %v", err)
	}
	if len(feed) == 0 {
		t.Fatal("feed slice has no entries")
	}
	for key, entry := range feed {
		for i, p := range entry.Posts {
			t.Run(string(key)+"/"+strconv.Itoa(i), func(t *testing.T) {
				got := corpusExtractor.FromHTML(p.Content)
				if want := []ID{key}; !slices.Equal(got, want) {
					t.Errorf("%s: got %q; want %q", p.URL, got, want)
				}
			})
		}
	}
}

// TestDupPairs: two renderings of the same status (different instances,
// <br /> vs <br>, &#39; vs ') must give the same IDs.
func TestDupPairs(t *testing.T) {
	type dup struct {
		Pair    string `json:"_pair"`
		URI     string `json:"uri"`
		Content string `json:"content"`
	}
	byPair := map[string][]dup{}
	for _, d := range readJSONL[dup](t, "dup-pairs.jsonl") {
		byPair[d.Pair] = append(byPair[d.Pair], d)
	}
	for pair, ds := range byPair {
		t.Run(pair, func(t *testing.T) {
			if len(ds) != 2 {
				t.Fatalf("pair has %d posts; want 2", len(ds))
			}
			a, b := corpusExtractor.FromHTML(ds[0].Content), corpusExtractor.FromHTML(ds[1].Content)
			if len(a) == 0 {
				t.Errorf("no IDs in %s", ds[0].URI)
			}
			if !slices.Equal(a, b) {
				t.Errorf("renderings disagree: %q vs %q", a, b)
			}
		})
	}
}

// BenchmarkFromPost measures extraction over the whole corpus (real posts)
// and over hostile inputs of 1 MiB and more.
func BenchmarkFromPost(b *testing.B) {
	b.Run("corpus", func(b *testing.B) {
		posts := loadCorpus(b)
		var size int64
		for _, p := range posts {
			size += int64(len(p.Content))
		}
		b.SetBytes(size)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for _, p := range posts {
				corpusExtractor.FromPost(p.Content, p.tagNames())
			}
			n += len(posts)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "posts/s")
	})
	for name, in := range hostileInputs() {
		b.Run("hostile/"+name, func(b *testing.B) {
			b.SetBytes(int64(min(len(in), MaxInputBytes)))
			b.ReportAllocs()
			for b.Loop() {
				corpusExtractor.FromPost(in, nil)
			}
		})
	}
}
