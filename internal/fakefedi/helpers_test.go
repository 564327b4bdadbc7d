package fakefedi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

// corpusPath is the repository copy of the real corpus; tests never read the
// shared original.
const corpusPath = "../../testdata/corpus/corpus.jsonl"

// testNow is a fixed clock: the time shift and every snowflake depend on it,
// so results are the same on every run.
var testNow = time.Date(2026, 8, 1, 14, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var (
	corpusOnce  sync.Once
	corpusPosts []fakefedi.Post
	corpusErr   error
)

func loadCorpus(t *testing.T) []fakefedi.Post {
	t.Helper()
	corpusOnce.Do(func() { corpusPosts, corpusErr = fakefedi.LoadCorpusFile(corpusPath) })
	if corpusErr != nil {
		t.Fatalf("load corpus: %v", corpusErr)
	}
	return corpusPosts
}

func newServer(t *testing.T, opts fakefedi.Options) (*fakefedi.Server, *httptest.Server) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	return fakefedi.NewTestServer(t, loadCorpus(t), opts)
}

// apiStatus is the part of a served Status the tests look at.
type apiStatus struct {
	ID              string  `json:"id"`
	CreatedAt       string  `json:"created_at"`
	URI             string  `json:"uri"`
	URL             string  `json:"url"`
	Content         string  `json:"content"`
	Visibility      string  `json:"visibility"`
	Language        *string `json:"language"`
	EditedAt        *string `json:"edited_at"`
	ReblogsCount    int     `json:"reblogs_count"`
	FavouritesCount int     `json:"favourites_count"`
	RepliesCount    int     `json:"replies_count"`
	Tags            []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"tags"`
	Reblog  *apiStatus `json:"reblog"`
	Account struct {
		Acct     string `json:"acct"`
		Username string `json:"username"`
	} `json:"account"`
}

func (s apiStatus) created(t *testing.T) time.Time {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", s.CreatedAt)
	if err != nil {
		t.Fatalf("created_at %q is not in Mastodon's format: %v", s.CreatedAt, err)
	}
	return ts
}

func (s apiStatus) idNum(t *testing.T) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s.ID, 10, 64)
	if err != nil {
		t.Fatalf("id %q is not numeric: %v", s.ID, err)
	}
	return n
}

func (s apiStatus) hasTag(name string) bool {
	for _, tg := range s.Tags {
		if tg.Name == name {
			return true
		}
	}
	return false
}

// get performs a GET on the test server (path or absolute URL) and returns
// the response with its body read.
func get(t *testing.T, ts *httptest.Server, pathOrURL string) (*http.Response, []byte) {
	t.Helper()
	u := pathOrURL
	if len(u) > 0 && u[0] == '/' {
		u = ts.URL + u
	}
	resp, err := ts.Client().Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp, body
}

func getStatuses(t *testing.T, ts *httptest.Server, path string) ([]apiStatus, *http.Response) {
	t.Helper()
	resp, body := get(t, ts, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", path, resp.StatusCode, body)
	}
	var out []apiStatus
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out, resp
}

func getStatus(t *testing.T, ts *httptest.Server, id string) (apiStatus, int) {
	t.Helper()
	resp, body := get(t, ts, "/api/v1/statuses/"+id)
	var st apiStatus
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("status %s: %v", id, err)
		}
	}
	return st, resp.StatusCode
}

var linkRE = regexp.MustCompile(`<([^>]*)>; rel="([a-z]+)"`)

// links parses a Link header into rel -> URL.
func links(h string) map[string]string {
	out := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(h, -1) {
		out[m[2]] = m[1]
	}
	return out
}
