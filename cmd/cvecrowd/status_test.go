package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
	"github.com/cvecrowd/cvecrowd/internal/ingest"
)

const streamToken = "tok-3f9a-never-shown"

// TestServeTwoInstancesHealthy runs cvecrowd against two fake instances, one
// of them streaming with a token, and checks that /api/v1/status, /status
// and /metrics all show every feed healthy, and never the token.
func TestServeTwoInstancesHealthy(t *testing.T) {
	posts, err := fakefedi.LoadCorpusFile(corpusDir + "corpus.jsonl")
	must(t, err)
	fa, tsA := fakefedi.NewTestServer(t, posts, fakefedi.Options{RateLimit: 1 << 20})
	fa.SetStream(fakefedi.StreamConfig{Token: streamToken, Heartbeat: 200 * time.Millisecond})
	_, tsB := fakefedi.NewTestServer(t, posts, fakefedi.Options{RateLimit: 1 << 20, Domain: "b.example"})

	// The instances come from a config file, the token from the environment.
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cvecrowd.json")
	must(t, os.WriteFile(cfgPath, []byte(`{"instances":[
		{"url":"`+tsA.URL+`","token_env":"CVECROWD_TEST_TOKEN_A","feeds":["public","tag:cve","search","stream"]},
		{"url":"`+tsB.URL+`"}]}`), 0o600))
	t.Setenv("CVECROWD_TEST_TOKEN_A", streamToken)
	srcs, err := loadConfigFile(cfgPath)
	must(t, err)

	dbPath := filepath.Join(dir, "s.db")
	var keyOut bytes.Buffer
	must(t, run(context.Background(), []string{"keys", "create", "--db", dbPath, "--name", "status"}, &keyOut, io.Discard))
	var logs bytes.Buffer
	m := NewMain(Config{DB: dbPath, Listen: "127.0.0.1:0", Sources: srcs, PollInterval: 200 * time.Millisecond,
		CacheTTL: 100 * time.Millisecond, StreamIdle: 5 * time.Second},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	must(t, m.Run(context.Background()))
	defer m.Close()
	api := client{t: t, base: m.URL(), key: strings.TrimSpace(keyOut.String())}

	if code := (client{t: t, base: m.URL()}).get("/api/v1/status", nil); code != http.StatusUnauthorized {
		t.Fatalf("/api/v1/status without a key = %d, want 401", code)
	}
	var st struct {
		Healthy bool                `json:"healthy"`
		Feeds   []ingest.FeedHealth `json:"feeds"`
		Skipped map[string]int64    `json:"skipped"`
	}
	hostA, hostB := strings.TrimPrefix(tsA.URL, "http://"), strings.TrimPrefix(tsB.URL, "http://")
	wantFeeds := map[string]bool{
		hostA + " public": true, hostA + " tag:cve": true, hostA + " search": true, hostA + " stream": true,
		hostB + " public": true, hostB + " tag:cve": true,
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st.Feeds = nil
		if code := api.get("/api/v1/status", &st); code != 200 {
			t.Fatalf("/api/v1/status = %d", code)
		}
		healthy := 0
		for _, f := range st.Feeds {
			if wantFeeds[f.Instance+" "+f.Feed] && f.Healthy && (f.Feed == "stream" || f.LastSuccess != nil) {
				healthy++
			}
		}
		if st.Healthy && healthy == len(wantFeeds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("feeds not all healthy after 20s: %+v", st.Feeds)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ingested int64
	for _, f := range st.Feeds {
		ingested += f.PostsIngested // a post counts for the feed that stored it first
		if f.Feed == "public" && (f.LastPostAt == nil || f.LagSeconds == nil) {
			t.Errorf("feed %s %s: no last post or lag: %+v", f.Instance, f.Feed, f)
		}
	}
	if n, _ := m.DB.PostCount(context.Background()); ingested != int64(n) || n == 0 {
		t.Errorf("feeds ingested %d posts, the store holds %d", ingested, n)
	}
	if len(st.Skipped) == 0 {
		t.Error("status has no per-rule skip counts")
	}

	// The page shows the same, one row per feed.
	page := fetch(t, m.URL()+"/status")
	doc, err := html.Parse(strings.NewReader(page))
	must(t, err)
	rows := map[string]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			var inst, feed, state string
			for _, a := range n.Attr {
				switch a.Key {
				case "data-instance":
					inst = a.Val
				case "data-feed":
					feed = a.Val
				case "data-state":
					state = a.Val
				}
			}
			if inst != "" {
				rows[inst+" "+feed] = state
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for k := range wantFeeds {
		if s := rows[k]; s != "ok" && s != "streaming" {
			t.Errorf("status page: %s is %q", k, s)
		}
	}
	if !strings.Contains(page, `id="overall">healthy<`) {
		t.Error("status page does not say healthy")
	}

	metrics := fetch(t, m.URL()+"/metrics")
	for _, want := range []string{
		`cvecrowd_ingest_feed_up{feed="stream",instance="` + hostA + `"} 1`,
		`cvecrowd_ingest_feed_up{feed="public",instance="` + hostB + `"} 1`,
		`cvecrowd_ingest_skipped_total{reason="bot"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	m.Close() // the logger's buffer is read only once nothing writes to it
	for _, text := range []string{page, metrics, logs.String()} {
		if strings.Contains(text, streamToken) {
			t.Fatal("the instance token appears in a page, the metrics or the logs")
		}
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	t.Setenv("CVECROWD_TEST_TOK", "s3cret")
	tests := []struct {
		name, body string
		wantErr    string
	}{
		{"ok", `{"instances":[{"url":"https://a.example","token_env":"CVECROWD_TEST_TOK","feeds":["public","stream"]},{"url":"https://b.example","token":"inline"}]}`, ""},
		{"unknown field", `{"instances":[{"url":"https://a.example","tokn":"x"}]}`, "unknown field"},
		{"missing env", `{"instances":[{"url":"https://a.example","token_env":"CVECROWD_TEST_UNSET_VAR"}]}`, "CVECROWD_TEST_UNSET_VAR"},
		{"no url", `{"instances":[{"token":"s3cret"}]}`, "no url"},
		{"not json", `instances: []`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs, err := loadConfigFile(write(tt.name+".json", tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error shows the token: %v", err)
				}
				return
			}
			must(t, err)
			if len(srcs) != 2 || srcs[0].Token != "s3cret" || srcs[1].Token != "inline" || len(srcs[0].Feeds) != 2 {
				t.Fatalf("sources = %v", srcs)
			}
			if strings.Contains(srcs[0].String(), "s3cret") {
				t.Fatal("Source.String shows the token")
			}
		})
	}
}
