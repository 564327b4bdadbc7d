package fakefedi

import (
	"fmt"
	"testing"
)

func TestDeriveTags(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"mastodon html", `<a href="https://infosec.exchange/tags/CVE_2023_4966" class="mention hashtag">#<span>CVE_2023_4966</span></a>`, []string{"cve_2023_4966"}},
		{"markdown from the 2023 feed", "[#CVE20234966](https://infosec.exchange/tags/CVE20234966)\n[#CVE](https://infosec.exchange/tags/CVE)-2023-4966", []string{"cve20234966", "cve"}},
		{"duplicates and case folded", `https://a.example/tags/KEV https://b.example/tags/kev`, []string{"kev"}},
		{"percent-encoded unicode", `<a href="https://m.example/tags/%E8%84%86%E5%BC%B1%E6%80%A7">#脆弱性</a>`, []string{"脆弱性"}},
		{"bluesky search links are not tags", `<a class="hashtag" href="https://bsky.app/search?q=%23CISA">#CISA</a>`, nil},
		{"deeper /tags/ paths are not hashtags", `https://github.com/x/y/releases/tags/v1.2`, nil},
		{"query and fragment cut off", `https://m.example/tags/rce?x=1 https://m.example/tags/poc#top`, []string{"rce", "poc"}},
		{"plain text hashtag without link", `#NoLink`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deriveTags(tt.content); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("deriveTags = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRubyToI(t *testing.T) {
	tests := map[string]int{
		"": 0, "abc": 0, "12": 12, "-3": -3, "+4": 4, "  9x": 9, "1_000": 1000, "1__0": 1, "_1": 0, "99999999999999999999999": 0,
	}
	for in, want := range tests {
		got := rubyToI(in)
		if in == "99999999999999999999999" {
			if got <= 40 {
				t.Errorf("rubyToI(%q) = %d, want something huge", in, got)
			}
			continue
		}
		if got != want {
			t.Errorf("rubyToI(%q) = %d, want %d", in, got, want)
		}
	}
}
