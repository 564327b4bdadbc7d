package mastodon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Account is the subset of a Mastodon Account entity that cvecrowd uses.
//
// The three *bool fields are nil when the server sends null or omits them:
// Mastodon itself sends "discoverable": null for accounts that never chose,
// and older or non-Mastodon servers do not know "indexable"/"noindex" at all.
// Callers deciding whether they may index a post must treat nil as "not
// said", not as false.
type Account struct {
	// ID is the account id on the server that answered; the same person has
	// different ids on different servers.
	ID string `json:"id"`
	// Username is the local part of the handle, without any domain.
	Username string `json:"username"`
	// Acct is "user" for local accounts and "user@domain" for remote ones.
	Acct string `json:"acct"`
	// DisplayName is the free-form profile name (may contain emoji shortcodes).
	DisplayName string `json:"display_name"`
	// URL is the profile page.
	URL string `json:"url"`
	// Avatar is the avatar image URL.
	Avatar string `json:"avatar"`
	// Note is the profile bio as HTML.
	Note string `json:"note"`
	// Bot marks automated accounts (feeds, bridges, alert bots).
	Bot bool `json:"bot"`
	// Group marks group actors, whose posts are boosts of members' posts.
	Group bool `json:"group"`
	// Discoverable reports whether the account opted into discovery features.
	Discoverable *bool `json:"discoverable"`
	// Noindex reports whether the account asked search engines not to index it.
	Noindex *bool `json:"noindex"`
	// Indexable reports whether the account allows its public posts to be searched.
	Indexable *bool `json:"indexable"`
}

// Tag is a hashtag as attached to a status or returned by search.
type Tag struct {
	// Name is the hashtag without '#', in the case the server reports.
	Name string `json:"name"`
	// URL is the tag page on the server; "" when the server did not say.
	URL string `json:"url"`
}

// Status is the subset of a Mastodon Status entity that cvecrowd uses.
//
// Decoding (json.Unmarshal or ParseStatus) validates the fields cvecrowd
// cannot work without and is lenient about everything else; see ParseStatus.
type Status struct {
	// ID is the status id on the server that answered (a snowflake on
	// Mastodon; compare ids only within one server).
	ID string `json:"id"`
	// URI is the ActivityPub id, the same on every server: the key for
	// de-duplication. Falls back to URL when the server sent no uri.
	URI string `json:"uri"`
	// URL is the human-readable page of the post.
	URL string `json:"url"`
	// CreatedAt is the publication time, in UTC.
	CreatedAt time.Time `json:"created_at"`
	// EditedAt is the last edit time in UTC; nil if never edited.
	EditedAt *time.Time `json:"edited_at"`
	// Visibility is "public", "unlisted", "private" or "direct" on Mastodon.
	Visibility string `json:"visibility"`
	// Language is the ISO 639 code the author or server chose; "" when null.
	Language string `json:"language"`
	// Content is the post body as the server renders it (HTML on Mastodon).
	Content string `json:"content"`
	// ReblogsCount, FavouritesCount and RepliesCount are as counted by the
	// answering server, which only knows about interactions it has seen.
	ReblogsCount    int `json:"reblogs_count"`
	FavouritesCount int `json:"favourites_count"`
	RepliesCount    int `json:"replies_count"`
	// Account is the author (for a boost wrapper: the booster).
	Account Account `json:"account"`
	// Reblog is the boosted original when this status is a boost wrapper.
	// The wrapper itself has empty content; ingest Reblog instead.
	Reblog *Status `json:"reblog"`
	// Tags are the hashtags the server extracted from the post.
	Tags []Tag `json:"tags"`
	// Raw is the item's original JSON bytes, kept for debugging and for
	// callers that need fields this struct does not model. Not serialised.
	Raw json.RawMessage `json:"-"`
}

// maxSnippet bounds how much of an offending value goes into a decode error,
// so a hostile post cannot blow up log lines.
const maxSnippet = 40

// ParseStatus decodes one Status JSON object.
//
// It fails (the status is "malformed") when the item is not a JSON object,
// or lacks a non-empty id, a parseable created_at, an account object with
// at least one of id/acct/url, or both uri and url (an empty uri falls back
// to url, as some bridges only send url). A reblog that is itself malformed
// makes the wrapper malformed too, because the caller ingests the original.
//
// Everything else is lenient because servers vary (Mastodon, Pleroma/Akkoma,
// GoToSocial, Misskey bridges): unknown fields are ignored, null is accepted
// for every optional field, ids may be JSON numbers (their literal text is
// kept, never rounded through float64), counts may be strings, and optional
// fields of the wrong type are dropped instead of failing the post.
func ParseStatus(raw []byte) (*Status, error) {
	return parseStatus(raw, 0)
}

// UnmarshalJSON implements json.Unmarshaler with the rules of ParseStatus, so
// other packages (e.g. a streaming reader) get the same validation.
func (s *Status) UnmarshalJSON(b []byte) error {
	st, err := ParseStatus(b)
	if err != nil {
		return err
	}
	*s = *st
	return nil
}

// UnmarshalJSON implements json.Unmarshaler leniently (see ParseStatus).
func (a *Account) UnmarshalJSON(b []byte) error {
	acc, err := parseAccount(b)
	if err != nil {
		return err
	}
	*a = acc
	return nil
}

// maxReblogDepth stops a hostile server from nesting boosts of boosts:
// Mastodon never sends a reblog inside a reblog, so deeper levels are dropped.
const maxReblogDepth = 1

// wireStatus mirrors the JSON shape. Required fields are raw so that their
// absence and their type can be checked explicitly; optional scalars use
// lenient types that never fail the whole status.
type wireStatus struct {
	ID              json.RawMessage `json:"id"`
	URI             flexString      `json:"uri"`
	URL             flexString      `json:"url"`
	CreatedAt       json.RawMessage `json:"created_at"`
	EditedAt        json.RawMessage `json:"edited_at"`
	Visibility      flexString      `json:"visibility"`
	Language        flexString      `json:"language"`
	Content         flexString      `json:"content"`
	ReblogsCount    flexInt         `json:"reblogs_count"`
	FavouritesCount flexInt         `json:"favourites_count"`
	RepliesCount    flexInt         `json:"replies_count"`
	Account         json.RawMessage `json:"account"`
	Reblog          json.RawMessage `json:"reblog"`
	Tags            json.RawMessage `json:"tags"`
}

func parseStatus(raw []byte, depth int) (*Status, error) {
	raw = bytes.TrimSpace(raw)
	if k := jsonKind(raw); k != "object" {
		return nil, fmt.Errorf("status is a JSON %s, not an object", k)
	}
	var w wireStatus
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	id, err := parseID(w.ID)
	if err != nil {
		return nil, fmt.Errorf("status id: %w", err)
	}
	// From here on errors name the id: it is what an operator greps for.
	s := &Status{
		ID:              id,
		URI:             string(w.URI),
		URL:             string(w.URL),
		Visibility:      string(w.Visibility),
		Language:        string(w.Language),
		Content:         string(w.Content),
		ReblogsCount:    int(w.ReblogsCount),
		FavouritesCount: int(w.FavouritesCount),
		RepliesCount:    int(w.RepliesCount),
		Raw:             json.RawMessage(bytes.Clone(raw)),
	}
	if s.URI == "" {
		s.URI = s.URL
	}
	if s.URI == "" {
		return nil, fmt.Errorf("status %s: missing uri and url", snippet(id))
	}
	if isNull(w.CreatedAt) {
		return nil, fmt.Errorf("status %s: missing created_at", snippet(id))
	}
	var ts string
	if err := json.Unmarshal(w.CreatedAt, &ts); err != nil {
		return nil, fmt.Errorf("status %s: created_at is a JSON %s, not a string", snippet(id), jsonKind(w.CreatedAt))
	}
	if s.CreatedAt, err = parseTimestamp(ts); err != nil {
		return nil, fmt.Errorf("status %s: created_at: %w", snippet(id), err)
	}
	if !isNull(w.EditedAt) {
		var es string
		// An unparseable edited_at only loses edit information, so it is
		// dropped rather than failing the post.
		if json.Unmarshal(w.EditedAt, &es) == nil {
			if t, err := parseTimestamp(es); err == nil {
				s.EditedAt = &t
			}
		}
	}
	if isNull(w.Account) {
		return nil, fmt.Errorf("status %s: missing account", snippet(id))
	}
	if s.Account, err = parseAccount(w.Account); err != nil {
		return nil, fmt.Errorf("status %s: account: %w", snippet(id), err)
	}
	if s.Account.ID == "" && s.Account.Acct == "" && s.Account.URL == "" {
		return nil, fmt.Errorf("status %s: account has no id, acct or url", snippet(id))
	}
	if !isNull(w.Reblog) && depth < maxReblogDepth {
		if s.Reblog, err = parseStatus(w.Reblog, depth+1); err != nil {
			return nil, fmt.Errorf("status %s: reblog: %w", snippet(id), err)
		}
	}
	s.Tags = parseTags(w.Tags)
	return s, nil
}

type wireAccount struct {
	ID           json.RawMessage `json:"id"`
	Username     flexString      `json:"username"`
	Acct         flexString      `json:"acct"`
	DisplayName  flexString      `json:"display_name"`
	URL          flexString      `json:"url"`
	Avatar       flexString      `json:"avatar"`
	Note         flexString      `json:"note"`
	Bot          flexBool        `json:"bot"`
	Group        flexBool        `json:"group"`
	Discoverable optBool         `json:"discoverable"`
	Noindex      optBool         `json:"noindex"`
	Indexable    optBool         `json:"indexable"`
}

func parseAccount(raw []byte) (Account, error) {
	raw = bytes.TrimSpace(raw)
	if k := jsonKind(raw); k != "object" {
		return Account{}, fmt.Errorf("account is a JSON %s, not an object", k)
	}
	var w wireAccount
	if err := json.Unmarshal(raw, &w); err != nil {
		return Account{}, err
	}
	a := Account{
		Username:     string(w.Username),
		Acct:         string(w.Acct),
		DisplayName:  string(w.DisplayName),
		URL:          string(w.URL),
		Avatar:       string(w.Avatar),
		Note:         string(w.Note),
		Bot:          bool(w.Bot),
		Group:        bool(w.Group),
		Discoverable: w.Discoverable.p,
		Noindex:      w.Noindex.p,
		Indexable:    w.Indexable.p,
	}
	if !isNull(w.ID) {
		id, err := parseID(w.ID)
		if err != nil {
			return Account{}, fmt.Errorf("id: %w", err)
		}
		a.ID = id
	}
	return a, nil
}

// parseTags keeps every usable tag and silently skips the rest: a broken tag
// list must not cost us the post, whose content still carries the hashtags.
func parseTags(raw json.RawMessage) []Tag {
	if jsonKind(bytes.TrimSpace(raw)) != "array" {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var tags []Tag
	for _, it := range items {
		if t, ok := parseTag(it); ok {
			tags = append(tags, t)
		}
	}
	return tags
}

// parseTag accepts a Tag object, or a bare string as some old search
// endpoints return.
func parseTag(raw json.RawMessage) (Tag, bool) {
	raw = bytes.TrimSpace(raw)
	switch jsonKind(raw) {
	case "string":
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return Tag{}, false
		}
		return Tag{Name: s}, true
	case "object":
		var w struct {
			Name flexString `json:"name"`
			URL  flexString `json:"url"`
		}
		if json.Unmarshal(raw, &w) != nil || w.Name == "" {
			return Tag{}, false
		}
		return Tag{Name: string(w.Name), URL: string(w.URL)}, true
	}
	return Tag{}, false
}

// parseID returns a snowflake id as text. Mastodon sends ids as strings
// because they exceed 2^53; some servers send JSON numbers, whose literal
// text is kept verbatim so no precision is lost through float64.
func parseID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch jsonKind(raw) {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		if s == "" {
			return "", errors.New("empty")
		}
		return s, nil
	case "number":
		return string(raw), nil
	case "missing":
		return "", errors.New("missing")
	default:
		return "", fmt.Errorf("is a JSON %s, not a string or number", jsonKind(raw))
	}
}

// timestampLayouts are tried in order. Mastodon sends RFC 3339 with
// milliseconds and Z; account fields and other servers use offsets, omit
// the fraction, omit the colon in the offset, or (rarely) omit the zone,
// which is read as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano, // covers with/without fraction, Z or ±hh:mm
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// parseTimestamp parses an ISO 8601 timestamp and returns it in UTC, so
// equal instants from different servers compare and print identically.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", snippet(s))
}

// jsonKind names the JSON type of an already-validated value by its first
// byte; "missing" for absent (empty) values.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "missing"
	}
	switch c := b[0]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	}
	return "value"
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}

// snippet shortens a value for an error message.
func snippet(s string) string {
	return truncateUTF8(s, maxSnippet)
}

// flexString accepts a JSON string; null and values of any other type
// decode to "" instead of failing the enclosing object.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	// Fast path: encoding/json has already validated b, so a string
	// without escapes and with valid UTF-8 is its own content. Most fields
	// (ids, urls, visibility) are such strings.
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		*f = flexString(b[1 : n-1])
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = flexString(s)
	}
	return nil
}

// flexInt accepts a JSON number or a numeric string (some servers quote
// counts); anything else decodes to 0. Out-of-range values are clamped.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if strings.HasPrefix(s, `"`) {
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
		s = strings.TrimSpace(s)
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) {
		return nil // also covers null, booleans, objects
	}
	switch {
	case x >= math.MaxInt:
		*f = math.MaxInt
	case x <= math.MinInt:
		*f = math.MinInt
	default:
		// Prefer the exact integer parse: float64 loses precision above 2^53.
		if n, err := strconv.ParseInt(s, 10, 0); err == nil {
			*f = flexInt(n)
		} else {
			*f = flexInt(x)
		}
	}
	return nil
}

// flexBool accepts true/false or a boolean-looking string; anything else is false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var o optBool
	_ = o.UnmarshalJSON(b)
	*f = flexBool(o.p != nil && *o.p)
	return nil
}

// optBool is a tri-state boolean: p is nil for null, absence, or a value
// that is not a boolean.
type optBool struct{ p *bool }

func (o *optBool) UnmarshalJSON(b []byte) error {
	o.p = nil
	if isNull(b) {
		// Checked first: json.Unmarshal of null into a bool is a silent no-op
		// that would turn "not said" into false.
		return nil
	}
	var v bool
	if json.Unmarshal(b, &v) == nil {
		o.p = &v
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		if v, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			o.p = &v
		}
	}
	return nil
}
