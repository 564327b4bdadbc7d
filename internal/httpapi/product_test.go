package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/cvecrowd/cvecrowd/api"
	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e struct{ Error, Detail string }
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" || e.Detail == "" {
		t.Fatalf("error body %q: %v", b, err)
	}
	return e.Error
}

func TestRateLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 10, 0, time.UTC)}
	f := setup(t, WithRateLimit(RateLimit{Requests: 3, Per: time.Minute}), WithClock(clock.now))
	for i := range 3 {
		status, h, b := f.get(t, "GET", "/api/v1/cves")
		if status != 200 {
			t.Fatalf("request %d: %d %s", i, status, b)
		}
		if h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) || h.Get("X-RateLimit-Reset") != "50" {
			t.Fatalf("request %d: headers %v", i, h)
		}
	}
	// Errors of an authenticated request count and carry the headers too.
	status, h, b := f.get(t, "GET", "/api/v1/cves?days=99")
	if status != 429 || h.Get("Retry-After") != "50" || h.Get("X-RateLimit-Remaining") != "0" || errorCode(t, b) != "rate_limited" {
		t.Fatalf("over the limit: %d %v %s", status, h, b)
	}
	// Another key has its own allowance.
	key2, prefix, hash, _ := apikey.Generate()
	if _, err := f.db.CreateAPIKey(context.Background(), "second", prefix, hash); err != nil {
		t.Fatal(err)
	}
	if status, h, _ := f.get(t, "GET", "/api/v1/cves", "Authorization", "Bearer "+key2); status != 200 || h.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("second key: %d %v", status, h)
	}
	clock.add(50 * time.Second) // the next minute
	if status, h, _ := f.get(t, "GET", "/api/v1/cves"); status != 200 || h.Get("X-RateLimit-Remaining") != "2" || h.Get("X-RateLimit-Reset") != "60" {
		t.Fatalf("next window: %d %v", status, h)
	}
	// Unauthenticated answers have no allowance to report.
	if status, h, _ := f.get(t, "GET", "/api/v1/cves", "Authorization", ""); status != 401 || h.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("no key: %d %v", status, h)
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		in   string
		want RateLimit
		bad  bool
	}{
		{"60/minute", RateLimit{60, time.Minute}, false},
		{"10/s", RateLimit{10, time.Second}, false},
		{"1000/hour", RateLimit{1000, time.Hour}, false},
		{"100/30s", RateLimit{100, 30 * time.Second}, false},
		{" 5 / m ", RateLimit{5, time.Minute}, false},
		{"0/minute", RateLimit{}, true},
		{"-1/minute", RateLimit{}, true},
		{"60", RateLimit{}, true},
		{"60/fortnight", RateLimit{}, true},
		{"60/10ms", RateLimit{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRateLimit(tt.in)
			if (err != nil) != tt.bad || got != tt.want {
				t.Fatalf("ParseRateLimit(%q) = %v, %v", tt.in, got, err)
			}
			if !tt.bad {
				if again, err := ParseRateLimit(got.String()); err != nil || again != got {
					t.Fatalf("String %q does not parse back: %v %v", got.String(), again, err)
				}
			}
		})
	}
}

func TestUsageIsBuffered(t *testing.T) {
	ctx := context.Background()
	var u *Usage
	f := setupUsage(t, &u)
	for range 5 {
		if status, _, b := f.get(t, "GET", "/api/v1/cves"); status != 200 {
			t.Fatalf("%d %s", status, b)
		}
	}
	keys, err := f.db.APIKeys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	if keys[0].Requests != 0 || keys[0].LastUsed != nil {
		t.Fatalf("usage written on the request path: %+v", keys[0])
	}
	if p := u.Pending(keys[0].ID); p.Requests != 5 {
		t.Fatalf("pending = %+v, want 5 requests", p)
	}
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.get(t, "GET", "/api/v1/cves")
	if err := u.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ = f.db.APIKeys(ctx)
	if keys[0].Requests != 6 || keys[0].LastUsed == nil {
		t.Fatalf("after flushes: %+v", keys[0])
	}
}

func setupUsage(t *testing.T, u **Usage) fixture {
	// The store exists only inside setup, so the Usage writes through a
	// forwarder that setup's database is plugged into afterwards.
	fw := &usageForwarder{}
	*u = NewUsage(fw, nil)
	f := setup(t, WithUsage(*u))
	fw.db = f.db
	return f
}

type usageForwarder struct{ db *store.DB }

func (f *usageForwarder) AddAPIKeyUsage(ctx context.Context, u []store.KeyUsage) error {
	return f.db.AddAPIKeyUsage(ctx, u)
}

func TestRevokeTakesEffectOnNextRequest(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if status, _, _ := f.get(t, "GET", "/api/v1/cves"); status != 200 {
		t.Fatal(status)
	}
	keys, _ := f.db.APIKeys(ctx)
	if err := f.db.RevokeAPIKey(ctx, keys[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	status, _, b := f.get(t, "GET", "/api/v1/cves")
	if status != 401 || !strings.Contains(string(b), "revoked") {
		t.Fatalf("after revoke: %d %s", status, b)
	}
}

// TestBadInput throws hostile and malformed requests at the API: each gets
// the right 4xx with a JSON error body (and, through the contract wrapper,
// one the document describes); none gets a 500.
func TestBadInput(t *testing.T) {
	f := setup(t, WithRateLimit(RateLimit{Requests: 1000, Per: time.Minute}))
	long := strings.Repeat("9", 2000)
	tests := []struct {
		name   string
		method string
		path   string
		header []string
		status int
		code   string
	}{
		{"oversized header", "GET", "/api/v1/cves", []string{"X-Junk", strings.Repeat("a", 10_000)}, 431, "headers_too_large"},
		{"oversized header without key", "GET", "/api/v1/cves", []string{"Authorization", "", "X-Junk", strings.Repeat("a", 10_000)}, 431, "headers_too_large"},
		{"huge key", "GET", "/api/v1/cves", []string{"Authorization", "Bearer " + strings.Repeat("k", 5000)}, 401, "unauthorized"},
		{"short key", "GET", "/api/v1/cves", []string{"Authorization", "Bearer cvc_"}, 401, "unauthorized"},
		{"bearer without key", "GET", "/api/v1/cves", []string{"Authorization", "Bearer"}, 401, "unauthorized"},
		{"dot-dot path", "GET", "/api/v1/cves/../../../etc/passwd", nil, 400, "invalid_path"},
		{"double slash", "GET", "/api/v1//cves", nil, 400, "invalid_path"},
		{"encoded dot-dot in cve_id", "GET", "/api/v1/cves/..%2F..%2Fetc%2Fpasswd", nil, 400, "invalid_parameter"},
		{"encoded slash in cve_id", "GET", "/api/v1/cves/CVE-2024-3094%2Fposts", nil, 400, "invalid_parameter"},
		{"nul in cve_id", "GET", "/api/v1/cves/CVE-2024-3094%00", nil, 400, "invalid_parameter"},
		{"sql in cve_id", "GET", "/v2/cves/CVE-2024-3094'%3B%20DROP%20TABLE%20posts%3B--/posts", nil, 400, "invalid_parameter"},
		{"union in cve_id", "GET", "/api/v1/cves/1%20UNION%20SELECT%20hash%20FROM%20api_keys", nil, 400, "invalid_parameter"},
		{"fullwidth digits", "GET", "/api/v1/cves/CVE-2024-%EF%BC%93%EF%BC%90%EF%BC%99%EF%BC%94", nil, 400, "invalid_parameter"},
		{"long cve_id", "GET", "/api/v1/cves/CVE-2024-" + long, nil, 400, "invalid_parameter"},
		{"days negative", "GET", "/api/v1/cves?days=-1", nil, 400, "invalid_parameter"},
		{"days float", "GET", "/api/v1/cves?days=1.5", nil, 400, "invalid_parameter"},
		{"days empty", "GET", "/api/v1/cves?days=", nil, 400, "invalid_parameter"},
		{"days hex", "GET", "/api/v1/cves?days=0x7", nil, 400, "invalid_parameter"},
		{"days overflow", "GET", "/api/v1/cves?days=" + long, nil, 400, "invalid_parameter"},
		{"limit zero", "GET", "/v2/cves?limit=0", nil, 400, "invalid_parameter"},
		{"limit too big", "GET", "/v2/cves?limit=1001", nil, 400, "invalid_parameter"},
		{"limit repeated", "GET", "/v2/cves?limit=1&limit=2", nil, 400, "invalid_parameter"},
		{"offset huge", "GET", "/v2/cves?offset=1000000000000000000000", nil, 400, "invalid_parameter"},
		{"offset negative on posts", "GET", "/v2/cves/CVE-2024-3094/posts?offset=-1", nil, 400, "invalid_parameter"},
		{"days repeated on posts", "GET", "/api/v1/cves/CVE-2024-3094/posts?days=1&days=1", nil, 400, "invalid_parameter"},
		{"bad query escape", "GET", "/api/v1/cves?days=%zz", nil, 400, "invalid_parameter"},
		{"PUT", "PUT", "/v2/cves", nil, 405, "method_not_allowed"},
		{"PATCH", "PATCH", "/api/v1/cves/CVE-2024-3094/posts", nil, 405, "method_not_allowed"},
		{"OPTIONS", "OPTIONS", "/api/v1/cves", nil, 405, "method_not_allowed"},
		{"TRACE", "TRACE", "/v2/cves/CVE-2024-3094", nil, 405, "method_not_allowed"},
		{"POST docs", "POST", "/api/openapi.yaml", []string{"Authorization", ""}, 405, "method_not_allowed"},
		{"unknown docs file", "GET", "/api/docs/../../go.mod", nil, 400, "invalid_path"},
		{"unknown docs asset", "GET", "/api/docs/evil.js", []string{"Authorization", ""}, 404, "not_found"},
		{"trailing slash", "GET", "/api/v1/cves/", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, b := f.get(t, tt.method, tt.path, tt.header...)
			if status != tt.status {
				t.Fatalf("status = %d, want %d; body %.200s", status, tt.status, b)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if code := errorCode(t, b); code != tt.code {
				t.Errorf("error = %q, want %q (%s)", code, tt.code, b)
			}
			if bytes.Contains(b, []byte("goroutine")) || bytes.Contains(b, []byte(".go:")) {
				t.Errorf("body leaks a stack trace: %s", b)
			}
		})
	}
}

// TestPagingContract walks /v2 lists page by page for several page sizes:
// pages are full while more remain, the pages add up to the whole list,
// and an offset past the end answers [].
func TestPagingContract(t *testing.T) {
	f := setup(t, WithRateLimit(RateLimit{Requests: 1000, Per: time.Minute}))
	for _, base := range []string{"/v2/cves?days=7", "/v2/cves/CVE-2024-3094/posts?days=7"} {
		var whole []json.RawMessage
		getJSON(t, f, base+"&limit=1000", &whole)
		if len(whole) < 3 {
			t.Fatalf("%s: only %d items", base, len(whole))
		}
		for limit := 1; limit <= len(whole)+1; limit++ {
			t.Run(base+" limit "+strconv.Itoa(limit), func(t *testing.T) {
				var all []json.RawMessage
				for offset := 0; ; offset += limit {
					var page []json.RawMessage
					getJSON(t, f, base+"&limit="+strconv.Itoa(limit)+"&offset="+strconv.Itoa(offset), &page)
					all = append(all, page...)
					if len(page) < limit {
						break
					}
					if offset > len(whole) {
						t.Fatal("paging does not end")
					}
				}
				if len(all) != len(whole) {
					t.Fatalf("pages hold %d items, the list %d", len(all), len(whole))
				}
				for i := range all {
					if !bytes.Equal(all[i], whole[i]) {
						t.Fatalf("item %d differs between paged and whole answers", i)
					}
				}
			})
		}
		var past []json.RawMessage
		if raw := getJSON(t, f, base+"&offset="+strconv.Itoa(len(whole)), &past); len(past) != 0 || strings.TrimSpace(raw) != "[]" {
			t.Fatalf("%s: offset past the end = %s", base, raw)
		}
	}
}

func getJSON(t *testing.T, f fixture, path string, v any) string {
	t.Helper()
	status, _, b := f.get(t, "GET", path)
	if status != 200 {
		t.Fatalf("GET %s = %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return string(b)
}

// TestDocs checks the contract and its page are served without a key, the
// page runs no inline script and every file it loads is served.
func TestDocs(t *testing.T) {
	f := setup(t)
	status, h, b := f.get(t, "GET", "/api/openapi.yaml", "Authorization", "")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/yaml") || !bytes.Equal(b, api.OpenAPI) {
		t.Fatalf("openapi.yaml: %d %s", status, h.Get("Content-Type"))
	}
	status, h, b = f.get(t, "GET", "/api/docs", "Authorization", "")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %v", status, h)
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") {
		t.Fatalf("docs CSP = %q", csp)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var assets []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if (n.Data == "script" && a.Key == "src") || (n.Data == "link" && a.Key == "href") {
					assets = append(assets, a.Val)
				}
			}
			if n.Data == "script" && n.FirstChild != nil && strings.TrimSpace(n.FirstChild.Data) != "" {
				t.Errorf("inline script: %q", n.FirstChild.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(a.Key, "style") {
					t.Errorf("inline attribute %s on <%s>", a.Key, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	slices.Sort(assets)
	want := []string{"/api/docs/init.js", "/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css"}
	if !slices.Equal(assets, want) {
		t.Fatalf("page loads %v, want %v", assets, want)
	}
	for _, a := range assets {
		status, h, b := f.get(t, "GET", a, "Authorization", "")
		if status != 200 || len(b) == 0 || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d %v %s", a, status, h, b)
		}
		wantType := map[bool]string{true: "text/javascript", false: "text/css"}[strings.HasSuffix(a, ".js")]
		if !strings.HasPrefix(h.Get("Content-Type"), wantType) {
			t.Errorf("%s: Content-Type %q", a, h.Get("Content-Type"))
		}
	}
	// The page's init script loads this server's own document.
	_, _, js := f.get(t, "GET", "/api/docs/init.js")
	if !bytes.Contains(js, []byte(`url: "/api/openapi.yaml"`)) {
		t.Fatalf("init.js does not load /api/openapi.yaml")
	}
}

func TestHead(t *testing.T) {
	f := setup(t)
	status, h, b := f.get(t, "HEAD", "/api/v1/cves?days=7")
	if status != 200 || len(b) != 0 || h.Get("X-RateLimit-Limit") == "" {
		t.Fatalf("HEAD: %d %v %q", status, h, b)
	}
	_ = http.MethodHead
}
