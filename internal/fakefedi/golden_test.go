package fakefedi_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

var update = flag.Bool("update", false, "rewrite testdata/fakefedi golden files")

// TestCorpusTagsGolden pins the hashtag names derived from the corpus, so a
// change of the corpus or of the derivation shows up as a readable diff.
// Regenerate with: go test ./internal/fakefedi/ -run Golden -update
func TestCorpusTagsGolden(t *testing.T) {
	const golden = "../../testdata/fakefedi/corpus-tags.txt"
	srv, _ := newServer(t, fakefedi.Options{})
	got := strings.Join(srv.Tags(), "\n") + "\n"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("derived tags differ from %s (run with -update to accept):\ngot:\n%s", golden, got)
	}
}
