package enrich

import (
	"path/filepath"
	"testing"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// FuzzParseRecord feeds hostile variants of the real records to the parser:
// it must never panic, and what it accepts must be a valid record.
func FuzzParseRecord(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "cve5", "*.json"))
	for _, p := range files {
		f.Add(readTestdata(f, "cve5/"+filepath.Base(p)))
	}
	f.Add([]byte(`{"dataType":"CVE_RECORD","dataVersion":"5.9","cveMetadata":{"cveId":"CVE-2024-0001","state":"PUBLISHED"},"containers":{"cna":{"metrics":[{"cvssV3_1":{"baseScore":99,"vectorString":"x"}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			return
		}
		if _, err := cve.Parse(r.ID); err != nil {
			t.Fatalf("accepted record with ID %q", r.ID)
		}
		if r.State != store.StatePublished && r.State != store.StateRejected {
			t.Fatalf("accepted state %q", r.State)
		}
		if c := r.CVSS; c != nil && (c.Score < 0 || c.Score > 10 || c.Vector == "") {
			t.Fatalf("accepted CVSS %+v", c)
		}
	})
}

// FuzzParseNVD does the same for NVD pages.
func FuzzParseNVD(f *testing.F) {
	for _, name := range []string{"nvdlib-cveId-CVE-2021-26855.json", "vuln-list-update-emptyResp.json", "osvdev-cveId-CVE-2024-3094.json"} {
		f.Add(readTestdata(f, "nvd/"+name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseNVD(data)
		if err != nil {
			return
		}
		for _, r := range p.Records {
			if _, err := cve.Parse(r.ID); err != nil {
				t.Fatalf("accepted entry with ID %q", r.ID)
			}
		}
	})
}
