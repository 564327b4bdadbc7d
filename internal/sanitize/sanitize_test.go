package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHTML(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // exact output
	}{
		{"mastodon link", `<p>See <a href="https://nvd.nist.gov/vuln/detail/CVE-2024-3094" rel="nofollow noopener" translate="no" target="_blank"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/CVE-2</span><span class="invisible">024-3094</span></a></p>`,
			`<p>See <a href="https://nvd.nist.gov/vuln/detail/CVE-2024-3094" rel="nofollow noreferrer noopener" target="_blank"><span class="invisible">https://</span><span class="ellipsis">nvd.nist.gov/vuln/detail/CVE-2</span><span class="invisible">024-3094</span></a></p>`},
		{"script dropped", `<p>hi<script>alert(1)</script></p>`, `<p>hi</p>`},
		{"event handler dropped", `<p onclick="alert(1)">x</p><img src=x onerror=alert(1)>`, `<p>x</p>`},
		{"javascript url dropped", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"data url dropped", `<a href="data:text/html,<script>alert(1)</script>">x</a>`, `x`},
		{"foreign class dropped", `<span class="evil">x</span>`, `<span>x</span>`},
		{"style dropped", `<p style="background:url(javascript:alert(1))">x</p>`, `<p>x</p>`},
		{"svg dropped", `<svg onload=alert(1)><circle/></svg>ok`, `ok`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTML(tt.in); got != tt.want {
				t.Errorf("HTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHTMLHugeInput(t *testing.T) {
	got := HTML(strings.Repeat("<p>a</p>", 1<<20))
	if len(got) > MaxInput+16 {
		t.Fatalf("output of %d bytes, want at most about %d", len(got), MaxInput)
	}
}

// TestHTMLCutKeepsUTF8: input cut at MaxInput must stay valid UTF-8, which
// PostgreSQL requires of every stored text.
func TestHTMLCutKeepsUTF8(t *testing.T) {
	in := "<p>" + strings.Repeat("a", MaxInput-4) + "é tail</p>"
	if out := HTML(in); !utf8.ValidString(out) {
		t.Fatalf("output of %d bytes is not valid UTF-8", len(out))
	}
}
