// Package sanitize reduces hostile post HTML to the small allow-list the page renders.
package sanitize

import (
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
)

// MaxInput is the largest HTML accepted; longer input is cut before
// sanitising (Mastodon's own limit is far below it).
const MaxInput = 64 << 10

// mastodonClasses are the span/a classes Mastodon's own renderer emits.
var mastodonClasses = regexp.MustCompile(`^(?:(?:invisible|ellipsis|h-card|mention|hashtag|u-url|status-link|unhandled-link)(?:\s+|$))+$`)

var (
	once   sync.Once
	policy *bluemonday.Policy
)

func build() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br")
	p.AllowElements("span")
	// Classes only on span, where the page's CSS uses them (invisible,
	// ellipsis). On a link they would keep an <a> whose href was removed.
	p.AllowAttrs("class").Matching(mastodonClasses).OnElements("span")
	p.AllowAttrs("href").OnElements("a")
	// An absolute URL needs a host: "https:javascript:x" parses with an
	// https scheme but a browser resolves it relative to this site.
	p.AllowURLSchemeWithCustomPolicy("http", hasHost)
	p.AllowURLSchemeWithCustomPolicy("https", hasHost)
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true) // also adds noopener
	return p
}

func hasHost(u *url.URL) bool { return u.Host != "" && u.Opaque == "" }

// HTML returns html reduced to p, br, span (Mastodon classes) and a with an
// http(s) href and rel="nofollow noopener noreferrer".
func HTML(html string) string {
	once.Do(func() { policy = build() })
	if len(html) > MaxInput {
		// Cut on a rune boundary: invalid UTF-8 would be refused by
		// PostgreSQL and fail the whole batch the post came in.
		html = strings.ToValidUTF8(html[:MaxInput], "")
	}
	return policy.Sanitize(html)
}
