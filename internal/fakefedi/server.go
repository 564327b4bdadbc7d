package fakefedi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDomain is the instance domain used when Options.Domain is empty.
// ".example" is reserved (RFC 2606), so nothing real can ever answer there.
const DefaultDomain = "fake.example"

// Version is the Mastodon version the fake claims to be; it is the version
// of the server the shapes were recorded from.
const Version = "4.6.4"

// ErrUnknownStatus is returned by the mutating methods when no live status
// has the given uri.
var ErrUnknownStatus = errors.New("fakefedi: no such status")

// Options configures a Server. The zero value is usable.
type Options struct {
	// Domain is the instance's own domain (LOCAL_DOMAIN in Mastodon terms).
	// It appears in body URLs the instance itself mints: hashtag URLs,
	// boost wrapper uris, uris of posts added without one, the "domain" of
	// /api/v2/instance. Links in headers use the request's Host instead, so
	// an httptest server on 127.0.0.1:port produces followable Link URLs.
	// Default DefaultDomain.
	Domain string
	// Title is the instance title in /api/v2/instance. Default "fakefedi".
	Title string
	// Now is the clock. It is read once at construction for the time shift
	// and again for everything that happens later (Add, Boost, Edit, rate
	// limit windows, the request log). Default time.Now.
	Now func() time.Time
	// Engagement gives the initial counts of each corpus or added post.
	// Default NoEngagement: the corpus has no counts and none are invented
	// unless asked for (see SyntheticEngagement).
	Engagement func(uri string) (reblogs, favourites, replies int)
	// StreamingURL overrides configuration.urls.streaming in
	// /api/v2/instance. By default it is ws://<host> for plain HTTP requests
	// and wss://<host> for TLS ones, as a real server's own host would be.
	StreamingURL string
	// RateLimit is the X-RateLimit-Limit per window. Default 300, the
	// limit Mastodon applies per token / per IP.
	RateLimit int
	// RateLimitWindow is the window length. Default 5 minutes (Mastodon's
	// throttle period for API calls).
	RateLimitWindow time.Duration
	// EnforceRateLimit makes the fake answer 429 {"error":"Too many
	// requests"} once a key's window is used up, as rack-attack does. Off by
	// default so that long test runs never trip over it by accident; tests
	// of 429 handling usually want InjectFaults instead.
	EnforceRateLimit bool
	// ReblogsInPublicTimeline lets boost wrappers appear on
	// /api/v1/timelines/public. Real Mastodon never shows reblogs on the
	// public or hashtag timelines (PublicFeed uses without_reblogs), so the
	// default is false; tests that want a poller to meet a wrapper status on
	// a timeline can switch it on. Hashtag timelines never show boosts.
	ReblogsInPublicTimeline bool
	// MaxLoggedRequests bounds the request log kept for Requests. Default
	// 10000.
	MaxLoggedRequests int
}

// Server is the fake instance. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	opts   Options
	offset time.Duration

	mu    sync.RWMutex // guards the statuses below
	byID  map[uint64]*status
	byURI map[string]*status // live statuses only
	order []*status          // live statuses, id descending
	seq   uint64             // low 16 bits of the next snowflake
	maxID uint64             // largest id ever handed out

	obsMu       sync.Mutex // guards observation, faults and rate limiting
	requests    []Request
	inflight    map[string]int
	maxInflight map[string]int
	faults      []queuedFault
	rate        map[string]*rateWindow

	hub streamHub // streaming subscribers and stream faults

	requestSeq atomic.Uint64
	done       chan struct{}
	closeOnce  sync.Once
}

// status is one served status: a corpus post, an added post or a boost
// wrapper.
type status struct {
	id         uint64
	idStr      string
	uri        string
	url        string
	createdAt  time.Time
	editedAt   time.Time // zero: never edited
	content    string
	visibility string
	account    []byte  // compact JSON, defaults filled in
	fields     []field // the post's own public fields, in order
	raw        map[string]json.RawMessage
	tags       []string // lower-cased hashtag names
	extraTags  []string // from an explicit "tags" array of an added post
	local      bool
	hasMedia   bool

	reblogs, favourites, replies int
	boosts                       int // live boost wrappers of this status

	reblogOf *status // non-nil for a boost wrapper
	deleted  bool
}

// New builds a Server from corpus posts. Posts are placed by created_at; each
// gets a local snowflake id, and all times are shifted by one offset so that
// the newest post is opts.Now() (truncated to the millisecond, the precision
// Mastodon serves). Duplicate uris are an error, as they would be one
// status on a real server.
func New(posts []Post, opts Options) (*Server, error) {
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.Title == "" {
		opts.Title = "fakefedi"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Engagement == nil {
		opts.Engagement = NoEngagement
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 300
	}
	if opts.RateLimitWindow < time.Second {
		opts.RateLimitWindow = 5 * time.Minute
	}
	if opts.MaxLoggedRequests <= 0 {
		opts.MaxLoggedRequests = 10000
	}
	s := &Server{
		opts:        opts,
		byID:        map[uint64]*status{},
		byURI:       map[string]*status{},
		inflight:    map[string]int{},
		maxInflight: map[string]int{},
		rate:        map[string]*rateWindow{},
		done:        make(chan struct{}),
	}

	sorted := append([]Post(nil), posts...)
	// Stable, so that posts with equal times keep corpus order and the
	// snowflake sequence bits still follow it.
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.Before(sorted[j].CreatedAt) })
	if len(sorted) > 0 {
		now := opts.Now().UTC().Truncate(time.Millisecond)
		s.offset = now.Sub(sorted[len(sorted)-1].CreatedAt)
	}
	for _, p := range sorted {
		if p.URI == "" {
			return nil, errors.New("fakefedi: post without uri")
		}
		if _, dup := s.byURI[p.URI]; dup {
			return nil, fmt.Errorf("fakefedi: duplicate uri %s", p.URI)
		}
		var fields []field
		if len(p.Raw) > 0 {
			var err error
			if fields, err = objectFields(p.Raw); err != nil {
				return nil, fmt.Errorf("fakefedi: post %s: %w", p.URI, err)
			}
		}
		created := p.CreatedAt.Add(s.offset)
		st, err := s.buildStatus(fields, s.newID(created, 0), created, p.URI, p.URL, p.Content)
		if err != nil {
			return nil, fmt.Errorf("fakefedi: post %s: %w", p.URI, err)
		}
		s.insert(st)
	}
	return s, nil
}

// Offset is the duration added to every corpus created_at.
func (s *Server) Offset() time.Duration { return s.offset }

// Close releases requests held by Hang and Delay faults, so that an
// httptest.Server wrapping this handler can shut down even if a client never
// gives up. The Server keeps answering normally afterwards.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// LocalID returns the local id of the live status with this uri.
func (s *Server) LocalID(uri string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.byURI[uri]
	if !ok {
		return "", false
	}
	return st.idStr, true
}

// Tags returns the sorted, lower-cased hashtag names of all live statuses.
func (s *Server) Tags() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tagNames()
}

func (s *Server) tagNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, st := range s.order {
		if st.reblogOf != nil {
			continue
		}
		for _, t := range st.allTags() {
			if !seen[t] {
				seen[t] = true
				names = append(names, t)
			}
		}
	}
	sort.Strings(names)
	return names
}

// Add publishes a new status, as if it had just arrived. Its created_at is
// Now() and its id is larger than every id handed out so far, so pollers
// see it on their next since_id/min_id request. The JSON object may be
// partial: a missing uri/url is minted on Domain, a missing account becomes
// a local "fakefedi" account, visibility defaults to "public". Any "id" and
// "created_at" in it are ignored. Hashtags are derived from content plus an
// explicit "tags" array, if given.
func (s *Server) Add(post json.RawMessage) (localID string, err error) {
	return s.add(post, time.Time{}, false)
}

// AddAt publishes a status with the given created_at and an id derived from
// it, which may sort below statuses already served. That is what a real
// server does with a federated post that arrives late, and is the case a
// since_id poller silently misses; use it to test backfill logic.
func (s *Server) AddAt(post json.RawMessage, createdAt time.Time) (localID string, err error) {
	return s.add(post, createdAt, true)
}

func (s *Server) add(post json.RawMessage, at time.Time, backdated bool) (string, error) {
	fields, err := objectFields(bytes.TrimSpace(post))
	if err != nil {
		return "", fmt.Errorf("fakefedi: add: %w", err)
	}
	idx := indexFields(fields)
	uri, urlStr, content := stringOf(idx["uri"]), stringOf(idx["url"]), stringOf(idx["content"])

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byURI[uri]; uri != "" && dup {
		return "", fmt.Errorf("fakefedi: add: duplicate uri %s", uri)
	}
	created, floor := at, uint64(0)
	if !backdated {
		created, floor = s.opts.Now(), s.maxID
	}
	id := s.newID(created, floor)
	if uri == "" || urlStr == "" {
		user := usernameOf(idx["account"])
		if uri == "" {
			uri = fmt.Sprintf("https://%s/users/%s/statuses/%d", s.opts.Domain, user, id)
		}
		if urlStr == "" {
			urlStr = fmt.Sprintf("https://%s/@%s/%d", s.opts.Domain, user, id)
		}
	}
	st, err := s.buildStatus(fields, id, created, uri, urlStr, content)
	if err != nil {
		return "", fmt.Errorf("fakefedi: add: %w", err)
	}
	s.insert(st)
	s.publish("update", st)
	return st.idStr, nil
}

// Edit replaces the content of a status, re-derives its hashtags and sets
// edited_at to Now(), like an edit federated from the origin server. Its id
// and place on timelines do not change.
func (s *Server) Edit(uri, newContent string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byURI[uri]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownStatus, uri)
	}
	if st.reblogOf != nil {
		return fmt.Errorf("fakefedi: edit: %s is a boost, not an editable status", uri)
	}
	st.content = newContent
	st.tags = deriveTags(newContent)
	st.extraTags = nil
	st.editedAt = s.opts.Now()
	s.publish("status.update", st)
	return nil
}

// Delete removes a status: /api/v1/statuses/:id then answers 404 and it
// disappears from timelines and search. Deleting an original also deletes
// its boosts, as Mastodon does; deleting a boost wrapper is an un-boost.
func (s *Server) Delete(uri string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byURI[uri]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownStatus, uri)
	}
	if st.reblogOf != nil {
		st.reblogOf.boosts--
	} else {
		for _, b := range append([]*status(nil), s.order...) {
			if b.reblogOf == st {
				s.remove(b)
				s.publish("delete", b)
			}
		}
	}
	s.remove(st)
	s.publish("delete", st)
	return nil
}

// Boost makes booster (an Account JSON object; nil means the local
// "fakefedi" account) reblog the status with this uri. The result is a
// wrapper status with its own id, uri and url (Mastodon's ".../activity"
// shape), content "", and "reblog" holding the original. The original's
// reblogs_count goes up by one. Boosting a boost boosts its original.
func (s *Server) Boost(uri string, booster json.RawMessage) (localID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	orig, ok := s.byURI[uri]
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrUnknownStatus, uri)
	}
	if orig.reblogOf != nil {
		orig = orig.reblogOf
	}
	account, user, err := s.renderAccount(booster)
	if err != nil {
		return "", fmt.Errorf("fakefedi: boost: account: %w", err)
	}
	created := s.opts.Now()
	id := s.newID(created, s.maxID)
	activity := fmt.Sprintf("https://%s/users/%s/statuses/%d/activity", s.opts.Domain, user, id)
	st := &status{
		id:         id,
		idStr:      fmt.Sprint(id),
		uri:        activity,
		url:        activity,
		createdAt:  created,
		visibility: "public",
		account:    account,
		raw:        map[string]json.RawMessage{},
		local:      true,
		reblogOf:   orig,
	}
	orig.boosts++
	s.insert(st)
	s.publish("update", st)
	return st.idStr, nil
}

// SetCounts overrides the engagement counts of a status. The reblogs count
// served is reblogs plus the number of live Boost wrappers.
func (s *Server) SetCounts(uri string, reblogs, favourites, replies int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byURI[uri]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownStatus, uri)
	}
	st.reblogs, st.favourites, st.replies = reblogs, favourites, replies
	return nil
}

// newID mints a Mastodon-style snowflake, (unix_ms << 16) | sequence, that
// is larger than floor and not yet taken. Mastodon fills the low 16 bits
// with a hashed sequence; a plain counter keeps the same two properties
// that matter here: ids sort by time and never repeat.
func (s *Server) newID(t time.Time, floor uint64) uint64 {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	s.seq++
	id := uint64(ms)<<16 | s.seq&0xffff
	if id <= floor {
		id = floor + 1
	}
	for {
		if _, taken := s.byID[id]; !taken {
			return id
		}
		id++
	}
}

// buildStatus turns a post's fields into a status. Private fields ("_..."),
// and fields the fake computes itself are dropped from fields.
func (s *Server) buildStatus(fields []field, id uint64, created time.Time, uri, urlStr, content string) (*status, error) {
	idx := indexFields(fields)
	account, _, err := s.renderAccount(idx["account"])
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	visibility := stringOf(idx["visibility"])
	if visibility == "" {
		visibility = "public"
	}
	var kept []field
	for _, f := range fields {
		if !strings.HasPrefix(f.key, "_") {
			kept = append(kept, f)
		}
	}
	st := &status{
		id:         id,
		idStr:      fmt.Sprint(id),
		uri:        uri,
		url:        urlStr,
		createdAt:  created,
		content:    content,
		visibility: visibility,
		account:    account,
		fields:     kept,
		raw:        indexFields(kept),
		tags:       deriveTags(content),
		extraTags:  explicitTags(idx["tags"]),
		local:      hostOf(uri) == s.opts.Domain,
		hasMedia:   nonEmptyArray(idx["media_attachments"]),
	}
	st.reblogs, st.favourites, st.replies = s.opts.Engagement(uri)
	return st, nil
}

// allTags is the union of derived and explicit hashtags.
func (st *status) allTags() []string {
	if len(st.extraTags) == 0 {
		return st.tags
	}
	out := append([]string(nil), st.tags...)
	for _, t := range st.extraTags {
		if !containsString(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) insert(st *status) {
	s.byID[st.id] = st
	s.byURI[st.uri] = st
	if st.id > s.maxID {
		s.maxID = st.id
	}
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i].id < st.id })
	s.order = append(s.order, nil)
	copy(s.order[i+1:], s.order[i:])
	s.order[i] = st
}

func (s *Server) remove(st *status) {
	st.deleted = true
	delete(s.byURI, st.uri)
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i].id <= st.id })
	if i < len(s.order) && s.order[i] == st {
		s.order = append(s.order[:i], s.order[i+1:]...)
	}
}

func indexFields(fields []field) map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(fields))
	for _, f := range fields {
		m[f.key] = f.val
	}
	return m
}

// stringOf decodes a JSON string value; anything else gives "".
func stringOf(v json.RawMessage) string {
	var str string
	if len(v) == 0 || json.Unmarshal(v, &str) != nil {
		return ""
	}
	return str
}

func usernameOf(account json.RawMessage) string {
	var a struct {
		Username string `json:"username"`
	}
	if len(account) == 0 || json.Unmarshal(account, &a) != nil || a.Username == "" {
		return defaultUsername
	}
	return url.PathEscape(a.Username)
}

func explicitTags(v json.RawMessage) []string {
	var tags []struct {
		Name string `json:"name"`
	}
	if len(v) == 0 || json.Unmarshal(v, &tags) != nil {
		return nil
	}
	var out []string
	for _, t := range tags {
		name := strings.ToLower(strings.TrimPrefix(t.Name, "#"))
		if validTagName(name) && !containsString(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func nonEmptyArray(v json.RawMessage) bool {
	var a []json.RawMessage
	return len(v) > 0 && json.Unmarshal(v, &a) == nil && len(a) > 0
}

func hostOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Host
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
