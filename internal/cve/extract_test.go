package cve

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// testExtractor fixes the maximum year so the tables do not depend on the
// clock.
var testExtractor = Extractor{MaxYear: 2027}

// ids is shorthand for a want list.
func ids(s ...string) []ID {
	if len(s) == 0 {
		return nil
	}
	out := make([]ID, len(s))
	for i, v := range s {
		out[i] = ID(v)
	}
	return out
}

type extractCase struct {
	name string
	in   string
	want []ID
}

func runExtractCases(t *testing.T, f func(string) []ID, tests []extractCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := f(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("input %q\n got %q\nwant %q", tc.in, got, tc.want)
			}
			// "None" is always nil, never an empty non-nil slice.
			if len(got) == 0 && got != nil {
				t.Errorf("got an empty non-nil slice; want nil")
			}
		})
	}
}

// textCases hold inputs without any HTML syntax, so they must give the same
// result through FromText and FromHTML.
var textCases = []extractCase{
	// Separators.
	{"canonical", "see CVE-2024-3094 now", ids("CVE-2024-3094")},
	{"lower case", "see cve-2024-3094", ids("CVE-2024-3094")},
	{"mixed case", "see cVe-2024-3094", ids("CVE-2024-3094")},
	{"U+2010 hyphen", "CVE\u20102024\u20103094", ids("CVE-2024-3094")},
	{"U+2011 non-breaking hyphen", "CVE\u20112024\u20113094", ids("CVE-2024-3094")},
	{"U+2012 figure dash", "CVE\u20122024\u20123094", ids("CVE-2024-3094")},
	{"U+2013 en dash", "CVE–2024–3094", ids("CVE-2024-3094")},
	{"U+2014 em dash", "CVE—2024—3094", ids("CVE-2024-3094")},
	{"U+2015 horizontal bar", "CVE\u20152024\u20153094", ids("CVE-2024-3094")},
	{"U+2212 minus sign", "CVE−2024−3094", ids("CVE-2024-3094")},
	{"U+FF0D fullwidth hyphen", "CVE－2024－3094", ids("CVE-2024-3094")},
	{"space", "CVE 2024 3094", ids("CVE-2024-3094")},
	{"space then hyphen", "CVE 2024-3094", ids("CVE-2024-3094")},
	{"NBSP", "CVE\u00a02024-3094", ids("CVE-2024-3094")},
	{"narrow NBSP", "CVE\u202f2024\u202f3094", ids("CVE-2024-3094")},
	{"mixed dashes", "CVE–2024-3094", ids("CVE-2024-3094")},
	{"underscores", "#cve_2024_3094", ids("CVE-2024-3094")},
	{"no separators", "#CVE20243094", ids("CVE-2024-3094")},
	{"no separators 5 digits", "#CVE202320198", ids("CVE-2023-20198")},
	{"no separator then underscore", "#CVE2024_1234", ids("CVE-2024-1234")},
	{"underscore then none", "#CVE_20241234", ids("CVE-2024-1234")},
	{"hashtag 4-digit glued to year", "#CVE20211435", ids("CVE-2021-1435")},

	// URLs.
	{"NVD URL", "https://nvd.nist.gov/vuln/detail/CVE-2024-3094", ids("CVE-2024-3094")},
	{"lower-case slug with two IDs", "https://www.gizmodo.jp/2025/02/apple-ios-cve-2024-53104-cve-2025-24200.html", ids("CVE-2024-53104", "CVE-2025-24200")},
	{"slug with underscores", "https://example.com/cve_alert_cve-2025-26465/", ids("CVE-2025-26465")},
	{"URL-encoded, digit before CVE", "query?gnql=tags%3A%22Citrix%20ADC%20Netscaler%20CVE-2023-4966%20Information%22", ids("CVE-2023-4966")},
	{"CVE_POC directory", "github.com/x/CVE_POC/CVE-2024-1234/poc.py", ids("CVE-2024-1234")},

	// Glued to punctuation and emoji.
	{"emoji before, colon after", "🚨CVE-2024-3094: backdoor", ids("CVE-2024-3094")},
	{"emoji and space", "🆔 CVE-2025-0893", ids("CVE-2025-0893")},
	{"parentheses", "(CVE-2024-3094)", ids("CVE-2024-3094")},
	{"slash pair", "CVE-2022-24086/CVE-2022-24087", ids("CVE-2022-24086", "CVE-2022-24087")},
	{"double parentheses", "(XSS)(CVE-2024-28776)", ids("CVE-2024-28776")},
	{"spaced parentheses list", "( CVE-2025-41225, CVE-2025-41226 )", ids("CVE-2025-41225", "CVE-2025-41226")},
	{"leading hyphen and colons", "-CISA: CVE-2025-20281: Cisco", ids("CVE-2025-20281")},
	{"comma", "CVE-2025-4632, CVE-2025-4633,", ids("CVE-2025-4632", "CVE-2025-4633")},
	{"digits before CVE", "123CVE-2024-1234", ids("CVE-2024-1234")},
	{"two glued IDs", "CVE-2024-1234CVE-2024-5678", ids("CVE-2024-1234", "CVE-2024-5678")},
	{"ideographs before", "脆弱性CVE-2024-3094を修正", ids("CVE-2024-3094")},
	{"letters after", "CVE-2011-4461-JETTY", ids("CVE-2011-4461")},
	{"letters glued after", "CVE-2024-3094is bad", ids("CVE-2024-3094")},
	{"hyphen digits after", "CVE-2024-1234-5678", ids("CVE-2024-1234")},

	// Validity bounds.
	{"4-digit sequence with leading zero", "CVE-2024-0123", ids("CVE-2024-0123")},
	{"7-digit sequence", "CVE-2024-1234567", ids("CVE-2024-1234567")},
	{"first year", "CVE-1999-0001", ids("CVE-1999-0001")},
	{"max year", "CVE-2027-0001", ids("CVE-2027-0001")},
	{"year after max", "CVE-2028-0001", nil},
	{"year before 1999", "CVE-1998-0001", nil},
	{"5 digits with leading zero", "CVE-2024-01234", nil},
	{"3-digit sequence", "CVE-2024-123", nil},
	{"8-digit sequence", "CVE-2024-12345678", nil},
	{"12-digit sequence is not truncated", "CVE-2024-123456789012", nil},
	{"5-digit year", "CVE-20245-1234", nil},
	{"glued 8-digit sequence", "#CVE202412345678", nil},

	// Look-alikes.
	{"NONE", "CVE-2017-NONE", nil},
	{"GHSA", "GHSA-9952-gv64-x94c", nil},
	{"VMSA", "VMSA-2025-0010", nil},
	{"SNWLID", "SNWLID-2025-0014", nil},
	{"AWS bulletin", "AWS-2025-010", nil},
	{"Tenable TRA", "tra-2025-24", nil},
	{"CVSS vector", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", nil},
	{"CVEdb repo", "https://github.com/Lin-s-CVEdb/vuln/blob/main/2025/05/05/README.md", nil},
	{"CVE repo path", "https://github.com/Kriswu1337/CVE/blob/main/2025-8242.md", nil},
	{"date", "published 2025/05/05 and 2025-05-05", nil},
	{"letter before", "XCVE-2024-1234", nil},
	{"CVECVE", "CVECVE-2024-1234", nil},
	{"two separators", "CVE--2024-1234", nil},
	{"spaced hyphens", "CVE - 2024 - 1234", nil},
	{"newline is not a separator", "CVE\n2024-1234", nil},
	{"tab is not a separator", "CVE-2024\t1234", nil},
	{"bare CVE", "CVE CVE- cve_ CVE-2", nil},
	{"empty", "", nil},

	// De-duplication and order.
	{"dedup across spellings", "CVE-2024-3094 #cve20243094 cve_2024_3094 CVE–2024–3094", ids("CVE-2024-3094")},
	{"numeric order", "CVE-2024-10000 CVE-2024-9999 CVE-2023-1234 CVE-2024-0999", ids("CVE-2023-1234", "CVE-2024-0999", "CVE-2024-9999", "CVE-2024-10000")},
}

func TestFromText(t *testing.T) {
	runExtractCases(t, testExtractor.FromText, textCases)
	runExtractCases(t, testExtractor.FromText, []extractCase{
		// FromText does not interpret markup or entities.
		{"entity not decoded", "CVE&#8209;2024&#8209;3094", nil},
		{"tags are text", "<b>X</b>CVE-2024-3094", ids("CVE-2024-3094")},
	})
}

// mastodonLink is how Mastodon renders a long link (real markup from the
// corpus, post 114048277041367810).
const mastodonLink = `<a href="https://nvd.nist.gov/vuln/detail/CVE-2025-1538" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/CVE-2</span><span class="invisible">025-1538</span></a>`

func TestFromHTML(t *testing.T) {
	// Every plain-text case must behave the same inside HTML.
	runExtractCases(t, testExtractor.FromHTML, textCases)
	runExtractCases(t, testExtractor.FromHTML, []extractCase{
		{"Mastodon ellipsis link", "<p>forever-days: " + mastodonLink + "</p>", ids("CVE-2025-1538")},
		{"ellipsis spans without href", `<p><a href="https://example.com/"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/CVE-2</span><span class="invisible">025-1539</span></a></p>`, ids("CVE-2025-1539")},
		{"href only", `<p>see <a href="https://nvd.nist.gov/vuln/detail/CVE-2024-3094">NVD</a></p>`, ids("CVE-2024-3094")},
		{"href with entity", `<a href="https://x.example/?a=1&amp;id=CVE-2024-3094">x</a>`, ids("CVE-2024-3094")},
		{"single-quoted href", `<a href='https://x.example/CVE-2024-3094'>x</a>`, ids("CVE-2024-3094")},
		{"upper-case tag and attribute", `<A HREF="https://x.example/CVE-2024-3094">x</A>`, ids("CVE-2024-3094")},
		{"broken hashtag", `<p><a href="https://infosec.exchange/tags/CVE" class="mention hashtag" rel="tag">#<span>CVE</span></a>-2023-4966 is Citrix Bleed</p>`, ids("CVE-2023-4966")},
		{"hashtag link", `<a href="https://infosec.exchange/tags/CVE20211435" class="mention hashtag" rel="tag">#<span>CVE20211435</span></a>`, ids("CVE-2021-1435")},
		{"slug split over spans", `<a href="https://www.gizmodo.jp/2025/02/x.html"><span class="invisible">https://www.</span><span class="ellipsis">gizmodo.jp/2025/02/apple-ios-cve-2024-53</span><span class="invisible">104-cve-2025-24200.html</span></a>`, ids("CVE-2024-53104", "CVE-2025-24200")},
		{"ID split over spans", `<span>CVE</span><span>-2024</span><b>-3094</b>`, ids("CVE-2024-3094")},
		{"Bluesky raw newlines in p", "<p>KEV adds:\nCVE-2024-12987\nCVE-2025-4664\nCVE-2025-42999</p>", ids("CVE-2024-12987", "CVE-2025-4664", "CVE-2025-42999")},
		{"blockquote list with br", "<blockquote><p>CVE-2023-38950: ZKTeco<br>CVE-2024-27443: Synacor<br />CVE-2025-4427: Ivanti</p></blockquote>", ids("CVE-2023-38950", "CVE-2024-27443", "CVE-2025-4427")},

		// Entities are decoded before matching.
		{"entity non-breaking hyphen", "CVE&#8209;2024&#8209;3094", ids("CVE-2024-3094")},
		{"entity nbsp", "CVE&nbsp;2024-3094", ids("CVE-2024-3094")},
		{"entity en dash", "CVE&ndash;2024&#x2013;3094", ids("CVE-2024-3094")},
		{"entity minus", "CVE&minus;2024&minus;3094", ids("CVE-2024-3094")},
		{"entity-encoded letters", "&#67;&#86;&#69;-2024-3094", ids("CVE-2024-3094")},
		{"entity letter before blocks", "&#88;CVE-2024-3094", nil},

		// Block elements separate; inline elements join.
		{"ID broken by paragraphs", "<p>CVE-2024-</p><p>3094</p>", nil},
		{"ID broken by br", "CVE-2024<br>-3094", nil},
		{"digit after br does not extend", "CVE-2024-3094<br>5", ids("CVE-2024-3094")},
		{"digit after div does not extend", "<div>CVE-2024-3094</div><div>5</div>", ids("CVE-2024-3094")},
		{"letter before paragraph does not block", "<p>X</p><p>CVE-2024-3094</p>", ids("CVE-2024-3094")},
		{"inline letter before blocks", "<b>X</b>CVE-2024-3094", nil},
		{"inline digit after extends", "CVE-2024-3094<span>5</span>", ids("CVE-2024-30945")},
		{"table cells", "<table><tr><td>CVE-2024-</td><td>3094</td></tr></table>", nil},

		// Markdown (the 2023 feed stored html2text output).
		{"markdown hashtag link", "[#CVE202346604](https://infosec.exchange/tags/CVE202346604)", ids("CVE-2023-46604")},
		{"markdown autolink", "  \n<https://nvd.nist.gov/vuln/detail/CVE-2023-4966>\n\n", ids("CVE-2023-4966")},
		{"angle-bracketed ID", "see <CVE-2024-3094> and <cve_2024_1234>", ids("CVE-2024-1234", "CVE-2024-3094")},
		{"markdown broken hashtag", "[#CVE](https://infosec.exchange/tags/CVE)-2023-4966", ids("CVE-2023-4966")},

		// Things that are not post text.
		{"comment", "<!-- CVE-2024-3094 -->", nil},
		{"doctype", "<!DOCTYPE CVE-2024-3094>", nil},
		{"other attributes", `<img alt="CVE-2024-3094" src="CVE-2024-1234.png"><span title="CVE-2024-5678"></span>`, nil},

		// Malformed markup.
		{"unterminated tag at EOF", `<p>text <a href="https://x.example/CVE-2024-3094`, nil},
		{"unclosed elements", "<p><b><i><span>CVE-2024-3094", ids("CVE-2024-3094")},
		{"stray end tags", "</p></div>CVE-2024-3094</a></span>", ids("CVE-2024-3094")},
		{"lone angle brackets", "a < b > c <CVE-2024-3094 <<>> 1<2", ids("CVE-2024-3094")},
		{"script text kept", "<script>CVE-2024-3094</script>", ids("CVE-2024-3094")},
		{"NUL bytes", "CVE-2024-3094\x00CVE\x002024-1234", ids("CVE-2024-3094")},
		{"invalid UTF-8", "\xff\xfeCVE-2024-3094\xc3", ids("CVE-2024-3094")},
		{"truncated rune as separator", "CVE\xe2\x802024-3094", nil},
	})
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"Mastodon ellipsis link", "<p>see " + mastodonLink + "</p>", "see https://nvd.nist.gov/vuln/detail/CVE-2025-1538"},
		{"paragraphs and br", "<p>a</p><p>b<br>c<br/>d</p>", "a\nb\nc\nd"},
		{"headings and lists", "<h1>T</h1><ul><li>x</li><li>y</li></ul>z", "T\nx\ny\nz"},
		{"entities", "&lt;b&gt; &amp; &#39;q&#39; &quot;Q&quot; &nbsp;x", "<b> & 'q' \"Q\" \u00a0x"},
		{"raw newline kept", "<p>a\nb</p>", "a\nb"},
		{"CRLF normalised", "a\r\nb", "a\nb"},
		{"inline joined", "<b>a</b><i>b</i><span>c</span>", "abc"},
		{"comment dropped", "a<!-- x -->b", "ab"},
		{"plain text", "just text", "just text"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := HTMLToText(tc.in); got != tc.want {
				t.Errorf("HTMLToText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFromPostTags(t *testing.T) {
	tests := []struct {
		name    string
		content string
		tags    []string
		want    []ID
	}{
		{"IDs only in tag names", "<p>patch now</p>", []string{"infosec", "cve20243094", "CVE_2024_3094", "cve2024_1234"}, ids("CVE-2024-1234", "CVE-2024-3094")},
		{"union with content", "<p>CVE-2025-1538</p>", []string{"cve20243094"}, ids("CVE-2024-3094", "CVE-2025-1538")},
		{"tag names do not join", "", []string{"cve2024", "3094"}, nil},
		{"bare CVE tag", "", []string{"cve", "CVE"}, nil},
		{"no tags", "", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := testExtractor.FromPost(tc.content, tc.tags)
			if !slices.Equal(got, tc.want) {
				t.Errorf("FromPost(%q, %q) = %q; want %q", tc.content, tc.tags, got, tc.want)
			}
		})
	}
}

func TestPackageFromPost(t *testing.T) {
	// The package-level function uses next year as the maximum: a current
	// ID is found, one from two years ahead is not.
	got := FromPost("<p>CVE-2024-3094 CVE-2999-1234</p>", []string{"cve20211435"})
	if want := ids("CVE-2021-1435", "CVE-2024-3094"); !slices.Equal(got, want) {
		t.Errorf("FromPost = %q; want %q", got, want)
	}
}

func TestInputCap(t *testing.T) {
	const id = "CVE-2024-1234"
	pad := func(n int) string { return strings.Repeat(" ", n) }
	tests := []struct {
		name string
		in   string
		want []ID
	}{
		{"ID well inside", pad(1000) + id + pad(MaxInputBytes), ids(id)},
		{"ID ends just before the cut", pad(MaxInputBytes-len(id)-1) + id + pad(10), ids(id)},
		// The digits reach the cut: the sequence might continue ("12345")
		// so it is dropped rather than reported wrong.
		{"ID straddles the cut", pad(MaxInputBytes-len(id)) + id + "5", nil},
		{"ID after the cut", pad(MaxInputBytes) + id, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := testExtractor.FromText(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("FromText = %q; want %q", got, tc.want)
			}
			if got := testExtractor.FromHTML(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("FromHTML = %q; want %q", got, tc.want)
			}
		})
	}
	t.Run("HTML: link after the cut", func(t *testing.T) {
		in := strings.Repeat("<p>x</p>", MaxInputBytes/8) + `<a href="https://x.example/CVE-2024-1234">x</a>`
		if got := testExtractor.FromHTML(in); got != nil {
			t.Errorf("FromHTML = %q; want nil", got)
		}
		if got := HTMLToText(in); len(got) > MaxInputBytes {
			t.Errorf("HTMLToText returned %d bytes; want at most %d", len(got), MaxInputBytes)
		}
	})
	t.Run("tag names budget", func(t *testing.T) {
		big := strings.Repeat("x", MaxInputBytes-5)
		got := testExtractor.FromPost("", []string{"cve20243094", big, "cve20241234"})
		if want := ids("CVE-2024-3094"); !slices.Equal(got, want) {
			t.Errorf("FromPost = %q; want %q", got, want)
		}
	})
}

// hostileInputs are inputs of about 1 MiB or more built to hit worst cases:
// long runs that almost match, deep nesting, huge attributes and unfinished
// markup. They are shared with the benchmarks.
func hostileInputs() map[string]string {
	const n = MaxInputBytes
	rep := func(s string) string { return strings.Repeat(s, n/len(s)+1) }
	return map[string]string{
		"near-miss prefixes": rep("CVE-2024-"),
		"cve letters":        rep("cVe"),
		"digits after CVE":   "CVE-2024-" + rep("1"),
		"many real IDs":      rep("CVE-2024-3094 "),
		"many distinct IDs":  manyDistinctIDs(n),
		"nested spans":       rep("<span>") + "CVE-2024-3094",
		"nested blocks":      rep("<div><p>") + "CVE-2024-3094",
		"open angle":         rep("<"),
		"unfinished tags":    rep("<a href=\"x"),
		"huge href":          `<a href="` + rep("CVE-2024-3094/") + `">x</a>`,
		"many attributes":    "<a " + rep(`href="CVE-2024-3094" `) + ">",
		"entities":           rep("&#x2013;&nbsp;&amp"),
		"comments":           rep("<!--") + "CVE-2024-3094",
		"unknown tags":       rep("<https://x/CVE-2024-3094>"),
		"plaintext element":  "<plaintext>" + rep("CVE-2024-3094 <p>"),
		"invalid UTF-8":      rep("\xff\xe2\x80CVE\xe2\x80"),
		"NUL":                rep("\x00CVE\x00"),
		"beyond the cap":     rep("x") + rep("CVE-2024-3094 "),
	}
}

func manyDistinctIDs(n int) string {
	var b strings.Builder
	for seq := 1000; b.Len() < n; seq++ {
		b.WriteString("CVE-2024-")
		b.WriteString(strconv.Itoa(seq))
		b.WriteByte(' ')
	}
	return b.String()
}

func TestHostileInputs(t *testing.T) {
	for name, in := range hostileInputs() {
		t.Run(name, func(t *testing.T) {
			// No panic, and the invariants hold; the test timeout catches
			// any super-linear blow-up (the benchmarks measure the time).
			checkExtractInvariants(t, in, testExtractor.FromHTML(in), scannedHTML(in))
			checkExtractInvariants(t, in, testExtractor.FromText(in), scannedText(in))
			_ = HTMLToText(in)
		})
	}
}
