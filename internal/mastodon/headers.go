package mastodon

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RateLimit is what the server said about the caller's rate-limit budget in
// the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers.
type RateLimit struct {
	// Limit is the number of requests allowed in the current window.
	Limit int
	// Remaining is the number of requests left in the current window.
	Remaining int
	// Reset is when the window resets; zero if the header was absent or unreadable.
	Reset time.Time
	// Known is true when both Limit and Remaining were present and numeric;
	// otherwise the other fields carry no information.
	Known bool
}

// ParseRateLimit reads the X-RateLimit-* headers.
//
// Mastodon (and GoToSocial) send Reset as an ISO 8601 time with microseconds
// ("2026-08-01T14:00:00.497737Z"). Other implementations send a Unix time
// (seconds or milliseconds) or a number of seconds until the reset; the
// latter is resolved against the response's Date header when there is one
// (so client clock skew does not matter) and against the local clock
// otherwise. An unreadable Reset leaves Reset zero but keeps Known.
func ParseRateLimit(h http.Header) RateLimit {
	var rl RateLimit
	limit, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	remaining, err2 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err1 != nil || err2 != nil {
		return rl
	}
	rl.Limit, rl.Remaining, rl.Known = limit, remaining, true
	rl.Reset = parseReset(strings.TrimSpace(h.Get("X-RateLimit-Reset")), h)
	return rl
}

func parseReset(v string, h http.Header) time.Time {
	if v == "" {
		return time.Time{}
	}
	if t, err := parseTimestamp(v); err == nil {
		return t
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.UTC()
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return time.Time{}
	}
	switch {
	case x >= 1e12: // Unix milliseconds
		return time.UnixMilli(int64(math.Min(x, 1e15))).UTC()
	case x >= 1e9: // Unix seconds (anything after 2001)
		return time.Unix(int64(x), 0).UTC()
	default: // seconds from now
		return serverNow(h).Add(time.Duration(x * float64(time.Second))).UTC()
	}
}

// maxRetryAfter caps Retry-After so a broken or hostile server cannot park
// a poller for years; a day is far beyond any real Mastodon rate-limit window.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). A date is measured against the response's Date header
// when present, because both come from the server's clock. Absent, negative
// or unreadable values give 0.
func parseRetryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(serverNow(h))
	}
	return min(max(d, 0), maxRetryAfter)
}

// serverNow is the response's Date header, or the local clock without one.
func serverNow(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return time.Now()
}

// ParseLink parses an RFC 8288 Link header into a map from relation type to
// target URL, e.g. Mastodon's
//
//	<https://host/api/v1/timelines/public?max_id=1>; rel="next", <https://host/api/v1/timelines/public?min_id=2>; rel="prev"
//
// It is deliberately tolerant: whitespace anywhere between tokens, quoted or
// bare rel values, parameters in any order or case, several relation types in
// one rel ("prev next"), and several Link header lines joined with commas are
// all accepted. Relation types are lower-cased. Entries that cannot be parsed
// (missing <>, bad URL, no rel) are skipped rather than failing the whole
// header, because a single odd entry must not stop pagination. When a
// relation occurs twice the first one wins. Targets are returned as written
// (not resolved against a base). The result is never nil.
func ParseLink(header string) map[string]*url.URL {
	out := map[string]*url.URL{}
	p := linkParser{s: header}
	for !p.done() {
		target, rels, ok := p.entry()
		if !ok {
			p.skipEntry()
			continue
		}
		u, err := url.Parse(target)
		if err != nil {
			continue
		}
		// Guarantee the documented property that every returned URL
		// survives a String/Parse round trip, whatever the input was.
		if _, err := url.Parse(u.String()); err != nil {
			continue
		}
		for _, r := range rels {
			if _, dup := out[r]; !dup {
				out[r] = u
			}
		}
	}
	return out
}

// linkParser is a small cursor over a Link header value.
type linkParser struct {
	s string
	i int
}

func (p *linkParser) done() bool {
	p.skipSpaceAndCommas()
	return p.i >= len(p.s)
}

func (p *linkParser) skipSpace() {
	for p.i < len(p.s) && isLinkSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *linkParser) skipSpaceAndCommas() {
	for p.i < len(p.s) && (isLinkSpace(p.s[p.i]) || p.s[p.i] == ',') {
		p.i++
	}
}

func isLinkSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skipEntry moves past the current (broken) entry: to the next comma that
// is outside quotes and angle brackets, or to the end.
func (p *linkParser) skipEntry() {
	inQuote, inAngle := false, false
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case inQuote && c == '\\':
			p.i++
		case c == '"' && !inAngle:
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inAngle = true
		case c == '>' && !inQuote:
			inAngle = false
		case c == ',' && !inQuote && !inAngle:
			p.i++
			return
		}
	}
}

// entry parses `<target> *( ";" param )` and returns the target and the rel
// values. It reports !ok when the entry has no <target>; an entry without a
// rel parameter is returned with no rels and thereby ignored.
func (p *linkParser) entry() (target string, rels []string, ok bool) {
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '<' {
		return "", nil, false
	}
	end := strings.IndexByte(p.s[p.i+1:], '>')
	if end < 0 {
		p.i = len(p.s)
		return "", nil, false
	}
	target = strings.TrimSpace(p.s[p.i+1 : p.i+1+end])
	p.i += end + 2
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] == ',' {
			return target, rels, true
		}
		if p.s[p.i] != ';' {
			// Junk after the target or a parameter: drop this entry.
			return "", nil, false
		}
		p.i++
		name, value := p.param()
		// RFC 8288 §3.3: occurrences after the first rel are ignored.
		if name == "rel" && rels == nil {
			rels = strings.Fields(strings.ToLower(value))
			if rels == nil {
				rels = []string{}
			}
		}
	}
}

// param parses `name [ "=" ( token / quoted-string ) ]`, lower-casing name.
func (p *linkParser) param() (name, value string) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("=;, \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
	name = strings.ToLower(p.s[start:p.i])
	p.skipSpace()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return name, ""
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		p.i++
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
			}
			b.WriteByte(p.s[p.i])
			p.i++
		}
		if p.i < len(p.s) {
			p.i++ // closing quote; an unterminated one runs to the end
		}
		return name, b.String()
	}
	start = p.i
	for p.i < len(p.s) && p.s[p.i] != ';' && p.s[p.i] != ',' {
		p.i++
	}
	return name, strings.TrimSpace(p.s[start:p.i])
}
