package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/password"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

type portalFixture struct {
	srv *httptest.Server
	db  *store.DB
}

func setupPortal(t *testing.T, open bool) portalFixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	site, err := New(trend.New(db, time.Second), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// Cheap argon2id parameters keep the test fast; the code path is the same.
	p, err := NewPortal(site, db, PortalConfig{SignupOpen: open, Password: password.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return portalFixture{srv: srv, db: db}
}

// browser is a client with a cookie jar that does not follow redirects and
// sends the headers a same-origin form post from a browser carries.
func (f portalFixture) browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f portalFixture) post(t *testing.T, c *http.Client, path string, form url.Values, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, c, req)
}

func (f portalFixture) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	return do(t, c, req)
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var keyRE = regexp.MustCompile(`cvc_[0-9a-f]{48}`)

func TestPortalFlow(t *testing.T) {
	f := setupPortal(t, true)
	ctx := context.Background()
	c := f.browser(t)

	// Sign up: a session cookie with the right attributes, then the keys page.
	resp, body := f.post(t, c, "/portal/signup", url.Values{"email": {" Alice@Example.org "}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/keys" {
		t.Fatalf("signup: %d %s", resp.StatusCode, body)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || len(session.Value) < 40 {
		t.Fatalf("session cookie = %+v", session)
	}
	// Only the token's hash is stored.
	if _, err := f.db.SessionUser(ctx, session.Value); err == nil {
		t.Fatal("the session token itself is a stored key")
	}
	if u, err := f.db.SessionUser(ctx, tokenHash(session.Value)); err != nil || u.Email != "alice@example.org" {
		t.Fatalf("session user = %+v, %v", u, err)
	}
	if u, _ := f.db.UserByEmail(ctx, "alice@example.org"); !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(u.PasswordHash, "horse") {
		t.Fatalf("stored password hash %q", u.PasswordHash)
	}

	resp, body = f.get(t, c, "/portal/keys")
	if resp.StatusCode != 200 || !strings.Contains(body, "alice@example.org") || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("keys page: %d %v", resp.StatusCode, resp.Header)
	}

	// Create a key: shown once, stored hashed, listed by prefix.
	resp, body = f.post(t, c, "/portal/keys", url.Values{"name": {"siem <script>"}})
	key := keyRE.FindString(body)
	if resp.StatusCode != http.StatusCreated || key == "" || strings.Contains(body, "<script>") {
		t.Fatalf("create key: %d %s", resp.StatusCode, body)
	}
	resp, body = f.get(t, c, "/portal/keys")
	if strings.Contains(body, key) || !strings.Contains(body, key[:apikey.PrefixLen]) || !strings.Contains(body, "siem &lt;script&gt;") {
		t.Fatalf("keys list after creation shows the key or lacks its prefix: %s", body)
	}
	stored, err := f.db.APIKeysByPrefix(ctx, key[:apikey.PrefixLen])
	if err != nil || len(stored) != 1 || stored[0].Hash != apikey.Hash(key) {
		t.Fatalf("stored key = %+v, %v", stored, err)
	}

	// Another account cannot revoke it; its owner can.
	other := f.browser(t)
	f.post(t, other, "/portal/signup", url.Values{"email": {"bob@example.org"}, "password": {"another good password"}})
	path := "/portal/keys/" + strconv.FormatInt(stored[0].ID, 10) + "/revoke"
	if resp, _ := f.post(t, other, path, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bob revoking alice's key: %d", resp.StatusCode)
	}
	if resp, _ := f.post(t, c, path, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if stored, _ := f.db.APIKeysByPrefix(ctx, key[:apikey.PrefixLen]); stored[0].RevokedAt == nil {
		t.Fatal("key not revoked")
	}
	if _, body := f.get(t, c, "/portal/keys"); !strings.Contains(body, "revoked") {
		t.Fatal("keys page does not show the revocation")
	}

	// Log out: the session ends server-side; the old cookie is worthless.
	if resp, _ := f.post(t, c, "/portal/logout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if _, err := f.db.SessionUser(ctx, tokenHash(session.Value)); err == nil {
		t.Fatal("session still valid after logout")
	}
	replay := f.browser(t)
	u, _ := url.Parse(f.srv.URL + "/portal/")
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: session.Value}})
	if resp, _ := f.get(t, replay, "/portal/keys"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/login" {
		t.Fatalf("old cookie after logout: %d", resp.StatusCode)
	}

	// Log in again.
	resp, body = f.post(t, c, "/portal/login", url.Values{"email": {"ALICE@example.org"}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
}

func TestPortalRefusals(t *testing.T) {
	f := setupPortal(t, true)
	c := f.browser(t)
	f.post(t, c, "/portal/signup", url.Values{"email": {"alice@example.org"}, "password": {"correct horse battery"}})
	tests := []struct {
		name   string
		path   string
		form   url.Values
		header []string
		status int
		says   string
	}{
		{"duplicate email", "/portal/signup", url.Values{"email": {"ALICE@example.org"}, "password": {"another password"}}, nil, 409, "exists already"},
		{"bad email", "/portal/signup", url.Values{"email": {"not-an-email"}, "password": {"correct horse battery"}}, nil, 400, "email address"},
		{"named email", "/portal/signup", url.Values{"email": {"Eve <eve@example.org>"}, "password": {"correct horse battery"}}, nil, 400, "email address"},
		{"short password", "/portal/signup", url.Values{"email": {"carol@example.org"}, "password": {"short"}}, nil, 400, "at least 10"},
		{"long password", "/portal/signup", url.Values{"email": {"carol@example.org"}, "password": {strings.Repeat("p", 2000)}}, nil, 400, "at most"},
		{"wrong password", "/portal/login", url.Values{"email": {"alice@example.org"}, "password": {"wrong horse battery"}}, nil, 401, "Wrong email or password"},
		{"unknown email", "/portal/login", url.Values{"email": {"nobody@example.org"}, "password": {"correct horse battery"}}, nil, 401, "Wrong email or password"},
		{"cross-site signup", "/portal/signup", url.Values{"email": {"dave@example.org"}, "password": {"correct horse battery"}}, []string{"Sec-Fetch-Site", "cross-site"}, 403, "another site"},
		{"cross-origin login", "/portal/login", url.Values{"email": {"alice@example.org"}, "password": {"correct horse battery"}}, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, 403, "another site"},
		{"key without session", "/portal/keys", url.Values{"name": {"x"}}, nil, 303, ""},
		{"huge form", "/portal/login", url.Values{"email": {strings.Repeat("a", 20_000)}}, nil, 400, "could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.post(t, f.browser(t), tt.path, tt.form, tt.header...)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Fatalf("%d, want %d saying %q: %.300s", resp.StatusCode, tt.status, tt.says, body)
			}
		})
	}
	// Cross-site key creation with a valid session is refused too.
	if resp, _ := f.post(t, c, "/portal/keys", url.Values{"name": {"x"}}, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 403 {
		t.Fatalf("cross-site key creation: %d", resp.StatusCode)
	}
	keys, _ := f.db.APIKeys(context.Background())
	if len(keys) != 0 {
		t.Fatalf("refused requests created keys: %+v", keys)
	}
}

func TestPortalClosedSignupAndSecureCookie(t *testing.T) {
	f := setupPortal(t, false)
	c := f.browser(t)
	resp, body := f.post(t, c, "/portal/signup", url.Values{"email": {"alice@example.org"}, "password": {"correct horse battery"}})
	if resp.StatusCode != 403 || !strings.Contains(body, "closed") {
		t.Fatalf("closed signup: %d %s", resp.StatusCode, body)
	}
	if _, err := f.db.UserByEmail(context.Background(), "alice@example.org"); err == nil {
		t.Fatal("closed signup created an account")
	}
	// An operator-made account logs in; behind a TLS proxy the cookie is Secure.
	h, _ := password.Hash("correct horse battery", password.Params{Memory: 64, Time: 1, Threads: 1})
	if _, err := f.db.CreateUser(context.Background(), "alice@example.org", h); err != nil {
		t.Fatal(err)
	}
	resp, _ = f.post(t, c, "/portal/login", url.Values{"email": {"alice@example.org"}, "password": {"correct horse battery"}}, "X-Forwarded-Proto", "https")
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("login behind TLS: %d %v", resp.StatusCode, resp.Cookies())
	}
}
