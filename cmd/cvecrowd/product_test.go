package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/httpapi"
	"github.com/cvecrowd/cvecrowd/internal/password"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

func TestAdminCLI(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "admin.db")
	cli := func(stdin string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		var err error
		if args[0] == "users" {
			err = users(ctx, args[1:], strings.NewReader(stdin), &out, &errOut)
		} else {
			err = run(ctx, args, &out, &errOut)
		}
		return out.String(), errOut.String(), err
	}
	// keys create keeps its exact contract: the key alone on stdout.
	out, _, err := cli("", "keys", "create", "--db", db, "--name", "ops")
	key := strings.TrimSpace(out)
	if err != nil || !regexp.MustCompile(`^cvc_[0-9a-f]{48}$`).MatchString(key) || strings.Count(out, "\n") != 1 {
		t.Fatalf("keys create: %q %v", out, err)
	}
	// users create: generated password printed alone; or read from stdin.
	out, _, err = cli("", "users", "create", "--db", db, "--email", "Alice@Example.org")
	generated := strings.TrimSpace(out)
	if err != nil || len(generated) != 20 {
		t.Fatalf("users create: %q %v", out, err)
	}
	if out, _, err = cli("a stdin password\n", "users", "create", "--db", db, "--email", "bob@example.org", "--password-stdin"); err != nil || out != "" {
		t.Fatalf("users create --password-stdin: %q %v", out, err)
	}
	if _, _, err = cli("short\n", "users", "create", "--db", db, "--email", "carol@example.org", "--password-stdin"); err == nil {
		t.Fatal("a short password was accepted")
	}
	if _, _, err = cli("", "users", "create", "--db", db, "--email", "alice@example.org"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("duplicate account: %v", err)
	}
	st, err := store.Open(ctx, db)
	must(t, err)
	for email, pw := range map[string]string{"alice@example.org": generated, "bob@example.org": "a stdin password"} {
		u, err := st.UserByEmail(ctx, email)
		if err != nil || password.Verify(pw, u.PasswordHash) != nil {
			t.Fatalf("%s cannot log in with its password: %v", email, err)
		}
	}
	st.Close()

	out, _, err = cli("", "keys", "list", "--db", db)
	if err != nil || strings.Contains(out, key) || !strings.Contains(out, key[:apikey.PrefixLen]) || !strings.Contains(out, "active") {
		t.Fatalf("keys list: %q %v", out, err)
	}
	if out, _, err = cli("", "keys", "revoke", "--db", db, "--prefix", key[:apikey.PrefixLen]); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("keys revoke: %q %v", out, err)
	}
	if out, _, _ = cli("", "keys", "list", "--db", db); !strings.Contains(out, "revoked") {
		t.Fatalf("keys list after revoke: %q", out)
	}
	for _, args := range [][]string{
		{"keys", "revoke", "--db", db, "--id", "999"},
		{"keys", "revoke", "--db", db},
		{"keys", "revoke", "--db", db, "--prefix", "cvc_ffffffff"},
		{"keys", "frobnicate"},
		{"users", "delete"},
	} {
		if _, _, err := cli("", args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// seed stores a few posts at now so a booted Main has something to answer.
func seed(t *testing.T, db string) {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	must(t, err)
	defer st.Close()
	now := time.Now()
	var posts []store.Sighted
	for i, p := range []struct {
		account string
		age     time.Duration
		cves    []string
	}{
		{"alice", time.Hour, []string{"CVE-2024-3094"}},
		{"alice", 2 * time.Hour, []string{"CVE-2024-3094", "CVE-2021-44228"}},
		{"bob", 30 * time.Hour, []string{"CVE-2024-3094"}},
		{"carol", 5 * 24 * time.Hour, []string{"CVE-2024-3094"}},
		{"dave", 3 * time.Hour, []string{"CVE-2021-44228"}},
	} {
		uri := "https://x.example/s/" + string(rune('1'+i))
		posts = append(posts, store.Sighted{Post: store.Post{URI: uri, URL: uri, CreatedAt: now.Add(-p.age), Content: "<p>hi</p>",
			Account: store.Account{URL: "https://x.example/@" + p.account, Acct: p.account + "@x.example"}, CVEs: p.cves}, LocalID: uri})
	}
	_, err = st.SaveBatch(context.Background(), store.Batch{Instance: "x.example", Feed: "public", Posts: posts})
	must(t, err)
}

func bootSeeded(t *testing.T, cfg Config) *Main {
	t.Helper()
	cfg.DB = filepath.Join(t.TempDir(), "p.db")
	cfg.Listen, cfg.NoIngest, cfg.CacheTTL = "127.0.0.1:0", true, 50*time.Millisecond
	seed(t, cfg.DB)
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, m.Run(context.Background()))
	t.Cleanup(func() { m.Close() })
	return m
}

// TestNewUserJourney follows the README: sign up on the running service,
// create a key, call the API with it, open the docs, revoke the key.
func TestNewUserJourney(t *testing.T) {
	m := bootSeeded(t, Config{SignupOpen: true, RateLimit: httpapiLimit(t, "5/minute"), UsageFlush: time.Hour})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	postForm := func(path string, form url.Values) string {
		req, _ := http.NewRequest("POST", m.URL()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", m.URL())
		resp, err := browser.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	postForm("/portal/signup", url.Values{"email": {"newcomer@example.org"}, "password": {"a good long password"}})
	page := postForm("/portal/keys", url.Values{"name": {"first script"}})
	key := regexp.MustCompile(`cvc_[0-9a-f]{48}`).FindString(page)
	if key == "" {
		t.Fatalf("no key on the page: %s", page)
	}
	if !strings.Contains(page, `curl -H "Authorization: Bearer `+key+`" '`+m.URL()+`/api/v1/cves?days=1'`) {
		t.Errorf("the page lacks a ready curl line for %s: %s", m.URL(), page)
	}

	api := func(key string) (int, http.Header, []byte) {
		req, _ := http.NewRequest("GET", m.URL()+"/api/v1/cves?days=1", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	status, h, b := api(key)
	var ids []string
	if status != 200 || json.Unmarshal(b, &ids) != nil || !slices.Equal(ids, []string{"CVE-2021-44228", "CVE-2024-3094"}) {
		t.Fatalf("first call: %d %s", status, b)
	}
	if h.Get("X-RateLimit-Limit") != "5" || h.Get("X-RateLimit-Remaining") != "4" {
		t.Fatalf("rate limit headers: %v", h)
	}
	for range 4 {
		api(key)
	}
	if status, h, _ := api(key); status != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("sixth call: %d %v", status, h)
	}

	for _, path := range []string{"/api/docs", "/api/openapi.yaml", "/api/docs/swagger-ui-bundle.js"} {
		resp, err := http.Get(m.URL() + path)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s without a key: %d", path, resp.StatusCode)
		}
	}
	// A non-canonical API path answers JSON 400, not the mux's redirect.
	resp, err := http.Get(m.URL() + "/api/v1/cves/../../portal/keys")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("dot-dot API path: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The keys page shows the usage counted so far (not yet flushed).
	resp, err = browser.Get(m.URL() + "/portal/keys")
	must(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`<td class="num">6</td>`).Match(b) {
		t.Fatalf("keys page does not show 6 requests: %s", b)
	}
	id := regexp.MustCompile(`/portal/keys/(\d+)/revoke`).FindStringSubmatch(string(b))
	if id == nil {
		t.Fatal("no revoke form")
	}
	postForm("/portal/keys/"+id[1]+"/revoke", nil)
	if status, _, b := api(key); status != 401 || !strings.Contains(string(b), "revoked") {
		t.Fatalf("call after revoke: %d %s", status, b)
	}

	// Close flushes the counted usage to the database.
	must(t, m.Close())
	st, err := store.Open(context.Background(), m.Config.DB)
	must(t, err)
	defer st.Close()
	keys, err := st.APIKeys(context.Background())
	must(t, err)
	// 5 answered, 1 over the limit; the call with the revoked key is not authenticated, so not counted.
	if len(keys) != 1 || keys[0].Requests != 6 || keys[0].LastUsed == nil {
		t.Fatalf("usage after shutdown: %+v", keys)
	}
}

func httpapiLimit(t *testing.T, s string) httpapi.RateLimit {
	t.Helper()
	l, err := httpapi.ParseRateLimit(s)
	must(t, err)
	return l
}

// TestExamples runs the README's example scripts against a running
// instance: the Go one always, the Python one when python3 with requests is
// installed (CI installs it).
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the examples")
	}
	m := bootSeeded(t, Config{})
	var out bytes.Buffer
	must(t, run(context.Background(), []string{"keys", "create", "--db", m.Config.DB, "--name", "examples"}, &out, io.Discard))
	env := append(os.Environ(), "CVECROWD_URL="+m.URL(), "CVECROWD_KEY="+strings.TrimSpace(out.String()))
	// Over 3 days: alice's two posts and bob's; carol's post is 5 days old.
	want := "alice@x.example\t2\nbob@x.example\t1\n"

	runExample := func(name string, cmd *exec.Cmd) {
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		if string(got) != want {
			t.Fatalf("%s printed %q, want %q", name, got, want)
		}
	}
	runExample("go example", exec.Command("go", "run", "../../examples/accounts", "-days", "3", "CVE-2024-3094"))

	// The first python3 that has requests: PATH's, else the system's (where
	// apt installs python3-requests).
	py := ""
	for _, cand := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(cand); err == nil && exec.Command(p, "-c", "import requests").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must have python3 with requests (.ci/run installs python3-requests)")
		}
		t.Log("python3 with requests not found: the Python example is not run")
		return
	}
	runExample("python example", exec.Command(py, "../../examples/accounts.py", "--days", "3", "CVE-2024-3094"))

	// The scripts report API errors instead of printing nothing.
	cmd := exec.Command("go", "run", "../../examples/accounts", "-days", "3", "CVE-1999-0001")
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "404") {
		t.Fatalf("go example on an unknown CVE: %v %s", err, b)
	}
}

// TestMalformedRequests sends requests no client library would: the server
// answers a 4xx and closes, never a 5xx. Headers too broken for net/http to
// parse get its plain-text 400; oversized but well-formed ones reach the API
// and get its JSON 431.
func TestMalformedRequests(t *testing.T) {
	m := bootSeeded(t, Config{})
	addr := strings.TrimPrefix(m.URL(), "http://")
	tests := []struct {
		name, raw string
		status    string
		json      bool
	}{
		{"no colon in header", "GET /api/v1/cves HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n", "400", false},
		{"control byte in header", "GET /api/v1/cves HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x01\x02\r\n\r\n", "400", false},
		{"bad request line", "GET\r\n\r\n", "400", false},
		{"20 KiB header", "GET /api/v1/cves HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Junk: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", "431", true},
		{"space in path", "GET /api/v1/cves/CVE 2024 HTTP/1.1\r\nHost: x\r\n\r\n", "400", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			must(t, err)
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Write([]byte(tt.raw))
			must(t, err)
			b, _ := io.ReadAll(conn)
			resp := string(b)
			if !strings.HasPrefix(resp, "HTTP/1.1 "+tt.status) {
				t.Fatalf("answer %.200q, want status %s", resp, tt.status)
			}
			if tt.json && !strings.Contains(resp, `"error":"headers_too_large"`) {
				t.Fatalf("answer %.300q is not the JSON error", resp)
			}
			if strings.Contains(resp, "goroutine") || strings.Contains(resp, ".go:") {
				t.Fatalf("answer leaks internals: %q", resp)
			}
		})
	}
}
