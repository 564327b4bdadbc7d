package web

import (
	"net/url"
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	th := newLoginThrottle(func() time.Time { return now })
	for i := range 5 {
		if d := th.wait("a@x", "1.2.3.4"); d != 0 {
			t.Fatalf("attempt %d throttled (%s)", i+1, d)
		}
		th.failed("a@x", "1.2.3.4")
	}
	if d := th.wait("a@x", "5.6.7.8"); d <= 0 || d > 15*time.Minute {
		t.Fatalf("sixth attempt on the account from anywhere: wait %s, want (0, 15m]", d)
	}
	if d := th.wait("b@x", "1.2.3.4"); d != 0 {
		t.Fatalf("another account from the same address throttled after 5 failures: %s", d)
	}
	now = now.Add(15 * time.Minute)
	if d := th.wait("a@x", "1.2.3.4"); d != 0 {
		t.Fatalf("still throttled after the window: %s", d)
	}
	// One address guessing across many accounts is stopped too.
	for i := range 30 {
		th.failed("user"+string(rune('a'+i%26))+"@x", "9.9.9.9")
	}
	if d := th.wait("fresh@x", "9.9.9.9"); d == 0 {
		t.Fatal("an address with 30 failures in the window is not throttled")
	}
	th.failed("c@x", "1.1.1.1")
	th.succeeded("c@x")
	if th.fails["a:c@x"] != nil {
		t.Fatal("a successful login did not clear the account's failures")
	}
}

func TestLoginThrottledOverHTTP(t *testing.T) {
	f := setupPortal(t, true)
	c := f.browser(t)
	if resp, body := f.post(t, c, "/portal/signup", url.Values{"email": {"eve@example.org"}, "password": {"correct horse battery"}}); resp.StatusCode != 303 {
		t.Fatalf("signup: %d %s", resp.StatusCode, body)
	}
	for i := range 5 {
		resp, _ := f.post(t, f.browser(t), "/portal/login", url.Values{"email": {"eve@example.org"}, "password": {"wrong guess " + string(rune('a'+i))}})
		if resp.StatusCode != 401 {
			t.Fatalf("failed login %d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, body := f.post(t, f.browser(t), "/portal/login", url.Values{"email": {"eve@example.org"}, "password": {"correct horse battery"}})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login after 5 failures = %d (Retry-After %q): %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
