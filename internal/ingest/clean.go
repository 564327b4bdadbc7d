package ingest

import (
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
)

// Bounds applied to what an instance says about a post. Instances are not
// trusted: one could claim 10^30 boosts, a post from 2099, or a
// javascript: profile link.
const (
	MaxCount      = 10_000_000      // engagement counts are capped here
	MaxFutureSkew = 5 * time.Minute // created_at later than now+skew is clamped to now
	maxNameLen    = 200             // display names, in runes
	maxAcctLen    = 320             // user@host
	maxURLLen     = 2048
)

// clean bounds the untrusted fields of s in place, as of now.
func clean(s *mastodon.Status, now time.Time) {
	s.ReblogsCount = clampCount(s.ReblogsCount)
	s.FavouritesCount = clampCount(s.FavouritesCount)
	s.RepliesCount = clampCount(s.RepliesCount)
	if s.CreatedAt.After(now.Add(MaxFutureSkew)) {
		s.CreatedAt = now
	}
	if s.EditedAt != nil && s.EditedAt.After(now.Add(MaxFutureSkew)) {
		t := now
		s.EditedAt = &t
	}
	s.URL = webURL(s.URL)
	s.Account.URL = webURL(s.Account.URL)
	s.Account.Avatar = webURL(s.Account.Avatar)
	s.Account.DisplayName = plainText(s.Account.DisplayName, maxNameLen)
	s.Account.Acct = plainText(s.Account.Acct, maxAcctLen)
	s.Language = plainText(s.Language, 16)
}

func clampCount(n int) int { return min(max(n, 0), MaxCount) }

// webURL keeps raw only when it is an absolute http(s) URL of sane length.
func webURL(raw string) string {
	if raw == "" || len(raw) > maxURLLen {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return raw
}

// plainText drops control and format characters (ANSI escapes, bidi
// overrides) and bounds the length in runes.
func plainText(s string, maxRunes int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if n == maxRunes {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
