package ingest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
)

// feedHashtags switches on hashtag discovery and the discovered CVE
// hashtag timelines ("tag:cve20243094", ...).
const feedHashtags = "hashtags"

// FeedNames lists the feed names a Source may enable.
var FeedNames = []string{FeedPublic, FeedTagCVE, feedHashtags, FeedSearch, FeedStream}

// Source is one instance with its own token and feeds.
type Source struct {
	URL   string   `json:"url"`             // base URL, e.g. https://infosec.exchange
	Token string   `json:"token,omitempty"` // user token; never logged
	Feeds []string `json:"feeds,omitempty"` // subset of FeedNames; empty means DefaultFeeds(token != "")
	// StreamingURL overrides the streaming base from /api/v2/instance.
	StreamingURL string `json:"streaming_url,omitempty"`
}

// String describes the source without its token.
func (s Source) String() string {
	tok := "none"
	if s.Token != "" {
		tok = "set"
	}
	return fmt.Sprintf("%s (token %s, feeds %s)", s.URL, tok, strings.Join(s.Feeds, ","))
}

// GoString is String, so that %#v cannot print the token either.
func (s Source) GoString() string { return s.String() }

// DefaultFeeds are the feeds of a Source that lists none. Search and
// streaming need a user token on current Mastodon, so they are on only
// with one.
func DefaultFeeds(hasToken bool) []string {
	if hasToken {
		return []string{FeedPublic, FeedTagCVE, feedHashtags, FeedSearch, FeedStream}
	}
	return []string{FeedPublic, FeedTagCVE, feedHashtags}
}

// source is a resolved Source.
type source struct {
	host         string
	base         *url.URL
	client       *mastodon.Client
	feeds        map[string]bool
	streamingURL string
}

func (s Source) resolve(cfg Config) (source, error) {
	u, err := parseInstance(s.URL)
	if err != nil {
		return source{}, err
	}
	if !validToken(s.Token) {
		// A CR/LF or space in a token would fail every request forever.
		return source{}, fmt.Errorf("ingest: instance %s: the token has characters a bearer token cannot have", u.Host)
	}
	feeds := s.Feeds
	if len(feeds) == 0 {
		feeds = DefaultFeeds(s.Token != "")
	}
	set := map[string]bool{}
	for _, f := range feeds {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(FeedNames, f) {
			return source{}, fmt.Errorf("ingest: instance %s: unknown feed %q (want one of %s)", u.Host, f, strings.Join(FeedNames, ", "))
		}
		set[f] = true
	}
	return source{
		host: u.Host,
		base: u,
		client: &mastodon.Client{
			BaseURL:   u,
			UserAgent: cfg.UserAgent,
			Token:     s.Token,
			HTTP:      newHTTPClient(cfg.HTTPTimeout),
		},
		feeds:        set,
		streamingURL: s.StreamingURL,
	}, nil
}

// validToken reports whether tok may go in an Authorization: Bearer header
// (RFC 6750 b64token characters); empty means no token.
func validToken(tok string) bool {
	for _, c := range []byte(tok) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~+/=", c) >= 0:
		default:
			return false
		}
	}
	return true
}
