package fakefedi

import (
	"bytes"
	_ "embed" // for the /api/v2/instance template
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// instanceTemplate is the /api/v2/instance body recorded from Mastodon 4.6.4
// (Mastodon.py cassette test_instance.yaml), with the instance-specific
// values replaced by {{...}} placeholders. Keeping the recorded body rather
// than a Go struct keeps its exact key order and every field a client might
// look at.
//
//go:embed instance_v2.json
var instanceTemplate string

// Mastodon's defaults: DEFAULT_STATUSES_LIMIT and the search DEFAULT_RESULTS
// are both 20; limit_param caps at twice the default.
const (
	defaultStatusesLimit = 20
	defaultSearchLimit   = 20
)

// response is a complete answer, built before anything is written so that
// faults can rewrite it (truncate, drop, add headers).
type response struct {
	status int
	header http.Header
	body   []byte
}

func jsonResponse(status int, body []byte) response {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Vary", "Authorization, Origin")
	return response{status: status, header: h, body: body}
}

// errorResponse renders Mastodon's error body, {"error":"..."}.
func errorResponse(status int, msg string) response {
	return jsonResponse(status, []byte(`{"error":`+string(jsonString(msg))+`}`))
}

// notFound uses the body the Mastodon docs show for missing records. (The
// recorded 4.6.4 server said {"error":"Not Found"} for /statuses/0; clients
// must key on the status code, not on this text.)
func notFound() response { return errorResponse(http.StatusNotFound, "Record not found") }

// handler answers one route.
type handler func(r *http.Request) response

// route finds the handler of a normalised path; ok is false for unknown
// paths.
func (s *Server) route(path string) (h handler, ok bool) {
	switch path {
	case "/api/v1/timelines/public":
		return func(r *http.Request) response { return s.timeline(r, "", false) }, true
	case "/api/v2/instance":
		return s.instance, true
	case "/api/v2/search":
		return s.search, true
	case "/api/v1/streaming/health":
		return health, true
	}
	if tag, ok := cutSegment(path, "/api/v1/timelines/tag/"); ok {
		return func(r *http.Request) response { return s.timeline(r, tag, true) }, true
	}
	if id, ok := cutSegment(path, "/api/v1/statuses/"); ok {
		return func(r *http.Request) response { return s.statusByID(id) }, true
	}
	return nil, false
}

// cutSegment returns the single non-empty path segment after prefix.
func cutSegment(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}

// normalizePath drops trailing slashes: Rails routes ignore them, and real
// clients (Mastodon.py, for one) request "/api/v2/instance/".
func normalizePath(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "/"
	}
	return p
}

// answer builds the normal (fault-free) response to r.
func (s *Server) answer(r *http.Request, path string) response {
	h, ok := s.route(path)
	if !ok {
		return notFound()
	}
	// HEAD is let through because Rails answers it for every GET route;
	// net/http drops the body.
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		resp := errorResponse(http.StatusMethodNotAllowed, "Method Not Allowed")
		resp.header.Set("Allow", "GET, HEAD")
		return resp
	}
	return h(r)
}

// timeline serves the public and hashtag timelines with Mastodon's paging:
// newest first; max_id is an exclusive upper bound; since_id an exclusive
// lower bound that returns the NEWEST page above it (leaving a gap if more
// than limit statuses are newer); min_id returns the page IMMEDIATELY above
// it (the oldest limit statuses newer than min_id, still served newest
// first). As in Mastodon's to_a_paginated_by_id, since_id is ignored when
// min_id is present.
func (s *Server) timeline(r *http.Request, tag string, isTag bool) response {
	q := r.URL.Query()
	limit := limitParam(q, defaultStatusesLimit)
	maxID, hasMax := idParam(q, "max_id")
	sinceID, hasSince := idParam(q, "since_id")
	minID, hasMin := idParam(q, "min_id")
	local, remote, onlyMedia := truthyParam(q, "local"), truthyParam(q, "remote"), truthyParam(q, "only_media")

	var anyTags, allTags, noneTags []string
	if isTag {
		anyTags = append([]string{strings.ToLower(tag)}, lowerAll(arrayParam(q, "any"))...)
		allTags = lowerAll(arrayParam(q, "all"))
		noneTags = lowerAll(arrayParam(q, "none"))
	}
	keep := func(st *status) bool {
		if st.visibility != "public" {
			return false // unlisted/private never reach public timelines
		}
		if st.reblogOf != nil && (isTag || !s.opts.ReblogsInPublicTimeline) {
			return false
		}
		switch {
		case local && !st.local:
			return false
		case !local && remote && st.local:
			return false
		case onlyMedia && !st.hasMedia:
			return false
		}
		if isTag {
			tags := st.allTags()
			if !containsAny(tags, anyTags) || !containsAll(tags, allTags) || containsAny(tags, noneTags) {
				return false
			}
		}
		return true
	}

	s.mu.RLock()
	var page []*status
	if hasMin {
		// Walk oldest to newest above min_id, keep the first `limit`, then
		// serve them newest first.
		for i := len(s.order) - 1; i >= 0 && len(page) < limit; i-- {
			st := s.order[i]
			if st.id <= minID || !keep(st) {
				continue
			}
			if hasMax && st.id >= maxID {
				break
			}
			page = append(page, st)
		}
		for i, j := 0, len(page)-1; i < j; i, j = i+1, j-1 {
			page[i], page[j] = page[j], page[i]
		}
	} else {
		for _, st := range s.order {
			if len(page) >= limit || (hasSince && st.id <= sinceID) {
				break
			}
			if (hasMax && st.id >= maxID) || !keep(st) {
				continue
			}
			page = append(page, st)
		}
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, st := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		s.writeStatus(&b, st)
	}
	b.WriteByte(']')
	s.mu.RUnlock()

	resp := jsonResponse(http.StatusOK, b.Bytes())
	if len(page) > 0 {
		// Rails' Api::V1::Timelines::*Controller echo their permitted
		// params (as given, even an out-of-range limit) and add
		// max_id/min_id; url_for sorts the query keys.
		var canonical string
		var permitted []string
		if isTag {
			canonical = "/api/v1/timelines/tag/" + url.PathEscape(tag)
			permitted = []string{"local", "limit", "only_media", "any", "any[]", "all", "all[]", "none", "none[]"}
		} else {
			canonical = "/api/v1/timelines/public"
			permitted = []string{"local", "remote", "limit", "only_media"}
		}
		resp.header.Set("Link", pageLinks(r, canonical, permitted, page[len(page)-1].idStr, page[0].idStr))
	}
	return resp
}

// pageLinks builds the Link header exactly as Mastodon does:
// <…?max_id=OLDEST>; rel="next", <…?min_id=NEWEST>; rel="prev".
func pageLinks(r *http.Request, path string, permitted []string, oldest, newest string) string {
	base := requestBase(r) + path
	in := r.URL.Query()
	keep := url.Values{}
	for _, k := range permitted {
		if vs, ok := in[k]; ok {
			keep[k] = vs
		}
	}
	next, prev := cloneValues(keep), cloneValues(keep)
	next.Set("max_id", oldest)
	prev.Set("min_id", newest)
	return fmt.Sprintf(`<%s?%s>; rel="next", <%s?%s>; rel="prev"`, base, next.Encode(), base, prev.Encode())
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// requestBase is scheme://host of the request, so that Link URLs point back
// at whatever address the client used (httptest gives http://127.0.0.1:port).
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// statusByID serves /api/v1/statuses/:id by local id.
func (s *Server) statusByID(idStr string) response {
	id, err := strconv.ParseUint(idStr, 10, 64)
	if err != nil {
		return notFound()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.byID[id]
	if !ok || st.deleted {
		return notFound()
	}
	var b bytes.Buffer
	s.writeStatus(&b, st)
	return jsonResponse(http.StatusOK, b.Bytes())
}

// instance serves /api/v2/instance from the recorded template.
func (s *Server) instance(r *http.Request) response {
	base := requestBase(r)
	streaming := s.opts.StreamingURL
	if streaming == "" {
		streaming = "ws://" + r.Host
		if strings.HasPrefix(base, "https:") {
			streaming = "wss://" + r.Host
		}
	}
	inner := func(v string) string { return strings.Trim(string(jsonString(v)), `"`) }
	body := strings.NewReplacer(
		"{{DOMAIN}}", string(jsonString(s.opts.Domain)),
		"{{TITLE}}", string(jsonString(s.opts.Title)),
		"{{VERSION}}", string(jsonString(Version)),
		"{{DESCRIPTION}}", string(jsonString("fakefedi: a fake Mastodon instance replaying a corpus of real CVE posts")),
		"{{STREAMING}}", string(jsonString(streaming)),
		"{{BASE}}", inner(base),
	).Replace(strings.TrimSpace(instanceTemplate))
	resp := jsonResponse(http.StatusOK, []byte(body))
	resp.header.Set("Cache-Control", "max-age=300, public, stale-while-revalidate=30, stale-if-error=86400")
	resp.header.Set("Vary", "Accept, Origin")
	return resp
}

// search serves /api/v2/search. accounts is always empty (the fake has no
// account directory); hashtags are the derived tag names containing q;
// statuses are public statuses whose content contains q, or whose uri/url
// equals q (Mastodon resolves a pasted status URL to the status).
func (s *Server) search(r *http.Request) response {
	q := r.URL.Query()
	term, _ := param(q, "q")
	term = strings.TrimSpace(term)
	typ, _ := param(q, "type")
	limit := limitParam(q, defaultSearchLimit)
	offset := 0
	if v, ok := param(q, "offset"); ok {
		offset = max(rubyToI(v), 0)
	}

	var statuses, hashtags bytes.Buffer
	statuses.WriteByte('[')
	hashtags.WriteByte('[')
	if term != "" {
		s.mu.RLock()
		if typ == "" || typ == "statuses" {
			lower := strings.ToLower(term)
			n, skipped := 0, 0
			for _, st := range s.order {
				if n >= limit {
					break
				}
				if st.reblogOf != nil || st.visibility != "public" {
					continue
				}
				if st.uri != term && st.url != term && !strings.Contains(strings.ToLower(st.content), lower) {
					continue
				}
				if skipped < offset {
					skipped++
					continue
				}
				if n > 0 {
					statuses.WriteByte(',')
				}
				s.writeStatus(&statuses, st)
				n++
			}
		}
		if typ == "" || typ == "hashtags" {
			needle := strings.ToLower(strings.TrimPrefix(term, "#"))
			var found []string
			for _, name := range s.tagNames() {
				if strings.Contains(name, needle) {
					found = append(found, name)
				}
			}
			// Exact match first, then prefix matches, then shorter names:
			// roughly the order a real server's tag search produces.
			rank := func(n string) int {
				switch {
				case n == needle:
					return 0
				case strings.HasPrefix(n, needle):
					return 1
				}
				return 2
			}
			sort.SliceStable(found, func(i, j int) bool {
				ri, rj := rank(found[i]), rank(found[j])
				if ri != rj {
					return ri < rj
				}
				if len(found[i]) != len(found[j]) {
					return len(found[i]) < len(found[j])
				}
				return found[i] < found[j]
			})
			if offset < len(found) {
				found = found[offset:]
			} else {
				found = nil
			}
			for i, name := range found {
				if i >= limit {
					break
				}
				if i > 0 {
					hashtags.WriteByte(',')
				}
				fmt.Fprintf(&hashtags, `{"name":%s,"url":%s,"history":[]}`, jsonString(name), jsonString(s.tagURL(name)))
			}
		}
		s.mu.RUnlock()
	}
	statuses.WriteByte(']')
	hashtags.WriteByte(']')
	body := `{"accounts":[],"statuses":` + statuses.String() + `,"hashtags":` + hashtags.String() + `,"collections":[]}`
	return jsonResponse(http.StatusOK, []byte(body))
}

// health answers like the streaming server's health check (a different
// process on a real instance, hence text/plain and no JSON).
func health(*http.Request) response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain")
	h.Set("Cache-Control", "private, no-store")
	return response{status: http.StatusOK, header: h, body: []byte("OK")}
}

// param returns the last value of key, as Rails does with repeated keys.
func param(q url.Values, key string) (string, bool) {
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// arrayParam reads Rails array params, "key[]=a&key[]=b" (or a plain
// "key=a").
func arrayParam(q url.Values, key string) []string {
	return append(append([]string(nil), q[key+"[]"]...), q[key]...)
}

// limitParam is Mastodon's Api::BaseController#limit_param:
//
//	return default_limit unless params[:limit]
//	[params[:limit].to_i.abs, default_limit * 2].min
//
// So an absent limit is the default, "1000" is capped at 40, "-1" is 1 and,
// because Ruby's "abc".to_i is 0, a non-numeric limit yields an EMPTY page.
// That last case surprises people, but it is what a real server does, and a
// client that sends garbage should find out here rather than in production.
func limitParam(q url.Values, def int) int {
	v, ok := param(q, "limit")
	if !ok {
		return def
	}
	n := rubyToI(v)
	if n < 0 {
		n = -n
	}
	return min(n, 2*def)
}

// rubyToI mimics Ruby's String#to_i: leading whitespace, an optional sign,
// then as many digits as there are (underscores allowed between digits);
// anything else ends the number, and no digits at all is 0.
func rubyToI(s string) int {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' && i > 0 && i+1 < len(s) && isDigit(s[i-1]) && isDigit(s[i+1]) {
			continue
		}
		if !isDigit(c) {
			break
		}
		if n > 1<<40 { // far beyond any cap; avoid overflow
			continue
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// idParam parses a paging id. Ids are compared as integers, like Mastodon's
// bigint column; an empty or non-numeric value is treated as absent (Rails
// skips blank ones; what Postgres makes of "abc" is not worth imitating).
func idParam(q url.Values, key string) (uint64, bool) {
	v, ok := param(q, key)
	if !ok || v == "" {
		return 0, false
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return id, true
}

// truthyParam is ActiveModel::Type::Boolean casting: blank is false, the
// listed spellings are false, everything else is true.
func truthyParam(q url.Values, key string) bool {
	v, ok := param(q, key)
	if !ok || v == "" {
		return false
	}
	switch v {
	case "0", "f", "F", "false", "FALSE", "off", "OFF":
		return false
	}
	return true
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" {
			out = append(out, strings.ToLower(s))
		}
	}
	return out
}

func containsAny(have, want []string) bool {
	for _, w := range want {
		if containsString(have, w) {
			return true
		}
	}
	return false
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !containsString(have, w) {
			return false
		}
	}
	return true
}
