// Package mastodon is a thin client for the Mastodon-compatible REST API endpoints cvecrowd polls.
//
// It speaks to Mastodon and to servers that imitate its API (Pleroma/Akkoma,
// GoToSocial, Misskey bridges), so decoding is defensive: one bad post in a
// timeline page is counted and skipped instead of failing the page, bodies
// are size-capped, and nothing a server sends can make the client panic.
// Only GET requests are made; cvecrowd never writes.
package mastodon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxBody is the response body cap used when Client.MaxBody is 0.
// A full Mastodon page (40 statuses) is well under 1 MiB; 8 MiB leaves room
// for long posts while bounding memory per request.
const DefaultMaxBody int64 = 8 << 20

// DefaultTimeout is the whole-request timeout of the HTTP client used when
// Client.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent when Client.UserAgent is empty, so that server
// admins can always tell who is polling them.
const DefaultUserAgent = "cvecrowd (+https://github.com/cvecrowd/cvecrowd)"

// maxMalformedErrs bounds Page.MalformedErrs: a page of garbage should not
// produce an unbounded log line.
const maxMalformedErrs = 5

// errBodySnippet and decodeSnippet are how many bytes of a body go into
// HTTPError.Body and into decode errors respectively.
const (
	errBodySnippet = 200
	decodeSnippet  = 80
	// errBodyRead is how much of a non-2xx body is read at all.
	errBodyRead = 4096
)

// defaultHTTP is shared so that connections are reused between Clients
// that did not bring their own http.Client.
var defaultHTTP = &http.Client{Timeout: DefaultTimeout}

// ErrNotFound matches (via errors.Is) an *HTTPError with status 404 or 410:
// the status or endpoint does not exist, or no longer does.
var ErrNotFound = errors.New("mastodon: not found")

// ErrBodyTooLarge is wrapped by the error returned when a response body
// exceeds Client.MaxBody.
var ErrBodyTooLarge = errors.New("response body too large")

// Client talks to one Mastodon-compatible server. The zero value is not
// usable: BaseURL must be set. A Client is safe for concurrent use as long
// as its fields are not modified.
type Client struct {
	// BaseURL is the server root, e.g. https://infosec.exchange. A path
	// prefix is kept; a query or fragment is ignored.
	BaseURL *url.URL
	// HTTP is the client used for requests; nil means a shared client with
	// DefaultTimeout.
	HTTP *http.Client
	// UserAgent is sent on every request; empty means DefaultUserAgent.
	UserAgent string
	// Token is an optional OAuth bearer token. It is never included in
	// errors or in String/GoString output.
	Token string
	// MaxBody caps response bodies in bytes; 0 (or negative) means
	// DefaultMaxBody. A larger body is an error wrapping ErrBodyTooLarge.
	MaxBody int64
}

// String describes the client without revealing the token.
func (c Client) String() string {
	base := "<nil>"
	if c.BaseURL != nil {
		base = redactURL(c.BaseURL, c.Token)
	}
	tok := "none"
	if c.Token != "" {
		tok = "set"
	}
	return fmt.Sprintf("mastodon.Client{BaseURL: %s, UserAgent: %q, Token: %s, MaxBody: %d}", base, c.userAgent(), tok, c.maxBody())
}

// GoString is String, so that %#v cannot print the token either.
func (c Client) GoString() string { return c.String() }

// PageParams are the paging and filter parameters of the timeline endpoints.
// Zero values are not sent.
type PageParams struct {
	// MaxID returns results older than this id.
	MaxID string
	// SinceID returns results newer than this id (the newest page first).
	SinceID string
	// MinID returns results immediately newer than this id.
	MinID string
	// Limit is the page size; Mastodon defaults to 20 and caps at 40.
	Limit int
	// Local restricts to posts from the server's own users.
	Local bool
	// Remote restricts to posts from other servers.
	Remote bool
	// OnlyMedia restricts to posts with media attachments.
	OnlyMedia bool
}

func (p PageParams) values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("max_id", p.MaxID)
	set("since_id", p.SinceID)
	set("min_id", p.MinID)
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Local {
		q.Set("local", "true")
	}
	if p.Remote {
		q.Set("remote", "true")
	}
	if p.OnlyMedia {
		q.Set("only_media", "true")
	}
	return q
}

// PageParamsFromQuery turns the query of a Link target (Page.Next or
// Page.Prev) back into PageParams, so callers can follow pagination:
//
//	p = mastodon.PageParamsFromQuery(page.Next)
func PageParamsFromQuery(q url.Values) PageParams {
	var p PageParams
	p.MaxID = q.Get("max_id")
	p.SinceID = q.Get("since_id")
	p.MinID = q.Get("min_id")
	p.Limit, _ = strconv.Atoi(q.Get("limit"))
	p.Local = truthy(q.Get("local"))
	p.Remote = truthy(q.Get("remote"))
	p.OnlyMedia = truthy(q.Get("only_media"))
	return p
}

// truthy mirrors how Mastodon (Rails) reads boolean query parameters.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "t", "on", "yes":
		return true
	}
	return false
}

// Page is one page of a timeline.
type Page struct {
	// Statuses are the items that decoded and validated, in server order
	// (newest first on Mastodon).
	Statuses []Status
	// Malformed counts array items that failed to decode or validate and
	// were skipped.
	Malformed int
	// MalformedErrs holds the reasons for the first few malformed items, for logs.
	MalformedErrs []error
	// Next and Prev are the query parameters of the Link header's rel="next"
	// (older, max_id) and rel="prev" (newer, min_id) targets; nil when the
	// server sent no such link or the link carries no paging id.
	Next, Prev url.Values
	// RateLimit is the server's X-RateLimit-* answer.
	RateLimit RateLimit
}

// Instance is the subset of the server description cvecrowd uses.
type Instance struct {
	// Domain is the server's domain name (v1: "uri").
	Domain string
	// Title is the server's name.
	Title string
	// Version is the software version string, e.g. "4.6.4" or a
	// compatibility string such as "2.7.2 (compatible; Pleroma 2.5.0)".
	Version string
	// StreamingURL is configuration.urls.streaming (v1: urls.streaming_api),
	// the base of the streaming API; "" when not advertised.
	StreamingURL string
}

// PublicTimeline fetches GET /api/v1/timelines/public.
func (c *Client) PublicTimeline(ctx context.Context, p PageParams) (*Page, error) {
	return c.timeline(ctx, "/api/v1/timelines/public", p)
}

// TagTimeline fetches GET /api/v1/timelines/tag/:tag. One leading '#' is
// dropped, and the tag is path-escaped so a hostile or odd tag cannot
// change the endpoint.
func (c *Client) TagTimeline(ctx context.Context, tag string, p PageParams) (*Page, error) {
	tag = strings.TrimPrefix(tag, "#")
	if tag == "" {
		return nil, errors.New("mastodon: TagTimeline: empty tag")
	}
	return c.timeline(ctx, "/api/v1/timelines/tag/"+url.PathEscape(tag), p)
}

// Status fetches GET /api/v1/statuses/:id. A 404 or 410 answer matches
// ErrNotFound.
func (c *Client) Status(ctx context.Context, id string) (*Status, error) {
	if id == "" {
		return nil, errors.New("mastodon: Status: empty id")
	}
	r, err := c.get(ctx, "/api/v1/statuses/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	if k := jsonKind(bytes.TrimSpace(r.body)); k != "object" {
		return nil, c.bodyError(r, "response is not a JSON object", nil)
	}
	st, err := ParseStatus(r.body)
	if err != nil {
		return nil, c.bodyError(r, "decode status", err)
	}
	return st, nil
}

// Instance fetches GET /api/v2/instance. Servers that predate it (Mastodon
// < 4.0 and some imitators) answer 404; then GET /api/v1/instance is tried.
func (c *Client) Instance(ctx context.Context) (*Instance, error) {
	inst, err := c.instance(ctx, "/api/v2/instance")
	if errors.Is(err, ErrNotFound) {
		return c.instance(ctx, "/api/v1/instance")
	}
	return inst, err
}

func (c *Client) instance(ctx context.Context, path string) (*Instance, error) {
	r, err := c.get(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	var w struct {
		Domain  flexString `json:"domain"`
		URI     flexString `json:"uri"` // v1
		Title   flexString `json:"title"`
		Version flexString `json:"version"`
		// Raw so that an odd type deep inside cannot fail the whole answer.
		Configuration json.RawMessage `json:"configuration"`
		URLs          json.RawMessage `json:"urls"` // v1
	}
	if k := jsonKind(bytes.TrimSpace(r.body)); k != "object" {
		return nil, c.bodyError(r, "response is not a JSON object", nil)
	}
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, c.bodyError(r, "decode instance", err)
	}
	inst := &Instance{Domain: string(w.Domain), Title: string(w.Title), Version: string(w.Version)}
	if inst.Domain == "" {
		inst.Domain = string(w.URI)
	}
	var conf struct {
		URLs struct {
			Streaming flexString `json:"streaming"`
		} `json:"urls"`
	}
	var v1 struct {
		StreamingAPI flexString `json:"streaming_api"`
	}
	if json.Unmarshal(w.Configuration, &conf) == nil {
		inst.StreamingURL = string(conf.URLs.Streaming)
	}
	if inst.StreamingURL == "" && json.Unmarshal(w.URLs, &v1) == nil {
		inst.StreamingURL = string(v1.StreamingAPI)
	}
	return inst, nil
}

// SearchHashtags fetches GET /api/v2/search?q=&type=hashtags&limit= and
// returns the hashtags. limit <= 0 leaves the server default. Unusable
// entries are skipped; bare strings (as old servers send) become Tags with
// only a Name.
func (c *Client) SearchHashtags(ctx context.Context, q string, limit int) ([]Tag, error) {
	if strings.TrimSpace(q) == "" {
		return nil, errors.New("mastodon: SearchHashtags: empty query")
	}
	v := url.Values{"q": {q}, "type": {"hashtags"}}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	r, err := c.get(ctx, "/api/v2/search", v)
	if err != nil {
		return nil, err
	}
	if k := jsonKind(bytes.TrimSpace(r.body)); k != "object" {
		return nil, c.bodyError(r, "response is not a JSON object", nil)
	}
	var w struct {
		Hashtags json.RawMessage `json:"hashtags"`
	}
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, c.bodyError(r, "decode search results", err)
	}
	tags := parseTags(w.Hashtags)
	if tags == nil {
		tags = []Tag{}
	}
	return tags, nil
}

func (c *Client) timeline(ctx context.Context, path string, p PageParams) (*Page, error) {
	r, err := c.get(ctx, path, p.values())
	if err != nil {
		return nil, err
	}
	// The whole body must be an array; only then is each item decoded on
	// its own, so one hostile post cannot take the page down with it.
	if k := jsonKind(bytes.TrimSpace(r.body)); k != "array" {
		return nil, c.bodyError(r, "response is not a JSON array", nil)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(r.body, &items); err != nil {
		return nil, c.bodyError(r, "invalid JSON", err)
	}
	page := &Page{RateLimit: ParseRateLimit(r.header)}
	for i, it := range items {
		st, err := ParseStatus(it)
		if err != nil {
			page.Malformed++
			if len(page.MalformedErrs) < maxMalformedErrs {
				page.MalformedErrs = append(page.MalformedErrs, c.redactErr(fmt.Errorf("item %d: %w", i, err)))
			}
			continue
		}
		page.Statuses = append(page.Statuses, *st)
	}
	links := ParseLink(strings.Join(r.header.Values("Link"), ", "))
	page.Next = pagingQuery(links["next"])
	prev := links["prev"]
	if prev == nil {
		prev = links["previous"] // the RFC 8288 registry's synonym
	}
	page.Prev = pagingQuery(prev)
	return page, nil
}

// pagingQuery returns the query of a Link target, or nil when there is no
// target or it carries no paging id: following such a link would fetch the
// first page again and loop forever. Only the query is used, never the
// host, so a Link header cannot send the client to another server.
func pagingQuery(u *url.URL) url.Values {
	if u == nil {
		return nil
	}
	q := u.Query()
	if q.Get("max_id") == "" && q.Get("min_id") == "" && q.Get("since_id") == "" {
		return nil
	}
	return q
}

// response is a successful, fully read answer.
type response struct {
	url    string // redacted, for messages
	header http.Header
	body   []byte
}

// get performs a GET of escPath (already path-escaped, relative to BaseURL)
// and returns the body of a 2xx answer. Non-2xx answers become *HTTPError.
func (c *Client) get(ctx context.Context, escPath string, q url.Values) (*response, error) {
	u, err := c.endpoint(escPath, q)
	if err != nil {
		return nil, err
	}
	shown := redactURL(u, c.Token)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, c.redactErr(fmt.Errorf("mastodon: GET %s: %w", shown, err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent())
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	// No Accept-Encoding is set on purpose: the transport then negotiates
	// gzip and decompresses itself, and the MaxBody cap below applies to
	// the decompressed bytes, which defuses compression bombs.
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error repeats the full request URL; report the redacted one.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, c.redactErr(fmt.Errorf("mastodon: GET %s: %w", shown, err))
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Only the start of an error body is interesting; do not read a
		// multi-megabyte HTML error page.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, min(errBodyRead, c.maxBody())))
		return nil, &HTTPError{
			StatusCode: resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header),
			RateLimit:  ParseRateLimit(resp.Header),
			Body:       sanitize(b, errBodySnippet, c.Token),
			URL:        shown,
		}
	}
	limit := c.maxBody()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("mastodon: GET %s: %w (Content-Length %d > %d bytes)", shown, ErrBodyTooLarge, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.redactErr(fmt.Errorf("mastodon: GET %s: reading body: %w", shown, err))
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("mastodon: GET %s: %w (over %d bytes)", shown, ErrBodyTooLarge, limit)
	}
	return &response{url: shown, header: resp.Header, body: body}, nil
}

// endpoint joins BaseURL (keeping any path prefix) with escPath and q.
func (c *Client) endpoint(escPath string, q url.Values) (*url.URL, error) {
	if c.BaseURL == nil {
		return nil, errors.New("mastodon: Client.BaseURL is not set")
	}
	if (c.BaseURL.Scheme != "http" && c.BaseURL.Scheme != "https") || c.BaseURL.Host == "" {
		return nil, fmt.Errorf("mastodon: Client.BaseURL %s is not an absolute http(s) URL", redactURL(c.BaseURL, c.Token))
	}
	path, err := url.PathUnescape(escPath)
	if err != nil {
		return nil, fmt.Errorf("mastodon: bad endpoint path: %w", err)
	}
	u := *c.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = strings.TrimSuffix(c.BaseURL.EscapedPath(), "/") + escPath
	u.RawQuery = q.Encode()
	u.ForceQuery = false
	u.Fragment, u.RawFragment = "", ""
	return &u, nil
}

// bodyError reports an unusable 2xx body with the endpoint, the content
// type and a short sanitised snippet, so the log shows *what* came back
// (typically an HTML error page from a proxy).
func (c *Client) bodyError(r *response, what string, cause error) error {
	ct := r.header.Get("Content-Type")
	snip := sanitize(r.body, decodeSnippet, c.Token)
	if cause != nil {
		return c.redactErr(fmt.Errorf("mastodon: GET %s: %s (content-type %q, %d bytes, starts %q): %w", r.url, what, ct, len(r.body), snip, cause))
	}
	return c.redactErr(fmt.Errorf("mastodon: GET %s: %s (content-type %q, %d bytes, starts %q)", r.url, what, ct, len(r.body), snip))
}

func (c *Client) userAgent() string {
	if c.UserAgent == "" {
		return DefaultUserAgent
	}
	return c.UserAgent
}

func (c *Client) maxBody() int64 {
	if c.MaxBody <= 0 {
		return DefaultMaxBody
	}
	return c.MaxBody
}

// HTTPError is returned for any non-2xx answer. It matches ErrNotFound via
// errors.Is for 404 and 410.
type HTTPError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// RetryAfter is the server's Retry-After (seconds or HTTP-date), 0 if
	// absent; capped at one day.
	RetryAfter time.Duration
	// RateLimit is the X-RateLimit-* answer that came with the error.
	RateLimit RateLimit
	// Body is the first 200 bytes of the body, with invalid UTF-8 and
	// control characters replaced and the token redacted.
	Body string
	// URL is the request URL without user info, secret query parameters or token.
	URL string
}

// Error implements error.
func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mastodon: GET %s: HTTP %d", e.URL, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	return b.String()
}

// Temporary reports whether retrying later may succeed: 429 (rate limited)
// and 5xx (server trouble). Other 4xx answers will not change on retry.
func (e *HTTPError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || (e.StatusCode >= 500 && e.StatusCode <= 599)
}

// Is makes errors.Is(err, ErrNotFound) true for 404 and 410.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone)
}

// secretParams are query parameters whose values must not appear in
// messages (OAuth tokens passed in the query by misconfigured base URLs).
var secretParams = map[string]bool{
	"access_token": true, "token": true, "client_secret": true, "code": true,
	"password": true, "api_key": true, "apikey": true, "key": true, "secret": true,
}

// redactURL renders u for messages: no user info, no fragment, secret
// query values replaced, and any occurrence of token removed.
func redactURL(u *url.URL, token string) string {
	r := *u
	r.User = nil
	r.Fragment, r.RawFragment = "", ""
	if r.RawQuery != "" {
		q, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			r.RawQuery = "REDACTED"
		} else {
			for k := range q {
				if secretParams[strings.ToLower(k)] {
					q[k] = []string{"REDACTED"}
				}
			}
			r.RawQuery = q.Encode()
		}
	}
	return redactString(r.String(), token)
}

// minSecretPrefix is the shortest token prefix treated as a leak. Error
// messages truncate untrusted values (snippet, sanitize), which can leave a
// token cut short; a long enough prefix is still sensitive.
const minSecretPrefix = 6

// redactString replaces the token, and any prefix of it of at least
// minSecretPrefix bytes, with "[REDACTED]".
func redactString(s, token string) string {
	if token == "" {
		return s
	}
	s = strings.ReplaceAll(s, token, "[REDACTED]")
	for k := len(token) - 1; k >= minSecretPrefix; k-- {
		if strings.Contains(s, token[:k]) {
			s = strings.ReplaceAll(s, token[:k], "[REDACTED]")
		}
	}
	return s
}

// redactErr is the last line of defence: should the token have slipped into
// an error message anyway, the message is rewritten. errors.Is still sees
// the cause (e.g. context.Canceled), but Unwrap does not expose it, since
// its text contains the token.
func (c *Client) redactErr(err error) error {
	if err == nil || c.Token == "" {
		return err
	}
	msg := err.Error()
	if red := redactString(msg, c.Token); red != msg {
		return &redactedError{msg: red, cause: err}
	}
	return err
}

type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return errors.Is(e.cause, target) }

// sanitize turns up to n bytes of an untrusted body into a printable,
// single-line, valid UTF-8 string with the token redacted. Redaction runs
// on n+len(token) bytes before truncating, so any token starting inside the
// first n bytes is seen whole; a token prefix left at the end is dropped.
func sanitize(b []byte, n int, token string) string {
	cut := false
	if window := n + len(token); len(b) > window {
		b, cut = b[:window], true
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = redactString(s, token)
	// A body cut upstream (errBodyRead) or here may end in a token prefix.
	// Drop it: any length when we cut, from 4 bytes otherwise (shorter
	// prefixes reveal nothing and would only eat ordinary trailing bytes).
	for k := min(len(token)-1, len(s)); k > 0 && (cut || k >= 4); k-- {
		if strings.HasSuffix(s, token[:k]) {
			s = s[:len(s)-k]
			break
		}
	}
	s = strings.Map(func(r rune) rune {
		// Control characters would break log lines; bidi overrides could
		// make a log line read differently from what it contains.
		if unicode.IsControl(r) || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return ' '
		}
		return r
	}, s)
	return truncateUTF8(s, n)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
