// Command gentree writes a cvelistV5-shaped tree of N copies of the real CVE
// records in testdata/enrich/cve5, each under a fresh CVE ID, for the import
// benchmark (bench/import-cvelist.sh).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	src := flag.String("src", "testdata/enrich/cve5", "directory of real CVE JSON 5 records")
	out := flag.String("out", "bench/out/tree", "where to write the tree")
	n := flag.Int("n", 50000, "records to write")
	flag.Parse()
	files, err := filepath.Glob(filepath.Join(*src, "CVE-*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("gentree: no records in %s", *src)
	}
	type rec struct {
		id   string
		data []byte
	}
	var recs []rec
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		recs = append(recs, rec{strings.TrimSuffix(filepath.Base(f), ".json"), b})
	}
	for i := range *n {
		r := recs[i%len(recs)]
		year := r.id[4:8]
		// Sequences of 7 digits without a leading zero: valid, never real.
		id := fmt.Sprintf("CVE-%s-%d", year, 1000000+i)
		dir := filepath.Join(*out, "cves", year, fmt.Sprintf("%dxxx", (1000000+i)/1000))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Fatal(err)
		}
		data := bytes.ReplaceAll(r.data, []byte(`"`+r.id+`"`), []byte(`"`+id+`"`))
		if err := os.WriteFile(filepath.Join(dir, id+".json"), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
