// Package cve parses CVE identifiers and extracts them from Fediverse post text and HTML.
//
// There are two entry points with deliberately different strictness:
//
//   - [Parse] is strict and meant for API input (a path segment, a query
//     parameter): only "CVE-YYYY-NNNN" with ASCII hyphens, in any case,
//     surrounded by optional white space.
//   - [Extractor] (and the package-level [FromPost]) is lenient and meant for
//     what people actually post: hashtags such as #CVE20243094 or
//     #cve_2024_3094, Unicode dashes, IDs inside link URLs and URL slugs,
//     IDs glued to punctuation or emoji, and Mastodon's split link rendering
//     (<span class="ellipsis">…CVE-2</span><span class="invisible">025-1538</span>).
//
// Both produce the same canonical [ID] ("CVE-2024-3094") and apply the same
// validity rules: a year from 1999 (the first CVE year) to a maximum year, and
// a sequence of 4 to 7 digits in which only a 4-digit sequence may start with
// a zero (CVE's own ID syntax since 2014: "CVE-2014-0001" is valid,
// "CVE-2014-00001" is not).
//
// Post content is untrusted. Extraction runs in time linear in the input,
// never panics, and looks only at the first [MaxInputBytes] bytes of any
// single input string; see [Extractor] for the details of that cap.
package cve

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ID is a CVE identifier in canonical form: upper-case "CVE", the four-digit
// year and the sequence number, separated by ASCII hyphens, e.g.
// "CVE-2024-3094". Values produced by [Parse] and by the extraction functions
// are always canonical; a hand-made ID that is not canonical reports 0 from
// [ID.Year] and [ID.Seq].
type ID string

const (
	// minYear is the first year of the CVE list (CVE-1999-0001 onwards).
	minYear = 1999
	// minSeqDigits and maxSeqDigits bound the sequence number. CVE IDs have
	// allowed arbitrarily long sequences since 2014, but real ones have never
	// gone beyond 7 digits (CNAs allocate in blocks well under 10 million per
	// year). Capping at 7 keeps random digit runs such as phone numbers or
	// order numbers glued to a CVE prefix from being accepted.
	minSeqDigits = 4
	maxSeqDigits = 7
	// maxIDLen is the length of the longest canonical ID, "CVE-YYYY-NNNNNNN".
	maxIDLen = len("CVE-YYYY-") + maxSeqDigits
)

// defaultMaxYear is the latest acceptable year when none is configured:
// next year, because CNAs reserve and publish IDs for the coming year in the
// last weeks of December.
func defaultMaxYear() int { return time.Now().Year() + 1 }

// Parse parses a CVE ID given as API input and returns it in canonical form.
//
// It is strict on purpose, unlike [Extractor]: surrounding white space is
// trimmed and "cve" may be in any case, but the separators must be ASCII
// hyphens and nothing else may surround the ID. The year must lie between
// 1999 and next year (by the local clock), the sequence must have 4 to 7
// digits, and a sequence longer than 4 digits must not start with a zero.
//
// Error messages quote the input (shortened if it is long) so that they can be
// returned to an API client as they are.
func Parse(s string) (ID, error) {
	return parse(s, defaultMaxYear())
}

// parse is [Parse] with an explicit maximum year, so tests do not depend on
// the clock.
func parse(s string, maxYear int) (ID, error) {
	t := strings.TrimSpace(s)
	// Reject over-long input before looking at it any further, so a
	// multi-megabyte query parameter costs nothing and is not echoed back.
	if len(t) < len("CVE-YYYY-NNNN") || len(t) > maxIDLen ||
		!strings.EqualFold(t[:4], "CVE-") || t[8] != '-' {
		return "", malformed(s)
	}
	yearPart, seqPart := t[4:8], t[9:]
	if !allDigits(yearPart) || !allDigits(seqPart) {
		return "", malformed(s)
	}
	year := atoi(yearPart)
	if year < minYear || year > maxYear {
		return "", fmt.Errorf("CVE ID %s: year %d out of range %d-%d", quote(s), year, minYear, maxYear)
	}
	if len(seqPart) > minSeqDigits && seqPart[0] == '0' {
		return "", fmt.Errorf("CVE ID %s: sequence has a leading zero (only a 4-digit sequence may start with 0)", quote(s))
	}
	return ID("CVE-" + yearPart + "-" + seqPart), nil
}

// malformed is the error for input that does not have the CVE-YYYY-NNNN shape.
func malformed(s string) error {
	return fmt.Errorf("malformed CVE ID %s: want CVE-YYYY-NNNN", quote(s))
}

// quote formats untrusted input for an error message: Go-quoted so control
// characters and invalid UTF-8 are visible, and shortened so an attacker
// cannot make us build (or log) huge messages.
func quote(s string) string {
	// 32 input bytes quote to at most 130 characters (\xNN per byte), so
	// an error message stays under 256 bytes.
	const max = 32
	if len(s) <= max {
		return strconv.Quote(s)
	}
	// Cutting inside a multi-byte rune is harmless: strconv.Quote escapes
	// the partial rune as \x.. bytes.
	return strconv.Quote(s[:max]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// String returns the ID as a string; it implements [fmt.Stringer].
func (id ID) String() string { return string(id) }

// Year returns the year part of a canonical ID, or 0 if id is not canonical.
func (id ID) Year() int {
	year, _, ok := id.split()
	if !ok {
		return 0
	}
	return year
}

// Seq returns the sequence number of a canonical ID (3094 for
// CVE-2024-3094), or 0 if id is not canonical.
func (id ID) Seq() int {
	_, seq, ok := id.split()
	if !ok {
		return 0
	}
	return seq
}

// split returns the numeric parts of a canonical ID. It checks the shape and
// the leading-zero rule, not the year range, so IDs built with a later maximum year still
// report their parts.
func (id ID) split() (year, seq int, ok bool) {
	s := string(id)
	if len(s) < len("CVE-YYYY-NNNN") || len(s) > maxIDLen || s[:4] != "CVE-" || s[8] != '-' ||
		!allDigits(s[4:8]) || !allDigits(s[9:]) ||
		// With a leading zero, "CVE-2024-01234" would alias CVE-2024-1234.
		(len(s) > len("CVE-YYYY-NNNN") && s[9] == '0') {
		return 0, 0, false
	}
	return atoi(s[4:8]), atoi(s[9:]), true
}

// Compare orders IDs by year, then by sequence number numerically, so that
// CVE-2024-9999 sorts before CVE-2024-10000 (a plain string comparison gets
// this wrong). It returns -1, 0 or +1 like [strings.Compare] and can be passed
// to [slices.SortFunc]. Non-canonical values sort before canonical ones and
// among themselves by string, so the order is total for any input.
func Compare(a, b ID) int {
	ay, as, aok := a.split()
	by, bs, bok := b.split()
	switch {
	case aok != bok:
		if !aok {
			return -1
		}
		return 1
	case !aok:
		return strings.Compare(string(a), string(b))
	case ay != by:
		return cmpInt(ay, by)
	case as != bs:
		return cmpInt(as, bs)
	}
	// Same numbers, so same canonical string (no leading zeros beyond the
	// fixed 4-digit form); compare strings anyway to stay consistent with ==.
	return strings.Compare(string(a), string(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atoi converts a short run of ASCII digits (checked by the caller, at most 7
// so it cannot overflow) without strconv's error path.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
