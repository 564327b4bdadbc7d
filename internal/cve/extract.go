package cve

import (
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxInputBytes is how much of any one input string the extraction functions
// look at: the first 1 MiB. Anything after it is ignored.
//
// Post content comes from arbitrary Fediverse servers; Mastodon allows 500
// characters per status (a few KB of HTML) and other servers a few thousand,
// so 1 MiB is far above any real post and only bounds the work (and memory) a hostile or broken server can
// make us do. An ID whose digits run up to the cut is dropped rather than
// reported with a possibly truncated sequence number.
const MaxInputBytes = 1 << 20

// Extractor finds CVE IDs in free-form post text. The zero value is ready to
// use.
//
// Compared with [Parse] it accepts every way people write an ID in posts:
//
//   - "CVE" in any case, as long as the character before it is not an ASCII
//     letter ("XCVE-2024-1234" is something else, but "#CVE", "/cve",
//     "%20CVE" and "🚨CVE" are fine; non-ASCII letters do not block, since
//     Japanese or Chinese text often glues an ID straight onto ideographs);
//   - between "CVE", year and sequence, at most one separator out of: hyphen,
//     underscore, space, no-break space (U+00A0), narrow no-break space
//     (U+202F), the Unicode hyphens and dashes U+2010 to U+2015, minus sign
//     (U+2212) and fullwidth hyphen-minus (U+FF0D), or nothing at all, as in
//     the hashtags #CVE20243094, #cve_2024_3094 and #CVE2024_1234;
//   - a sequence of 4 to 7 digits, with no leading zero when longer than 4
//     digits, that is not followed by another digit: "CVE-2024-123456789012"
//     yields nothing rather than a wrong CVE-2024-1234. Letters may follow
//     ("CVE-2011-4461-JETTY" yields CVE-2011-4461);
//   - in markdown, an ID that only appears once a link is rendered:
//     "[#CVE](https://infosec.exchange/tags/CVE)-2023-4966" (see
//     [Extractor.FromText]).
//
// Results are de-duplicated and sorted with [Compare]. When nothing is found
// the result is nil (not an empty slice); callers should test len(ids) == 0.
//
// Every method runs in time linear in the size of its input and reads at most
// [MaxInputBytes] bytes of each input string.
type Extractor struct {
	// MaxYear is the latest year accepted in an ID. Zero means next year by
	// the local clock (time.Now().Year()+1), since CNAs publish IDs for the
	// coming year in late December. Tests and replays of old posts set it
	// explicitly so results do not depend on the date.
	MaxYear int
}

func (e Extractor) maxYear() int {
	if e.MaxYear == 0 {
		return defaultMaxYear()
	}
	return e.MaxYear
}

// FromText returns the CVE IDs in plain text or markdown, nil if there are
// none. The text is taken as is (HTML entities are not decoded; use
// [Extractor.FromHTML] for HTML), and, if it has markdown links, also as
// rendered, with every "](url)" removed, so that the html2text form of a
// broken hashtag, "[#CVE](https://infosec.exchange/tags/CVE)-2023-4966",
// yields CVE-2023-4966. IDs inside the URLs are found in the first view.
func (e Extractor) FromText(s string) []ID {
	s, cut := capInput(s)
	return finish(scanText(nil, s, e.maxYear(), cut))
}

// FromHTML returns the CVE IDs in a post's HTML content, nil if there are
// none: those in its text as [HTMLToText] extracts it (so including
// Mastodon's invisible link spans), scanned like [Extractor.FromText], and
// those in the href of every <a> element, each scanned on its own.
//
// Input that is not HTML at all, such as the html2text markdown some feeds
// store, works too: it is one long text token. The raw source of any tag that
// is not an HTML element is scanned as well, because the tokenizer would
// otherwise swallow a markdown autolink like
// <https://nvd.nist.gov/vuln/detail/CVE-2023-4966> (or "<CVE-2024-3094>" in
// prose) as a start tag. Other attributes (title, alt, src) are not scanned:
// no reader sees them as the post's text.
func (e Extractor) FromHTML(html string) []ID {
	return e.FromPost(html, nil)
}

// FromPost returns the CVE IDs of a post: those [Extractor.FromHTML] finds in
// its content plus those in the names of its hashtags (Mastodon's
// status.tags[].name, e.g. "cve20243094" or "CVE_2024_3094"), which servers
// may list even when the content renders the tag differently. Each name is
// scanned on its own. Tag names are read until their total size reaches
// [MaxInputBytes]; the rest are ignored. The result is nil if there are no
// IDs.
func (e Extractor) FromPost(contentHTML string, tagNames []string) []ID {
	d := extractDoc(contentHTML)
	maxYear := e.maxYear()
	ids := scanText(nil, d.text, maxYear, d.cut)
	// A tag cut off by MaxInputBytes never reaches d.links (the tokenizer
	// drops an unfinished tag), so nothing in it is truncated.
	ids = scan(ids, d.links, maxYear, -1)
	budget := MaxInputBytes
	for _, name := range tagNames {
		if len(name) > budget {
			break
		}
		budget -= len(name)
		// Each name is scanned on its own so no ID can span two tags.
		ids = scan(ids, name, maxYear, -1)
	}
	return finish(ids)
}

// FromPost is [Extractor.FromPost] with the zero Extractor, i.e. a maximum
// year of next year.
func FromPost(contentHTML string, tagNames []string) []ID {
	return Extractor{}.FromPost(contentHTML, tagNames)
}

// HTMLToText returns the text of an HTML fragment the way a reader sees it
// once every link is expanded: text of all elements, including Mastodon's
// <span class="invisible"> link parts, with HTML entities decoded. Inline
// elements (a, span, b, code, ...) are joined without any separator, because
// Mastodon splits one URL over several spans and the ID must come out whole;
// block elements (p, br, div, li, blockquote, h1-h6, pre, tr, td, ...) become
// a single newline. Newlines in the text itself (Bluesky posts bridged by
// Bridgy Fed have raw "\n" inside <p>) are kept, "\r\n" becomes "\n", and
// leading and trailing newlines are trimmed. Comments, doctypes and tags that
// are not HTML elements are dropped; the text of <script> and <style> is kept
// (Mastodon's sanitizer removes those elements, and in markdown content a
// literal "<style>" must not hide the rest of the post). Only the first
// [MaxInputBytes] bytes of html are read.
func HTMLToText(html string) string {
	return strings.Trim(extractDoc(html).text, "\n")
}

// doc is what extraction needs from an HTML fragment.
type doc struct {
	// text is the fragment's text (see HTMLToText), untrimmed.
	text string
	// links holds, one per line, the href of every <a> and the raw source of
	// every tag with an unknown name (see extractDoc).
	links string
	// cut is len(text) if the input was cut at MaxInputBytes (so the text
	// may end in the middle of an ID), else -1.
	cut int
}

// extractDoc tokenizes an HTML fragment. It uses the streaming tokenizer, not
// the tree-building parser: the tokenizer is linear in its input, keeps no
// tree (so deep nesting costs nothing) and does not reorder malformed markup.
func extractDoc(src string) doc {
	src, cut := capInput(src)
	z := html.NewTokenizer(strings.NewReader(src))
	text := make([]byte, 0, len(src)/2)
	var links []byte
	newline := func() {
		if len(text) > 0 && text[len(text)-1] != '\n' {
			text = append(text, '\n')
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF, or a read error that cannot happen with a
			// strings.Reader; either way we are done.
			d := doc{text: string(text), links: string(links), cut: -1}
			if cut >= 0 {
				d.cut = len(d.text)
			}
			return d
		case html.TextToken:
			text = append(text, z.Text()...)
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			// Raw must be taken before TagName/TagAttr advance the
			// tokenizer's view of the token.
			raw := z.Raw()
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if a == 0 {
				// Not an HTML element. In the html2text markdown that
				// some feeds store, an autolink <https://nvd.nist.gov/
				// vuln/detail/CVE-2023-4966> looks like a start tag to
				// the tokenizer and would vanish from the text, so keep
				// its source as a line to scan ("<CVE-2024-1234>" in
				// prose is the same case).
				links = append(links, raw...)
				links = append(links, '\n')
				continue
			}
			if isBlock(a) {
				newline()
			}
			if a == atom.A && hasAttr && tt != html.EndTagToken {
				for {
					key, val, more := z.TagAttr()
					if string(key) == "href" {
						// Its own line, so it cannot join with
						// anything else into a false ID.
						links = append(links, val...)
						links = append(links, '\n')
					}
					if !more {
						break
					}
				}
			}
		}
		// CommentToken and DoctypeToken carry no post text.
	}
}

// isBlock reports whether an element starts a new line when rendered.
// Everything else is treated as inline and joined to its neighbours.
func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Br, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.Dl, atom.Dt, atom.Dd,
		atom.Blockquote, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre,
		atom.Table, atom.Thead, atom.Tbody, atom.Tfoot, atom.Tr, atom.Td, atom.Th, atom.Caption,
		atom.Hr, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Nav, atom.Aside,
		atom.Main, atom.Figure, atom.Figcaption, atom.Address, atom.Details, atom.Summary,
		atom.Form, atom.Fieldset, atom.Legend:
		return true
	}
	return false
}

// capInput applies MaxInputBytes. It returns the possibly shortened string
// and the cut position (its length) if it was shortened, else -1.
func capInput(s string) (string, int) {
	if len(s) <= MaxInputBytes {
		return s, -1
	}
	return s[:MaxInputBytes], MaxInputBytes
}

// finish sorts and de-duplicates extraction results; nil stays nil.
func finish(ids []ID) []ID {
	if len(ids) == 0 {
		return nil
	}
	slices.SortFunc(ids, Compare)
	return slices.Compact(ids)
}

// scanText scans text that may contain markdown links. It scans s as it is
// (so IDs inside link URLs are found) and, if s has any markdown link, also s
// with the "](url)" parts removed, as a reader sees it rendered: the 2023
// feed's html2text markdown turns Mastodon's broken hashtag "#CVE" + "-2023-
// 4966" into "[#CVE](https://infosec.exchange/tags/CVE)-2023-4966", and
// only the rendered form shows the ID. Scanning both views can only add IDs,
// never lose one.
func scanText(out []ID, s string, maxYear, cut int) []ID {
	out = scan(out, s, maxYear, cut)
	if rendered, ok := stripMarkdownLinkTargets(s); ok {
		if cut >= 0 {
			// The end of s is still the end of rendered: a target is
			// only removed up to its closing ')'.
			cut = len(rendered)
		}
		out = scan(out, rendered, maxYear, cut)
	}
	return out
}

// maxLinkTarget bounds the URL part of a markdown link that
// stripMarkdownLinkTargets removes; longer ones are left alone.
const maxLinkTarget = 4096

// stripMarkdownLinkTargets removes the "](url)" of every markdown link
// "[text](url)", so that "[#CVE](url)-2023-4966" reads "[#CVE-2023-4966",
// and reports whether it removed any.
// A target is "](" followed by up to maxLinkTarget bytes other than white
// space (except '\n': html2text wraps long URLs) and ()[]<>, then ')'.
//
// Linear: a failed target scan stops at the first excluded byte, and since
// ']' is excluded no other "](" lies inside the scanned stretch, so every
// byte is read at most twice (once here, once by strings.Index).
func stripMarkdownLinkTargets(s string) (string, bool) {
	j := strings.Index(s, "](")
	if j < 0 {
		return s, false
	}
	var b strings.Builder
	changed := false
	last := 0 // s[last:] is not yet copied
	for j >= 0 {
		start := j + 1 // index of '('
		end := -1
		for q := start + 1; q < len(s) && q <= start+1+maxLinkTarget; q++ {
			c := s[q]
			if c == ')' {
				end = q + 1
				break
			}
			if c == ' ' || c == '\t' || c == '\r' || c == '(' || c == '[' || c == ']' || c == '<' || c == '>' {
				break
			}
		}
		next := start + 1
		if end >= 0 {
			if !changed {
				b.Grow(len(s))
				changed = true
			}
			b.WriteString(s[last:j]) // drop "](url)", keep "[text"
			last, next = end, end
		}
		k := strings.Index(s[next:], "](")
		if k < 0 {
			break
		}
		j = next + k
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// scan appends to out every CVE ID in s (see Extractor for the rules).
// cut is the index at which s was truncated, or -1; a sequence whose digits
// run up to the cut is dropped because its true length is unknown.
//
// The scan is linear: it looks for the next 'c'/'C', and each attempt to match
// there reads a bounded number of bytes (at most "CVE", two separators of up
// to 3 bytes, 4 year digits and 8 sequence digits) before moving on.
func scan(out []ID, s string, maxYear, cut int) []ID {
	for i := 0; i < len(s); {
		k := strings.IndexAny(s[i:], "cC")
		if k < 0 {
			break
		}
		k += i
		// No match can start inside "cve", so on failure resume after it.
		i = k + 1
		if k+3 > len(s) || s[k+1]|0x20 != 'v' || s[k+2]|0x20 != 'e' {
			continue
		}
		i = k + 3
		if k > 0 && isASCIILetter(s[k-1]) {
			continue // "XCVE-2024-1234", "Lin-s-CVEdb"-style words
		}
		if id, end, ok := matchAt(s, k+3, maxYear, cut); ok {
			out = append(out, id)
			i = end
		}
	}
	return out
}

// matchAt tries to read "[sep]YYYY[sep]NNNN..." at s[p:], just after "CVE".
// It returns the canonical ID and the index just past the sequence.
func matchAt(s string, p, maxYear, cut int) (id ID, end int, ok bool) {
	p = skipSep(s, p)
	if p+4 > len(s) || !allDigits(s[p:p+4]) {
		return "", 0, false
	}
	yearPart := s[p : p+4]
	p = skipSep(s, p+4)
	// Count at most maxSeqDigits+1 digits: one more than allowed already
	// tells us the run is too long, and stopping there keeps the work
	// bounded on a megabyte of digits.
	q := p
	for q < len(s) && q-p <= maxSeqDigits && isDigit(s[q]) {
		q++
	}
	seqPart := s[p:q]
	switch {
	case len(seqPart) < minSeqDigits || len(seqPart) > maxSeqDigits:
		return "", 0, false
	case q == cut:
		return "", 0, false
	case len(seqPart) > minSeqDigits && seqPart[0] == '0':
		return "", 0, false
	}
	if year := atoi(yearPart); year < minYear || year > maxYear {
		return "", 0, false
	}
	return ID("CVE-" + yearPart + "-" + seqPart), q, true
}

// skipSep skips at most one separator at s[p:] and returns the new index.
func skipSep(s string, p int) int {
	if p >= len(s) {
		return p
	}
	switch c := s[p]; {
	case c == '-' || c == '_' || c == ' ':
		return p + 1
	case c < utf8.RuneSelf:
		return p
	}
	r, size := utf8.DecodeRuneInString(s[p:])
	// No-break space (&nbsp;), narrow no-break space (French typography),
	// hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal
	// bar, minus sign, and the fullwidth hyphen-minus of CJK input methods.
	switch r {
	case '\u00a0', '\u202f', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\uff0d':
		return p + size
	}
	return p
}

func isASCIILetter(c byte) bool {
	c |= 0x20
	return 'a' <= c && c <= 'z'
}
