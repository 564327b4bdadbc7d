package cve

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fuzzMaxYear pins the maximum year for the fuzz targets so that a crasher
// found today still reproduces next year.
const fuzzMaxYear = 2027

// refSep is the separator class of the extraction rules, written out
// independently of skipSep.
const refSep = `[-_ \x{00a0}\x{202f}\x{2010}-\x{2015}\x{2212}\x{ff0d}]?`

// refRE is a reference matcher for one candidate position, built from the
// spec's regular expression
//
//	(?<![A-Za-z])CVE[sep]?((?:199|20[0-3])\d)[sep]?(\d{4,7})(?!\d)
//
// RE2 has no look-around, so the look-behind is checked by refExtract and the
// look-ahead by grabbing the whole digit run and checking its length.
var refRE = regexp.MustCompile(`^(?i:cve)` + refSep + `([0-9]{4})` + refSep + `([0-9]+)`)

// refExtract is a slow, obviously correct version of scan used as a test
// oracle: it tries the regular expression at every position. cut has the
// same meaning as for scan.
func refExtract(s string, maxYear, cut int) []ID {
	var out []ID
	for i := 0; i+3 <= len(s); i++ {
		if !strings.EqualFold(s[i:i+3], "cve") {
			continue // cheap pre-filter; the regexp checks the same
		}
		if i > 0 && ('a' <= s[i-1]|0x20 && s[i-1]|0x20 <= 'z') {
			continue
		}
		m := refRE.FindStringSubmatchIndex(s[i:])
		if m == nil {
			continue
		}
		year, seq := s[i+m[2]:i+m[3]], s[i+m[4]:i+m[5]]
		var y int
		fmt.Sscan(year, &y)
		if len(seq) < 4 || len(seq) > 7 || (len(seq) > 4 && seq[0] == '0') ||
			y < 1999 || y > maxYear || i+m[5] == cut {
			continue
		}
		out = append(out, ID("CVE-"+year+"-"+seq))
	}
	return finish(out)
}

// refLinkTarget matches a markdown link target for refStrip.
var refLinkTarget = regexp.MustCompile(`\]\([^ \t\r()\[\]<>]*\)`)

// refStrip is a reference for stripMarkdownLinkTargets.
func refStrip(s string) string {
	return refLinkTarget.ReplaceAllStringFunc(s, func(m string) string {
		if len(m)-len("]()") > maxLinkTarget {
			return m
		}
		return ""
	})
}

// refExtractText is the reference for scanText.
func refExtractText(s string, maxYear, cut int) []ID {
	ids := refExtract(s, maxYear, cut)
	if r := refStrip(s); r != s {
		if cut >= 0 {
			cut = len(r)
		}
		ids = append(ids, refExtract(r, maxYear, cut)...)
	}
	return finish(ids)
}

// scannedText is all the text FromText scans for an input.
func scannedText(in string) string {
	in, _ = capInput(in)
	return in + "\n" + refStrip(in)
}

// scannedHTML is all the text FromHTML scans for an HTML input.
func scannedHTML(in string) string {
	d := extractDoc(in)
	return d.text + "\n" + refStrip(d.text) + "\n" + d.links
}

// checkExtractInvariants checks what must hold for any extraction result:
// every ID is canonical and re-parses to itself, the list is sorted and
// unique, and the ID's digits occur in the text that was scanned (for
// FromText the input itself; for FromHTML the decoded text and hrefs, since
// entities and joined inline elements legitimately build digit runs that
// are not contiguous in the raw markup).
func checkExtractInvariants(t *testing.T, in string, got []ID, scanned string) {
	t.Helper()
	if got != nil && len(got) == 0 {
		t.Errorf("empty non-nil result")
	}
	for i, id := range got {
		back, err := parse(string(id), fuzzMaxYear)
		if err != nil || back != id {
			t.Errorf("result %q does not re-parse to itself: %q, %v", id, back, err)
			continue
		}
		if i > 0 && Compare(got[i-1], id) >= 0 {
			t.Errorf("results not sorted and unique: %q before %q", got[i-1], id)
		}
		// strings.Contains is linear, so check a sample on huge results
		// (hostile inputs give tens of thousands of IDs).
		if len(got) > 100 && i%(len(got)/100) != 0 {
			continue
		}
		year, seq := string(id[4:8]), string(id[9:])
		if !strings.Contains(scanned, year) || !strings.Contains(scanned, seq) {
			t.Errorf("digits of %q do not occur in the scanned text %.200q (input %.200q)", id, scanned, in)
		}
	}
}

func FuzzFromHTML(f *testing.F) {
	// More seeds, from real posts and hostile markup, are committed under
	// testdata/fuzz/FuzzFromHTML.
	for _, tc := range textCases {
		f.Add(tc.in)
	}
	f.Add(mastodonLink)
	f.Fuzz(func(t *testing.T, in string) {
		// Large inputs make each run (and especially the fuzzer's
		// minimisation, which re-runs the input thousands of times) slow
		// without reaching new code; TestHostileInputs and the benchmarks
		// cover megabyte inputs and the MaxInputBytes cut. 4 KiB holds a
		// typical post (Mastodon allows 500 characters) and every seed.
		if len(in) > 4<<10 {
			return
		}
		e := Extractor{MaxYear: fuzzMaxYear}

		gotHTML := e.FromHTML(in)
		d := extractDoc(in)
		checkExtractInvariants(t, in, gotHTML, scannedHTML(in))
		// Differential check of the scanner on what the tokenizer produced.
		want := finish(append(refExtractText(d.text, fuzzMaxYear, d.cut), refExtract(d.links, fuzzMaxYear, -1)...))
		if !slices.Equal(gotHTML, want) {
			t.Errorf("FromHTML(%q) = %q; reference %q", in, gotHTML, want)
		}

		capped, cut := capInput(in)
		gotText := e.FromText(in)
		checkExtractInvariants(t, in, gotText, scannedText(in))
		if want := refExtractText(capped, fuzzMaxYear, cut); !slices.Equal(gotText, want) {
			t.Errorf("FromText(%q) = %q; reference %q", in, gotText, want)
		}

		// Without markup or entities, HTML is just text.
		if !strings.ContainsAny(in, "<&") && !slices.Equal(gotHTML, gotText) {
			t.Errorf("markup-free input %q: FromHTML = %q but FromText = %q", in, gotHTML, gotText)
		}

		// Hashtag names are scanned one by one; splitting the input on
		// spaces must not find anything FromText would not.
		gotTags := e.FromPost("", strings.Fields(in))
		for _, id := range gotTags {
			if _, ok := slices.BinarySearchFunc(gotText, id, Compare); !ok && len(in) <= MaxInputBytes {
				t.Errorf("tag names %q gave %q, which FromText(%q) = %q lacks", strings.Fields(in), id, in, gotText)
			}
		}

		if txt := HTMLToText(in); strings.HasPrefix(txt, "\n") || strings.HasSuffix(txt, "\n") {
			t.Errorf("HTMLToText(%q) = %q is not trimmed", in, txt)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"CVE-2024-3094", "cve-2024-0123", " CVE-1999-0001\n", "CVE-2024-01234",
		"CVE-1998-1234", "CVE-2024-1234' OR 1=1", "../etc/passwd", "CVE-2024-12345678",
		"CVE_2024_3094", "CVE\u20132024\u20133094", "\u00a0CVE-2027-1234567\u2028",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parse(s, fuzzMaxYear)
		if err != nil {
			if id != "" {
				t.Errorf("parse(%q) = %q with error %v", s, id, err)
			}
			if len(err.Error()) > 256 {
				t.Errorf("parse(%q): error of %d bytes", s, len(err.Error()))
			}
			return
		}
		if back, err := parse(string(id), fuzzMaxYear); err != nil || back != id {
			t.Errorf("parse(%q) = %q, which re-parses to %q, %v", s, id, back, err)
		}
		if y := id.Year(); y < minYear || y > fuzzMaxYear {
			t.Errorf("parse(%q) = %q with year %d", s, id, y)
		}
		if canon := fmt.Sprintf("CVE-%04d-%04d", id.Year(), id.Seq()); canon != string(id) {
			t.Errorf("parse(%q) = %q, not canonical (parts give %q)", s, id, canon)
		}
		if Compare(id, id) != 0 {
			t.Errorf("Compare(%q, itself) != 0", id)
		}
		// Whatever the strict parser accepts, the lenient extractor finds.
		if got := (Extractor{MaxYear: fuzzMaxYear}).FromText(s); !slices.Equal(got, []ID{id}) {
			t.Errorf("parse(%q) = %q but FromText finds %q", s, id, got)
		}
	})
}
