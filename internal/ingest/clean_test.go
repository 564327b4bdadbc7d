package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
)

func TestClean(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	s := mastodon.Status{
		URL:          "javascript:alert(1)",
		CreatedAt:    future,
		EditedAt:     &future,
		ReblogsCount: 1 << 62, FavouritesCount: -5, RepliesCount: 3,
		Account: mastodon.Account{
			URL:         "https://user:pw@evil.example/@x",
			Avatar:      "data:image/png;base64,AAAA",
			DisplayName: "\x1b[31mred\x1b[0m \u202eevil" + strings.Repeat("x", 500),
			Acct:        "bob@ok.example",
		},
	}
	clean(&s, now)
	if s.URL != "" || s.Account.URL != "" || s.Account.Avatar != "" {
		t.Errorf("unsafe URLs kept: %q %q %q", s.URL, s.Account.URL, s.Account.Avatar)
	}
	if !s.CreatedAt.Equal(now) || !s.EditedAt.Equal(now) {
		t.Errorf("future times kept: %v %v", s.CreatedAt, s.EditedAt)
	}
	if s.ReblogsCount != MaxCount || s.FavouritesCount != 0 || s.RepliesCount != 3 {
		t.Errorf("counts = %d %d %d", s.ReblogsCount, s.FavouritesCount, s.RepliesCount)
	}
	if strings.ContainsAny(s.Account.DisplayName, "\x1b\u202e") || len([]rune(s.Account.DisplayName)) > maxNameLen || !strings.HasPrefix(s.Account.DisplayName, "[31mred") {
		t.Errorf("display name = %q", s.Account.DisplayName)
	}
	if s.Account.Acct != "bob@ok.example" {
		t.Errorf("acct = %q", s.Account.Acct)
	}
	ok := mastodon.Status{URL: "https://infosec.exchange/@a/1", CreatedAt: now.Add(-time.Hour)}
	clean(&ok, now)
	if ok.URL != "https://infosec.exchange/@a/1" || !ok.CreatedAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("a sane status changed: %+v", ok)
	}
}

func TestSourceTokenChecked(t *testing.T) {
	for tok, ok := range map[string]bool{"": true, "abc-DEF_123.~+/=": true, "abc\r\nX-Evil: 1": false, "two words": false, "tök": false} {
		_, err := Source{URL: "https://example.org", Token: tok}.resolve(Config{})
		if (err == nil) != ok {
			t.Errorf("token %q: err = %v, want ok=%v", tok, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("the error repeats the token: %v", err)
		}
	}
}
