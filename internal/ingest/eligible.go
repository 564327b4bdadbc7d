package ingest

import (
	"strings"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/mastodon"
)

// Reasons a status is not stored. Each is counted.
const (
	SkipMalformed       = "malformed"        // the item did not decode or lacked required fields
	SkipNotPublic       = "not_public"       // visibility other than public
	SkipBot             = "bot"              // account.bot is true
	SkipNotDiscoverable = "not_discoverable" // account.discoverable is false
	SkipNoindex         = "noindex"          // account.noindex is true
	SkipOptOutTag       = "opt_out_tag"      // #nobot or #noindex in the profile note
	SkipTooLarge        = "too_large"        // content over MaxContent
	SkipNoCVE           = "no_cve"           // mentions no CVE ID
)

// SkipReasons lists every reason, in the order the About page explains them.
var SkipReasons = []string{SkipNotPublic, SkipBot, SkipNotDiscoverable, SkipNoindex, SkipOptOutTag, SkipTooLarge, SkipMalformed, SkipNoCVE}

// MaxContent is the largest post content accepted, in bytes. Mastodon's
// default limit is 500 characters; some servers allow far more, but nothing
// legitimate comes near this.
const MaxContent = 128 << 10

// Eligibility returns why s must not be stored, or "" when it may be. It
// respects the privacy choices people make on their accounts, as CVE Crowd
// does.
func Eligibility(s *mastodon.Status) string {
	switch {
	case s.Visibility != "public":
		return SkipNotPublic
	case s.Account.Bot:
		return SkipBot
	case s.Account.Discoverable != nil && !*s.Account.Discoverable:
		return SkipNotDiscoverable
	case s.Account.Noindex != nil && *s.Account.Noindex:
		return SkipNoindex
	case hasOptOutTag(s.Account.Note):
		return SkipOptOutTag
	case len(s.Content) > MaxContent:
		return SkipTooLarge
	}
	return ""
}

// hasOptOutTag reports whether a profile note carries #nobot or #noindex as a
// whole hashtag (not #nobotanist). Notes are HTML where Mastodon renders a tag
// as "#<span>nobot</span>", so the text is read, not the markup.
func hasOptOutTag(note string) bool {
	if !strings.Contains(strings.ToLower(note), "no") {
		return false
	}
	text := strings.ToLower(cve.HTMLToText(note))
	for _, tag := range []string{"#nobot", "#noindex"} {
		for i := 0; ; {
			j := strings.Index(text[i:], tag)
			if j < 0 {
				break
			}
			end := i + j + len(tag)
			if end == len(text) || !isTagChar(text[end]) {
				return true
			}
			i = end
		}
	}
	return false
}

func isTagChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}
