package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

type fixture struct {
	srv *httptest.Server
	key string
	db  *store.DB
}

func sighted(uri, account string, age time.Duration, reblogs, favs int, cves ...string) store.Sighted {
	return store.Sighted{
		Post: store.Post{
			URI: uri, URL: uri, CreatedAt: now.Add(-age), Content: `<p>` + strings.Join(cves, " ") + `</p>`,
			Reblogs: reblogs, Favourites: favs,
			Account: store.Account{URL: "https://x.example/@" + account, Acct: account + "@x.example", DisplayName: account},
			CVEs:    cves,
		},
		LocalID:       uri[strings.LastIndex(uri, "/")+1:],
		Authoritative: true,
	}
}

func setup(t testing.TB, opts ...Option) fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	posts := []store.Sighted{
		sighted("https://x.example/s/1", "alice", time.Hour, 2, 3, "CVE-2024-3094"),                     // 123
		sighted("https://x.example/s/2", "alice", 2*time.Hour, 0, 0, "CVE-2024-3094"),                   // 100, same account
		sighted("https://x.example/s/3", "bob", 13*time.Hour, 10, 0, "CVE-2024-3094", "CVE-2021-44228"), // 100
		sighted("https://x.example/s/4", "carol", 3*time.Hour, 0, 50, "CVE-2021-44228"),                 // 150
		sighted("https://x.example/s/5", "dave", 3*24*time.Hour, 0, 0, "CVE-2023-4863"),                 // only in 7d
	}
	if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x.example", Feed: "public", Posts: posts}); err != nil {
		t.Fatal(err)
	}
	key, prefix, hash, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAPIKey(ctx, "test", prefix, hash); err != nil {
		t.Fatal(err)
	}
	tr := trend.New(db, time.Second)
	tr.SetClock(func() time.Time { return now })
	api := New(db, tr, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	srv := httptest.NewServer(validated(t, api))
	t.Cleanup(srv.Close)
	return fixture{srv: srv, key: key, db: db}
}

func (f fixture) get(t *testing.T, method, path string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.key)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestErrors(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name    string
		method  string
		path    string
		header  []string
		status  int
		code    string
		mention string // the detail must name it
	}{
		{"no key", "GET", "/api/v1/cves", []string{"Authorization", ""}, 401, "unauthorized", "missing"},
		{"unknown key", "GET", "/api/v1/cves", []string{"Authorization", "Bearer cvc_nope"}, 401, "unauthorized", "unknown"},
		{"basic auth", "GET", "/api/v1/cves", []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, "unauthorized", "Bearer"},
		{"no key on unknown route", "GET", "/api/v1/nothing", []string{"Authorization", ""}, 401, "unauthorized", ""},
		{"days zero", "GET", "/api/v1/cves?days=0", nil, 400, "invalid_parameter", "days"},
		{"days 31", "GET", "/api/v1/cves?days=31", nil, 400, "invalid_parameter", "days"},
		{"days text", "GET", "/api/v1/cves?days=abc", nil, 400, "invalid_parameter", "days"},
		{"days repeated", "GET", "/api/v1/cves?days=1&days=2", nil, 400, "invalid_parameter", "days"},
		{"days huge", "GET", "/api/v1/cves?days=99999999999999999999", nil, 400, "invalid_parameter", "days"},
		{"limit negative", "GET", "/v2/cves?limit=-1", nil, 400, "invalid_parameter", "limit"},
		{"offset negative", "GET", "/v2/cves?offset=-5", nil, 400, "invalid_parameter", "offset"},
		{"malformed cve", "GET", "/api/v1/cves/CVE-2024-ABC", nil, 400, "invalid_parameter", "cve_id"},
		{"sql in cve", "GET", "/api/v1/cves/CVE-2024-1234'%20OR%201=1", nil, 400, "invalid_parameter", "cve_id"},
		{"malformed cve posts", "GET", "/api/v1/cves/nope/posts", nil, 400, "invalid_parameter", "cve_id"},
		{"unknown cve", "GET", "/api/v1/cves/CVE-1999-0001", nil, 404, "not_found", ""},
		{"unknown cve posts", "GET", "/api/v1/cves/CVE-1999-0001/posts", nil, 404, "not_found", ""},
		{"unknown route", "GET", "/api/v1/nothing", nil, 404, "not_found", "/api/v1/nothing"},
		{"post not allowed", "POST", "/api/v1/cves", nil, 405, "method_not_allowed", "GET"},
		{"delete not allowed", "DELETE", "/api/v1/cves/CVE-2024-3094", nil, 405, "method_not_allowed", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, b := f.get(t, tt.method, tt.path, tt.header...)
			if status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", status, tt.status, b)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var e struct{ Error, Detail string }
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			if e.Error != tt.code || e.Detail == "" || !strings.Contains(e.Detail, tt.mention) {
				t.Errorf("error body = %+v, want code %q and detail naming %q", e, tt.code, tt.mention)
			}
		})
	}
}

func TestListAndDetail(t *testing.T) {
	f := setup(t)
	tests := []struct {
		path string
		want []string
	}{
		// CVE-2024-3094: alice best 123 + bob 100×0.5... bob's post is 13h old: (100+100)×0.5 = 100 → 223.
		// CVE-2021-44228: bob 100 + carol 150 = 250.
		{"/api/v1/cves", []string{"CVE-2021-44228", "CVE-2024-3094"}},
		{"/api/v1/cves?days=1", []string{"CVE-2021-44228", "CVE-2024-3094"}},
		{"/api/v1/cves?days=7", []string{"CVE-2021-44228", "CVE-2024-3094", "CVE-2023-4863"}},
		{"/api/v1/cves?days=7&limit=1&offset=1", []string{"CVE-2024-3094"}},
		{"/v2/cves?days=7&limit=2", []string{"CVE-2021-44228", "CVE-2024-3094"}},
		{"/v2/cves?days=7&limit=2&offset=2", []string{"CVE-2023-4863"}},
		{"/v2/cves?days=7&offset=3", []string{}},
		{"/v2/cves?days=7&offset=300", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, _, b := f.get(t, "GET", tt.path)
			if status != 200 {
				t.Fatalf("status %d: %s", status, b)
			}
			var got []string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v (%s), want %v", got, b, tt.want)
			}
		})
	}

	status, _, b := f.get(t, "GET", "/api/v1/cves/cve-2024-3094")
	if status != 200 {
		t.Fatalf("detail status %d: %s", status, b)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	keys := []string{"cve_id", "description", "vendor", "product", "published", "updated", "cvss_vector", "base_score",
		"base_severity", "epss", "epss_percentile", "kev", "verified", "weight", "posts_count", "interactions", "first_seen", "last_seen"}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("CVE object lacks key %q", k)
		}
	}
	if len(obj) != len(keys) {
		t.Errorf("CVE object has %d keys, want %d: %s", len(obj), len(keys), b)
	}
	if obj["cve_id"] != "CVE-2024-3094" || obj["weight"] != 223.0 || obj["posts_count"] != 3.0 || obj["interactions"] != 15.0 || obj["description"] != nil || obj["verified"] != false {
		t.Errorf("CVE object = %s", b)
	}

	status, _, b = f.get(t, "GET", "/api/v1/cves/CVE-2024-3094/posts")
	if status != 200 {
		t.Fatalf("posts status %d: %s", status, b)
	}
	var posts []Post
	if err := json.Unmarshal(b, &posts); err != nil {
		t.Fatal(err)
	}
	var weights []float64
	for _, p := range posts {
		weights = append(weights, p.Weight)
	}
	if !reflect.DeepEqual(weights, []float64{123, 100, 100}) {
		t.Fatalf("post weights = %v, want [123 100 100]", weights)
	}
	// Ties: the newer post first.
	if posts[1].URI != "https://x.example/s/2" || !sort.StringsAreSorted(posts[2].CVEs) || len(posts[2].CVEs) != 2 {
		t.Fatalf("posts = %+v", posts)
	}
	if posts[0].Account.Acct != "alice@x.example" || posts[0].Account.URL == nil || posts[0].Content == "" {
		t.Fatalf("post 0 = %+v", posts[0])
	}

	// A known CVE that is quiet in the window: empty list, not 404.
	status, _, b = f.get(t, "GET", "/api/v1/cves/CVE-2023-4863/posts?days=1")
	if status != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("quiet CVE posts = %d %s", status, b)
	}
}
