package sanitize

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// allowed is the whole allow-list of SPEC §6: element → attributes it may keep.
var allowed = map[string]map[string]bool{
	"p":    {},
	"br":   {},
	"span": {"class": true},
	"a":    {"href": true, "rel": true, "target": true, "class": true},
}

// checkSafe parses out as a browser would (as the body of a page) and
// reports everything outside the allow-list: other elements, on* or other
// attributes, hrefs that are not absolute http(s), classes that are not
// Mastodon's, links without rel="nofollow noopener noreferrer".
func checkSafe(out string) error {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(out), body)
	if err != nil {
		return fmt.Errorf("output does not parse: %w", err)
	}
	var problems []string
	var check func(n *html.Node)
	check = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			attrs, ok := allowed[n.Data]
			if !ok || n.Namespace != "" {
				problems = append(problems, fmt.Sprintf("element <%s> (namespace %q)", n.Data, n.Namespace))
			}
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case strings.HasPrefix(key, "on"):
					problems = append(problems, fmt.Sprintf("event handler %s on <%s>", a.Key, n.Data))
				case !attrs[key] || a.Namespace != "":
					problems = append(problems, fmt.Sprintf("attribute %s on <%s>", a.Key, n.Data))
				case key == "href":
					u, err := url.Parse(a.Val)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
						!(strings.HasPrefix(a.Val, "http://") || strings.HasPrefix(a.Val, "https://")) {
						problems = append(problems, fmt.Sprintf("href %q", a.Val))
					}
				case key == "class":
					if !mastodonClasses.MatchString(a.Val) {
						problems = append(problems, fmt.Sprintf("class %q", a.Val))
					}
				case key == "target" && a.Val != "_blank":
					problems = append(problems, fmt.Sprintf("target %q", a.Val))
				}
			}
			if n.Data == "a" {
				rel := ""
				for _, a := range n.Attr {
					if a.Key == "rel" {
						rel = " " + a.Val + " "
					}
				}
				for _, want := range []string{"nofollow", "noopener", "noreferrer"} {
					if !strings.Contains(rel, " "+want+" ") {
						problems = append(problems, fmt.Sprintf("link without rel=%s", want))
					}
				}
			}
		case html.CommentNode, html.DoctypeNode:
			problems = append(problems, "comment or doctype")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			check(c)
		}
	}
	for _, n := range nodes {
		check(n)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func hostileCorpus(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.html"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

// TestHostileCorpus runs every payload of testdata/hostile through the
// sanitiser: nothing outside the allow-list may survive, and sanitising the
// output again changes nothing.
func TestHostileCorpus(t *testing.T) {
	corpus := hostileCorpus(t)
	if len(corpus) < 100 {
		t.Fatalf("the hostile corpus holds %d payloads, want at least 100", len(corpus))
	}
	for name, in := range corpus {
		t.Run(name, func(t *testing.T) {
			out := HTML(in)
			if err := checkSafe(out); err != nil {
				t.Errorf("survived: %v\n in: %q\nout: %q", err, in, out)
			}
			if again := HTML(out); again != out {
				t.Errorf("not idempotent:\nonce:  %q\ntwice: %q", out, again)
			}
			if strings.Contains(strings.ToLower(out), "__pwned") && strings.Contains(out, "<") {
				// The payload's text may remain as text; make sure it is not
				// inside any attribute.
				for _, frag := range []string{`="window`, `=window`, `="javascript`} {
					if strings.Contains(out, frag) {
						t.Errorf("payload in an attribute: %q", out)
					}
				}
			}
		})
	}
}

// TestCheckSafeCatches proves the checker itself rejects what it must, so a
// silent checker cannot pass the corpus.
func TestCheckSafeCatches(t *testing.T) {
	for _, bad := range []string{
		`<img src=x>`, `<p onclick="x">a</p>`, `<a href="javascript:x" rel="nofollow noopener noreferrer">a</a>`,
		`<a href="//evil.example/" rel="nofollow noopener noreferrer">a</a>`, `<a href="https://ok.example/">no rel</a>`,
		`<span class="evil">a</span>`, `<svg></svg>`, `<p style="x">a</p>`, `<!-- c -->`,
		`<a href="jav&#x09;ascript:x" rel="nofollow noopener noreferrer">a</a>`,
	} {
		if checkSafe(bad) == nil {
			t.Errorf("checkSafe accepts %q", bad)
		}
	}
	ok := `<p>CVE-2024-3094 <a href="https://nvd.nist.gov/" rel="nofollow noreferrer noopener" target="_blank"><span class="invisible">https://</span></a><br></p>`
	if err := checkSafe(ok); err != nil {
		t.Errorf("checkSafe rejects Mastodon's own markup: %v", err)
	}
}

// FuzzHTML feeds arbitrary HTML (seeded with the hostile corpus and
// testdata/fuzz/FuzzHTML) and checks the allow-list holds and sanitising is
// idempotent.
func FuzzHTML(f *testing.F) {
	for _, in := range hostileCorpus(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := HTML(in)
		if err := checkSafe(out); err != nil {
			t.Fatalf("survived: %v\n in: %q\nout: %q", err, in, out)
		}
		if again := HTML(out); again != out {
			t.Fatalf("not idempotent:\n in: %q\nonce:  %q\ntwice: %q", in, out, again)
		}
	})
}
