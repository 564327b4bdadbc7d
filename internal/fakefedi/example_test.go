package fakefedi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

// A poller test starts the fake on the corpus and polls it like a real
// instance. (Inside a test, NewTestServer does the setup and cleanup.)
func Example() {
	posts, err := fakefedi.LoadCorpusFile("../../testdata/corpus/corpus.jsonl")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 8, 1, 14, 0, 0, 0, time.UTC)
	srv, err := fakefedi.New(posts, fakefedi.Options{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	resp, err := http.Get(ts.URL + "/api/v1/timelines/tag/cve20234966")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page []struct {
		CreatedAt string `json:"created_at"`
		URI       string `json:"uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		panic(err)
	}
	for _, st := range page {
		fmt.Println(st.CreatedAt, st.URI)
	}
	// Output:
	// 2026-07-27T00:16:56.562Z https://infosec.exchange/users/user0008/statuses/111308707682141671
	// 2026-07-26T14:00:25.938Z https://infosec.exchange/users/user0006/statuses/111295639107504586
}
