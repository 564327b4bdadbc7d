package mastodon

import (
	"encoding/json"
	"testing"
)

// TestFlexStringMatchesEncodingJSON: the unescaped fast path decodes
// exactly as encoding/json does.
func TestFlexStringMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`"plain"`, `""`, `"https://infosec.exchange/@a/1"`, `"caf\u00e9"`, `"tab\there"`, `"quote \" in"`,
		`"ünïcødé 🚨CVE-2024-3094"`, "\"bad \xff utf8\"", `null`, `42`, `{"a":1}`, `["x"]`,
	} {
		var want string
		if json.Unmarshal([]byte(in), &want) != nil {
			want = ""
		}
		var w struct {
			F flexString `json:"f"`
		}
		if err := json.Unmarshal([]byte(`{"f":`+in+`}`), &w); err != nil {
			if json.Valid([]byte(in)) {
				t.Errorf("%q: %v", in, err)
			}
			continue
		}
		if string(w.F) != want {
			t.Errorf("%q decoded to %q, want %q", in, w.F, want)
		}
	}
}
