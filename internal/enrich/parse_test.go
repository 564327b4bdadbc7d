package enrich

import (
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

const testdata = "../../testdata/enrich"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func day(p *time.Time) string {
	if p == nil {
		return "<nil>"
	}
	return p.Format(time.RFC3339Nano)
}

// TestParseRecordSamples runs SPEC §3's field selection over every real CVE
// JSON 5 record in testdata.
func TestParseRecordSamples(t *testing.T) {
	tests := []struct {
		file, state, vendor, product  string
		published, updated            string
		cvssVersion, vector, severity string
		score                         float64
		source                        string
		cwes                          string
		kev                           string
		descPrefix                    string
	}{
		// Log4Shell: the CNA has no CVSS; the CISA-ADP container carries 3.1.
		{"CVE-2021-44228.json", "PUBLISHED", "Apache Software Foundation", "Apache Log4j2", "2021-12-10T00:00:00Z", "2025-02-04T14:25:37.215Z",
			"3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL", 10, "CISA-ADP", "CWE-502,CWE-400,CWE-20", "2021-12-10T00:00:00Z", "Apache Log4j2 2.0-beta9"},
		// CNA CVSS 3.1; first affected entry has only packageName.
		{"CVE-2024-3094.json", "PUBLISHED", "<nil>", "xz", "2024-03-29T16:51:12.588Z", "2025-11-20T07:17:48.594Z",
			"3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL", 10, "CNA", "CWE-506", "<nil>", "Malicious code was discovered"},
		// First published version of the same CVE: "n/a" vendor, product xz.
		{"history/CVE-2024-3094.2024-03-29.json", "PUBLISHED", "<nil>", "xz", "2024-03-29T16:51:12.588Z", "2024-03-29T18:26:59.1Z",
			"3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL", 10, "CNA", "CWE-506", "<nil>", "Malicious code was discovered"},
		{"CVE-2024-6387.json", "PUBLISHED", "<nil>", "OpenSSH", "2024-07-01T12:37:25.431Z", "2024-07-29T08:48:54.567Z",
			"3.1", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "HIGH", 8.1, "CNA", "CWE-364", "<nil>", "A security regression (CVE-2006-5051)"},
		// No metrics at all, problem type without cweId.
		{"CVE-2023-4863.json", "PUBLISHED", "Google", "Chrome", "2023-09-12T14:24:59.275Z", "2023-09-12T14:24:59.275Z",
			"", "", "", 0, "", "", "<nil>", "Heap buffer overflow in WebP"},
		// Disputed curl CVE: n/a vendor and product, microsecond zone-less timestamps.
		{"CVE-2020-19909.json", "PUBLISHED", "<nil>", "<nil>", "2023-08-22T00:00:00Z", "2023-08-28T08:04:05.477696Z",
			"", "", "", 0, "", "", "<nil>", "Integer overflow vulnerability in tool_operate.c"},
		// CVSS 4.0 only.
		{"CVE-2025-4565.json", "PUBLISHED", "protocolbuffers", "Python-Protobuf", "2025-06-16T14:50:40.906Z", "2025-06-16T15:39:18.263Z",
			"4.0", "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", "HIGH", 8.2, "CNA", "CWE-674", "<nil>", "Any project that uses Protobuf Pure-Python backend"},
		// No CNA metrics, CISA-ADP 3.1; the CWE is only in the description text.
		{"CVE-2024-7264.json", "PUBLISHED", "curl", "curl", "2024-07-31T08:08:14.585Z", "2025-11-03T22:32:51.4Z",
			"3.1", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:L", "MEDIUM", 6.3, "CISA-ADP", "CWE-125", "<nil>", "libcurl's ASN1 parser code"},
		// Linux kernel CNA: git ranges, no CNA metrics, CWE from CISA-ADP.
		{"CVE-2025-21631.json", "PUBLISHED", "Linux", "Linux", "2025-01-19T10:17:49.439Z", "2025-05-04T13:05:59.494Z",
			"3.1", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "HIGH", 7.8, "CISA-ADP", "CWE-416", "<nil>", "In the Linux kernel, the following vulnerability"},
		// Three CVSS versions in the CNA: 3.1 wins over 3.0 and 2.0.
		{"CVE-2016-15012.json", "PUBLISHED", "forcedotcom", "SalesforceMobileSDK-Windows", "2023-01-07T12:59:27.772Z", "2025-04-08T20:30:50.208Z",
			"3.1", "CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:L", "MEDIUM", 5.5, "CNA", "CWE-89", "<nil>", "** UNSUPPORTED WHEN ASSIGNED **"},
		// Old MITRE records: n/a everything, no metrics.
		{"CVE-2016-1897.json", "PUBLISHED", "<nil>", "<nil>", "2016-01-15T02:00:00Z", "2024-08-05T23:10:39.912Z",
			"", "", "", 0, "", "", "<nil>", "FFmpeg 2.x allows remote attackers"},
		{"CVE-2021-26917.json", "PUBLISHED", "<nil>", "<nil>", "2021-02-08T22:22:51Z", "2021-02-08T22:22:51Z",
			"", "", "", 0, "", "", "<nil>", "PyBitmessage through 0.6.3.2"},
		// REJECTED: only the state and dates survive.
		{"CVE-2023-52071.json", "REJECTED", "<nil>", "<nil>", "<nil>", "2024-02-23T08:12:51.640297Z",
			"", "", "", 0, "", "", "<nil>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := ParseRecord(readTestdata(t, "cve5/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			wantID := strings.TrimSuffix(filepath.Base(tt.file), ".json")
			wantID, _, _ = strings.Cut(wantID, ".")
			if r.ID != wantID || r.State != tt.state {
				t.Errorf("id, state = %s %s; want %s %s", r.ID, r.State, wantID, tt.state)
			}
			if str(r.Vendor) != tt.vendor || str(r.Product) != tt.product {
				t.Errorf("vendor/product = %q/%q; want %q/%q", str(r.Vendor), str(r.Product), tt.vendor, tt.product)
			}
			if day(r.Published) != tt.published || day(r.Updated) != tt.updated {
				t.Errorf("published/updated = %s/%s; want %s/%s", day(r.Published), day(r.Updated), tt.published, tt.updated)
			}
			var got store.CVSS
			if r.CVSS != nil {
				got = *r.CVSS
			}
			want := store.CVSS{Version: tt.cvssVersion, Vector: tt.vector, Score: tt.score, Severity: tt.severity, Source: tt.source}
			if got != want {
				t.Errorf("cvss = %+v; want %+v", got, want)
			}
			if c := strings.Join(r.CWEs, ","); c != tt.cwes {
				t.Errorf("cwes = %q; want %q", c, tt.cwes)
			}
			if day(r.KEVAdded) != tt.kev {
				t.Errorf("kev added = %s; want %s", day(r.KEVAdded), tt.kev)
			}
			if tt.state == "PUBLISHED" {
				if !strings.HasPrefix(str(r.Description), tt.descPrefix) {
					t.Errorf("description = %.60q; want prefix %q", str(r.Description), tt.descPrefix)
				}
				if len(r.References) == 0 {
					t.Error("no references")
				}
				seen := map[string]bool{}
				for _, u := range r.References {
					if seen[u] {
						t.Errorf("reference %s repeated", u)
					}
					seen[u] = true
				}
			} else if r.Description != nil || r.CVSS != nil {
				t.Errorf("rejected record kept data: %+v", r)
			}
		})
	}
}

func TestParseRecordBadInput(t *testing.T) {
	good := string(readTestdata(t, "cve5/CVE-2021-26917.json"))
	tests := []struct {
		name    string
		in      string
		unknown bool // ErrUnknownFormat rather than a JSON error
	}{
		{"truncated", good[:len(good)/2], false},
		{"empty", "", false},
		{"not an object", "[1,2]", false},
		{"delta feed", string(readTestdata(t, "cve5/cvelistV5-delta.json")), true},
		{"unknown dataVersion", strings.Replace(good, `"dataVersion": "5.0"`, `"dataVersion": "6.0"`, 1), true},
		{"bad id", strings.Replace(good, `"cveId": "CVE-2021-26917"`, `"cveId": "CVE-21-1"`, 1), true},
		{"unknown state", strings.Replace(good, `"state": "PUBLISHED"`, `"state": "RESERVED"`, 1), true},
		{"bad date", strings.Replace(good, `"datePublished": "2021-02-08T22:22:51"`, `"datePublished": "yesterday"`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in == good {
				t.Fatal("test input unchanged: the replacement did not match")
			}
			_, err := ParseRecord([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrUnknownFormat) != tt.unknown {
				t.Fatalf("err = %v; unknown-format %v, want %v", err, errors.Is(err, ErrUnknownFormat), tt.unknown)
			}
		})
	}
}

func TestParseTimeFormats(t *testing.T) {
	for in, want := range map[string]string{
		"2021-12-10T00:00:00.000Z":   "2021-12-10T00:00:00Z",
		"2023-08-28T08:04:05.477696": "2023-08-28T08:04:05.477696Z",
		"2021-02-08T22:22:51":        "2021-02-08T22:22:51Z",
		"2023-10-12T19:15:11.747":    "2023-10-12T19:15:11.747Z",
		"2025-02-20T00:00:00+0000":   "2025-02-20T00:00:00Z",
		"2021-12-10":                 "2021-12-10T00:00:00Z",
	} {
		got, err := ParseTime(in)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseTime("12/10/2021"); err == nil {
		t.Error("ParseTime accepted 12/10/2021")
	}
}

// TestParseNVDSamples reads every real NVD response in testdata.
func TestParseNVDSamples(t *testing.T) {
	tests := []struct {
		file            string
		total, n        int
		id, status      string
		vendor, product string
		vector          string
		score           float64
		cwes, kev       string
	}{
		{"nvdlib-cveId-CVE-2021-26855.json", 1, 1, "CVE-2021-26855", "Analyzed", "microsoft", "exchange_server",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CWE-918", "2021-11-03T00:00:00Z"},
		// Only V30 + V2: 3.0 wins.
		{"nvdlib-cveId-CVE-2017-7542.json", 1, 1, "CVE-2017-7542", "Modified", "linux", "linux_kernel",
			"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", 5.5, "CWE-190,CWE-835", "<nil>"},
		{"nvdlib-search-2-results.json", 2, 2, "CVE-2021-25992", "Analyzed", "if-me", "ifme",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CWE-613", "<nil>"},
		{"nvdlib-search-full-page-47.json", 47, 47, "CVE-2021-25992", "Analyzed", "if-me", "ifme",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CWE-613", "<nil>"},
		{"osvdev-cveId-CVE-2023-4863.json", 1, 1, "CVE-2023-4863", "Modified", "google", "chrome",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, "CWE-787", "2023-09-13T00:00:00Z"},
		// Fields newer than the parser (cve.affected, metrics.ssvcV203) are ignored.
		{"osvdev-cveId-CVE-2024-3094.json", 1, 1, "CVE-2024-3094", "Modified", "tukaani", "xz",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10, "CWE-506", "<nil>"},
		{"vunnel-full-page-38.json", 38, 38, "CVE-2023-27314", "Analyzed", "netapp", "clustered_data_ontap",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "CWE-400", "<nil>"},
		{"vunnel-single-entry-CVE-2022-1576.json", 1, 1, "CVE-2022-1576", "Modified", "themeisle", "wp_maintenance_mode_&_coming_soon",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N", 6.5, "CWE-352", "<nil>"},
		{"vuln-list-update-respPage1.json", 3, 2, "CVE-2020-8167", "Analyzed", "rubyonrails", "rails",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N", 6.5, "CWE-352", "<nil>"},
		// V40 exists but only as Secondary (the CNA's): NVD's Primary 3.1 wins.
		{"vuln-list-update-respPage2.json", 3, 1, "CVE-2024-5732", "Analyzed", "clashforwindows", "clash",
			"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CWE-287", "<nil>"},
		// totalResults 0 and no "vulnerabilities" key.
		{"vuln-list-update-emptyResp.json", 0, 0, "", "", "", "", "", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := ParseNVD(readTestdata(t, "nvd/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if p.TotalResults != tt.total || len(p.Records) != tt.n || len(p.Skipped) != 0 {
				t.Fatalf("total %d, %d records, skipped %v; want %d, %d", p.TotalResults, len(p.Records), p.Skipped, tt.total, tt.n)
			}
			if tt.n == 0 {
				return
			}
			r := p.Records[0]
			if r.ID != tt.id || r.Status != tt.status || str(r.Vendor) != tt.vendor || str(r.Product) != tt.product {
				t.Errorf("got %s %s %s/%s; want %s %s %s/%s", r.ID, r.Status, str(r.Vendor), str(r.Product), tt.id, tt.status, tt.vendor, tt.product)
			}
			if r.CVSS == nil || r.CVSS.Vector != tt.vector || r.CVSS.Score != tt.score || r.CVSS.Source != "NVD" {
				t.Errorf("cvss = %+v; want %s %v from NVD", r.CVSS, tt.vector, tt.score)
			}
			if c := strings.Join(r.CWEs, ","); c != tt.cwes {
				t.Errorf("cwes = %q; want %q", c, tt.cwes)
			}
			if day(r.KEVAdded) != tt.kev {
				t.Errorf("kev = %s; want %s", day(r.KEVAdded), tt.kev)
			}
			if r.Description == nil || r.Published == nil || r.Updated == nil || len(r.References) == 0 {
				t.Errorf("missing description/dates/references: %+v", r)
			}
			for _, r := range p.Records {
				if r.Description != nil && strings.HasPrefix(*r.Description, "Una ") {
					t.Errorf("%s: Spanish description chosen", r.ID)
				}
			}
		})
	}
	// Entries "Awaiting Analysis" have no configurations: no vendor, and
	// only the CNA's Secondary metrics.
	p, _ := ParseNVD(readTestdata(t, "nvd/vunnel-full-page-38.json"))
	awaiting := 0
	for _, r := range p.Records {
		if r.Status == "Awaiting Analysis" {
			awaiting++
			if r.Product != nil {
				t.Errorf("%s: product %q without configurations", r.ID, *r.Product)
			}
			if r.CVSS != nil && r.CVSS.Source == "NVD" {
				t.Errorf("%s: NVD Primary CVSS on an unanalysed entry", r.ID)
			}
		}
	}
	if awaiting != 13 {
		t.Errorf("awaiting analysis entries = %d; want 13", awaiting)
	}
}

func TestParseNVDBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"truncated":    `{"resultsPerPage":1,"vulnerabilities":[{"cve":{"id":"CVE-2021-`,
		"wrong format": `{"format":"NVD_CPE","version":"2.0"}`,
		"old version":  `{"format":"NVD_CVE","version":"1.0"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseNVD([]byte(in)); err == nil {
				t.Fatal("no error")
			}
		})
	}
	p, err := ParseNVD([]byte(`{"format":"NVD_CVE","version":"2.0","totalResults":2,"vulnerabilities":[{"cve":{"id":"nope"}},{"cve":{"id":"CVE-2024-0001","published":"2024-01-01T00:00:00.000"}}]}`))
	if err != nil || len(p.Records) != 1 || len(p.Skipped) != 1 {
		t.Fatalf("one bad entry: %+v, %v; want 1 kept, 1 skipped", p, err)
	}
}

func TestParseEPSS(t *testing.T) {
	scores, skipped, err := ParseEPSS(readTestdata(t, "epss/first-api-doc-example-2022-02-28.json"))
	if err != nil || len(skipped) != 0 || len(scores) != 2 {
		t.Fatalf("ParseEPSS = %v, %v, %v", scores, skipped, err)
	}
	if s := scores[0]; s.ID != "CVE-2021-40438" || s.Score != 0.97224 || s.Percentile != 1 || day(s.Date) != "2022-02-28T00:00:00Z" {
		t.Errorf("first score = %+v", s)
	}
	if s := scores[1]; s.ID != "CVE-2019-16759" || s.Score != 0.96817 || s.Percentile != 0.99999 {
		t.Errorf("second score = %+v", s)
	}
	if _, _, err := ParseEPSS([]byte(`{"status":"error","data":[]}`)); err == nil {
		t.Error("an error status was accepted")
	}
	scores, skipped, _ = ParseEPSS([]byte(`{"status":"OK","data":[{"cve":"CVE-2024-0001","epss":"1.5","percentile":"0.1"},{"cve":"CVE-2024-0002","epss":"0.5","percentile":"0.1"}]}`))
	if len(scores) != 1 || len(skipped) != 1 {
		t.Errorf("out-of-range score: kept %v, skipped %v", scores, skipped)
	}
}

func TestParseKEV(t *testing.T) {
	tests := []struct {
		file, version string
		n             int
		first         store.KEVEntry
	}{
		{"kev/vunnel-kev-catalog-slice-2025.02.19.json", "2025.02.19", 3,
			store.KEVEntry{ID: "CVE-2025-0108", DateAdded: time.Date(2025, 2, 18, 0, 0, 0, 0, time.UTC), Ransomware: "Unknown"}},
		// Older schema without knownRansomwareCampaignUse.
		{"kev/vuln-list-update-kev-happy.json", "2022.05.13", 2,
			store.KEVEntry{ID: "CVE-2014-0160", DateAdded: time.Date(2022, 5, 4, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := ParseKEV(readTestdata(t, tt.file))
			if err != nil || c.Version != tt.version || len(c.Entries) != tt.n || len(c.Skipped) != 0 {
				t.Fatalf("ParseKEV = %+v, %v", c, err)
			}
			if c.Entries[0] != tt.first {
				t.Errorf("first entry = %+v; want %+v", c.Entries[0], tt.first)
			}
		})
	}
	if _, err := ParseKEV([]byte(`{"title":"x"}`)); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("catalogue without vulnerabilities: %v", err)
	}
}

func TestReadEPSSCSV(t *testing.T) {
	raw := readTestdata(t, "epss/vunnel-epss-scores-head-2025-02-20.csv")
	var gz strings.Builder
	zw := newGzip(&gz)
	zw.Write(raw)
	zw.Close()
	bad := string(raw) + "CVE-2024-0001,notanumber,0.1\nnot-a-cve,0.1,0.1\nCVE-2024-0002,0.5\n"
	for name, in := range map[string]string{"plain": string(raw), "gzip": gz.String(), "bad rows": bad} {
		t.Run(name, func(t *testing.T) {
			var got []store.EPSSScore
			var skips []string
			err := ReadEPSSCSV(strings.NewReader(in), func(s store.EPSSScore) error {
				got = append(got, s)
				return nil
			}, func(line int, err error) { skips = append(skips, err.Error()) })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 5 {
				t.Fatalf("%d scores, want 5 (skipped %v)", len(got), skips)
			}
			if s := got[4]; s.ID != "CVE-1999-0005" || s.Score != 0.91963 || s.Percentile != 0.99214 || day(s.Date) != "2025-02-20T00:00:00Z" {
				t.Errorf("last = %+v", s)
			}
			if want := map[string]int{"bad rows": 3}[name]; len(skips) != want {
				t.Errorf("skipped %v; want %d", skips, want)
			}
		})
	}
	if err := ReadEPSSCSV(strings.NewReader("a,b\n1,2\n"), func(store.EPSSScore) error { return nil }, func(int, error) {}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("wrong header: %v", err)
	}
}

func newGzip(w *strings.Builder) *gzip.Writer { return gzip.NewWriter(w) }

func TestEPSSCSVLineCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("cve,epss,percentile\nCVE-2024-3094,0.5,0.9\n")
	b.WriteString(strings.Repeat("x", 200<<10))
	b.WriteString("\n")
	var got int
	err := ReadEPSSCSV(strings.NewReader(b.String()), func(store.EPSSScore) error { got++; return nil }, func(int, error) {})
	if err == nil || !strings.Contains(err.Error(), "64 KiB") {
		t.Fatalf("err = %v, want the line cap", err)
	}
	if got != 1 {
		t.Fatalf("rows before the long line = %d, want 1", got)
	}
}
