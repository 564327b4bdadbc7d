package mastodon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// goodItem returns a minimal valid status JSON object.
func goodItem(id string) string {
	return `{"id":"` + id + `","created_at":"2026-08-01T13:55:50.338Z","uri":"https://a.example/users/x/statuses/` + id +
		`","account":{"id":"1","acct":"x"},"content":"<p>CVE-2024-3094</p>"}`
}

func TestTimelineErrorsAndHostileBodies(t *testing.T) {
	const serverDate = "Sat, 01 Aug 2026 13:55:49 GMT"
	huge := strings.Repeat("CVE-2024-3094 ", (1<<20)/14+1) // > 1 MiB of content
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		maxBody int64
		// expectations
		wantErr       string // substring of the error; "" means success
		wantHTTP      int
		wantTemporary bool
		wantRetry     time.Duration
		wantStatuses  int
		wantMalformed int
		wantNotFound  bool
		wantTooLarge  bool
	}{
		{name: "429 retry-after seconds", status: 429, header: map[string]string{"Retry-After": "7", "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-08-01T14:00:00.497737Z"},
			body: `{"error":"Too many requests"}`, wantErr: "HTTP 429 Too Many Requests (retry after 7s)", wantHTTP: 429, wantTemporary: true, wantRetry: 7 * time.Second},
		{name: "429 retry-after http-date", status: 429, header: map[string]string{"Date": serverDate, "Retry-After": "Sat, 01 Aug 2026 13:56:19 GMT"},
			wantErr: "HTTP 429", wantHTTP: 429, wantTemporary: true, wantRetry: 30 * time.Second},
		{name: "429 retry-after garbage", status: 429, header: map[string]string{"Retry-After": "soon"},
			wantErr: "HTTP 429", wantHTTP: 429, wantTemporary: true},
		{name: "503", status: 503, header: map[string]string{"Content-Type": "text/html"}, body: "<html><body>\n<h1>503 Service Unavailable</h1>\n</body></html>",
			wantErr: "HTTP 503 Service Unavailable: <html><body> <h1>503", wantHTTP: 503, wantTemporary: true},
		{name: "410 gone", status: 410, wantErr: "HTTP 410", wantHTTP: 410, wantNotFound: true},
		{name: "401", status: 401, body: `{"error":"The access token is invalid"}`, wantErr: "HTTP 401", wantHTTP: 401},
		{name: "HTML with 200", status: 200, header: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			body: "<!DOCTYPE html>\n<html><head><title>Just a moment...</title>", wantErr: `/api/v1/timelines/public: response is not a JSON array (content-type "text/html; charset=utf-8", 59 bytes, starts "<!DOCTYPE html> <html>`},
		{name: "error object with 200", status: 200, body: `{"error":"This method requires an authenticated user"}`, wantErr: "response is not a JSON array"},
		{name: "empty body", status: 200, body: "", wantErr: "response is not a JSON array"},
		{name: "garbage", status: 200, body: "\x00\xff\xfegarbage", wantErr: "response is not a JSON array"},
		{name: "truncated JSON", status: 200, body: "[" + goodItem("1") + `,{"id":"2","created_at":"2026-`, wantErr: "invalid JSON"},
		{name: "mixed garbage items", status: 200,
			body:         "[" + goodItem("10") + `, 42, {"id":"11","created_at":"2026-08-01T13:55:50Z","account":{"id":"1"}}, ` + goodItem("9") + "]",
			wantStatuses: 2, wantMalformed: 2},
		{name: "over the cap", status: 200, body: "[" + goodItem("1") + "]", maxBody: 64, wantErr: "response body too large", wantTooLarge: true},
		{name: "over the cap without content-length", status: 200, header: map[string]string{"X-Chunked": "1"}, body: "[" + goodItem("1") + "]", maxBody: 64,
			wantErr: "response body too large", wantTooLarge: true},
		{name: "1 MiB content", status: 200, body: "[" + strings.Replace(goodItem("1"), "<p>CVE-2024-3094</p>", huge, 1) + "]", wantStatuses: 1},
		{name: "empty array", status: 200, body: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, "", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.header["X-Chunked"] != "" {
					// Flushing before the body forces chunked encoding, so the
					// client cannot rely on Content-Length.
					w.WriteHeader(tt.status)
					w.(http.Flusher).Flush()
				} else {
					w.WriteHeader(tt.status)
				}
				_, _ = w.Write([]byte(tt.body))
			})
			c.MaxBody = tt.maxBody
			page, err := c.PublicTimeline(context.Background(), PageParams{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Statuses) != tt.wantStatuses || page.Malformed != tt.wantMalformed || len(page.MalformedErrs) != tt.wantMalformed {
					t.Fatalf("statuses=%d malformed=%d errs=%v", len(page.Statuses), page.Malformed, page.MalformedErrs)
				}
				for _, e := range page.MalformedErrs {
					t.Logf("malformed: %v", e)
				}
				if tt.name == "1 MiB content" && page.Statuses[0].Content != huge {
					t.Error("huge content not preserved")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, page %+v", page)
			}
			if page != nil {
				t.Error("page returned together with an error")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "mastodon: GET http://127.0.0.1:") {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
			var he *HTTPError
			if errors.As(err, &he) != (tt.wantHTTP != 0) {
				t.Fatalf("errors.As HTTPError = %v, want %v", he != nil, tt.wantHTTP != 0)
			}
			if he != nil {
				if he.StatusCode != tt.wantHTTP || he.Temporary() != tt.wantTemporary || he.RetryAfter != tt.wantRetry {
					t.Errorf("HTTPError = %+v", he)
				}
				if strings.ContainsAny(he.Body, "\n\r\x00") || len(he.Body) > 200 {
					t.Errorf("Body not sanitised: %q", he.Body)
				}
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(ErrNotFound) = %v", !tt.wantNotFound)
			}
			if errors.Is(err, ErrBodyTooLarge) != tt.wantTooLarge {
				t.Errorf("errors.Is(ErrBodyTooLarge) = %v", !tt.wantTooLarge)
			}
		})
	}
}

func TestHTTPErrorTemporaryAndIs(t *testing.T) {
	for _, tt := range []struct {
		code      int
		temporary bool
		notFound  bool
	}{
		{400, false, false}, {401, false, false}, {403, false, false}, {404, false, true}, {410, false, true},
		{422, false, false}, {429, true, false}, {500, true, false}, {502, true, false}, {503, true, false}, {599, true, false}, {600, false, false},
	} {
		e := &HTTPError{StatusCode: tt.code}
		if e.Temporary() != tt.temporary || errors.Is(e, ErrNotFound) != tt.notFound {
			t.Errorf("%d: Temporary=%v Is(ErrNotFound)=%v", tt.code, e.Temporary(), errors.Is(e, ErrNotFound))
		}
		if wrapped := fmt.Errorf("poll: %w", e); errors.Is(wrapped, ErrNotFound) != tt.notFound {
			t.Errorf("%d: wrapped Is mismatch", tt.code)
		}
	}
}

func TestContextCancel(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c := serve(t, "", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.PublicTimeline(ctx, PageParams{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("cancel was not honoured promptly")
	}
	if !strings.HasPrefix(err.Error(), "mastodon: GET http://127.0.0.1:") {
		t.Errorf("error %q does not name the endpoint", err)
	}

	// A cancel while the body is streaming is honoured too.
	c2 := serve(t, "", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("[" + goodItem("1")))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := c2.PublicTimeline(ctx2, PageParams{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

// TestTokenNeverInErrors drives every error path with a server that echoes
// the Authorization header back in bodies, headers and status items.
func TestTokenNeverInErrors(t *testing.T) {
	const token = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	echo := func(status int, ct string, tmpl string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			if auth != "Bearer "+token {
				t.Errorf("Authorization = %q", auth)
			}
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, tmpl, auth, auth)
		}
	}
	tests := []struct {
		name string
		h    http.HandlerFunc
		// call the endpoint under test
		call func(*Client) (any, error)
	}{
		{"401 echo", echo(401, "application/json", `{"error":"bad token %s %s"}`), timelineCall},
		{"429 echo at the 200-byte cut", echo(429, "text/plain", strings.Repeat("x", 190)+"%s %s"), timelineCall},
		{"404 status", echo(404, "application/json", `{"error":"%s%s"}`), statusCall},
		{"HTML 200", echo(200, "text/html", "<html>%s %s</html>"), timelineCall},
		{"HTML 200 status", echo(200, "text/html", "<html>%s %s</html>"), statusCall},
		{"HTML 200 instance", echo(200, "text/html", "<html>%s %s</html>"), instanceCall},
		{"HTML 200 search", echo(200, "text/html", "<html>%s %s</html>"), searchCall},
		{"truncated JSON", echo(200, "application/json", `["%s","%s"`), timelineCall},
		{"bad status object", echo(200, "application/json", `{"id":"1","uri":"u","account":{"id":"1"},"created_at":"%s %s"}`), statusCall},
		{"malformed items", echo(200, "application/json", `[{"id":"1","uri":"u","account":{"id":"1"},"created_at":"%s"},{"id":{"%s":1}}]`), timelineCall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, token, tt.h)
			// A misconfigured base URL carrying the token as user info and in the query.
			c.BaseURL.User = url.UserPassword("u", token)
			c.BaseURL.RawQuery = "access_token=" + token
			res, err := tt.call(c)
			var msgs []string
			if err != nil {
				msgs = append(msgs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
				for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
					msgs = append(msgs, e.Error())
				}
				var he *HTTPError
				if errors.As(err, &he) {
					msgs = append(msgs, he.Body, he.URL)
				}
			} else if p, ok := res.(*Page); ok {
				if p.Malformed == 0 {
					t.Fatalf("expected malformed items, got %+v", p)
				}
				for _, e := range p.MalformedErrs {
					msgs = append(msgs, e.Error())
				}
			} else {
				t.Fatalf("expected an error, got %+v", res)
			}
			msgs = append(msgs, c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, *c))
			for _, m := range msgs {
				if strings.Contains(m, token) || strings.Contains(m, token[:8]) {
					t.Errorf("token leaked: %s", m)
				}
			}
			t.Logf("%s", msgs[0])
		})
	}
}

func timelineCall(c *Client) (any, error) {
	return c.PublicTimeline(context.Background(), PageParams{})
}
func statusCall(c *Client) (any, error)   { return c.Status(context.Background(), "1") }
func instanceCall(c *Client) (any, error) { return c.Instance(context.Background()) }
func searchCall(c *Client) (any, error)   { return c.SearchHashtags(context.Background(), "cve", 1) }

func TestSanitize(t *testing.T) {
	tok := "SECRETTOKEN"
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\tc\x00d", 200, "a b c d"},
		{"bad \xff utf8", 200, "bad \uFFFD utf8"},
		{"abc" + tok + "def", 200, "abc[REDACTED]def"},
		{"0123456789" + tok, 12, "0123456789[R"},   // token starts inside: redacted, then cut
		{"0123456789SECRETTO", 12, "0123456789[R"}, // a long token prefix is a leak too
		{"0123456789SECR", 12, "0123456789"},       // a short token prefix at the end is dropped
		{"héllo", 2, "h"},                          // no split rune
		{"x\u202eevil", 200, "x evil"},
	}
	for _, tt := range tests {
		if got := sanitize([]byte(tt.in), tt.n, tok); got != tt.want {
			t.Errorf("sanitize(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
