package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

const enrichData = "../../testdata/enrich/"

// seedPosts stores one post per CVE and an API key, as ingestion would.
func seedPosts(t *testing.T, dbPath string, cves ...string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbPath)
	must(t, err)
	defer st.Close()
	now := time.Now().UTC()
	var posts []store.Sighted
	for i, id := range cves {
		uri := fmt.Sprintf("https://x.example/users/a%d/statuses/%d", i, i)
		posts = append(posts, store.Sighted{Post: store.Post{URI: uri, URL: uri, CreatedAt: now.Add(-time.Duration(i+1) * time.Minute),
			Content: "<p>" + id + "</p>", Account: store.Account{URL: fmt.Sprintf("https://x.example/@a%d", i), Acct: fmt.Sprintf("a%d", i)},
			CVEs: []string{id}, Reblogs: 10 - i}, LocalID: fmt.Sprint(i), Authoritative: true})
	}
	_, err = st.SaveBatch(ctx, store.Batch{Instance: "x.example", Feed: "public", Posts: posts})
	must(t, err)
	key, prefix, hash, err := apikey.Generate()
	must(t, err)
	_, err = st.CreateAPIKey(ctx, "test", prefix, hash)
	must(t, err)
	return key
}

func runCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("cvecrowd %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func boot(t *testing.T, dbPath string) *Main {
	t.Helper()
	m := NewMain(Config{DB: dbPath, Listen: "127.0.0.1:0", NoIngest: true, CacheTTL: time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, m.Run(context.Background()))
	t.Cleanup(func() { m.Close() })
	return m
}

func apiGet(t *testing.T, base, key, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestImportCVEListDoneWhen is issue 4's acceptance check: import the real
// records, then the API answers Log4Shell with the CISA-ADP CVSS and the
// CNA's vendor/product; the REJECTED record appears nowhere.
func TestImportCVEListDoneWhen(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	key := seedPosts(t, db, "CVE-2021-44228", "CVE-2023-52071", "CVE-2024-3094", "CVE-2024-99999")
	out := runCmd(t, "import", "cvelist", "--db", db, enrichData+"cve5")
	// 13 CVE-*.json files; the history copy's name is not its cveId.
	if !strings.Contains(out, "13 read, 12 stored, 1 skipped (1 file name and cveId differ)") {
		t.Fatalf("summary = %q", out)
	}
	m := boot(t, db)
	base := m.URL()
	tests := []struct {
		path   string
		status int
		has    []string
		hasNot []string
	}{
		{"/api/v1/cves/CVE-2021-44228", 200, []string{`"cvss_vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"`, `"base_score":10,`,
			`"base_severity":"CRITICAL"`, `"vendor":"Apache Software Foundation"`, `"product":"Apache Log4j2"`, `"verified":true`,
			`"kev":true`, `"published":"2021-12-10T00:00:00Z"`}, nil},
		{"/v2/cves/CVE-2021-44228", 200, []string{`"base_score":10,`}, nil},
		// Not in the imported records, and the import was not --complete: listed, unverified.
		{"/api/v1/cves/CVE-2024-99999", 200, []string{`"verified":false`, `"cvss_vector":null`}, nil},
		{"/api/v1/cves?days=1", 200, []string{"CVE-2021-44228", "CVE-2024-3094", "CVE-2024-99999"}, []string{"CVE-2023-52071"}},
		{"/v2/cves?days=7&include=unpublished", 200, []string{"CVE-2021-44228"}, []string{"CVE-2023-52071"}},
		{"/api/v1/cves/CVE-2023-52071", 404, []string{`"not_found"`}, nil},
		{"/api/v1/cves/CVE-2023-52071?include=unpublished", 404, nil, nil},
		{"/api/v1/cves/CVE-2023-52071/posts", 404, nil, nil},
		{"/v2/cves/CVE-2023-52071/posts?days=30", 404, nil, nil},
		{"/api/v1/cves?include=everything", 400, []string{"include"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := apiGet(t, base, key, tt.path)
			if status != tt.status {
				t.Fatalf("status %d; want %d: %s", status, tt.status, body)
			}
			for _, s := range tt.has {
				if !strings.Contains(body, s) {
					t.Errorf("answer lacks %s: %s", s, body)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(body, s) {
					t.Errorf("answer has %s: %s", s, body)
				}
			}
		})
	}
	status, page := apiGet(t, base, "", "/")
	if status != 200 || strings.Contains(page, "CVE-2023-52071") || !strings.Contains(page, "Apache Log4j2") {
		t.Errorf("page: status %d, rejected shown %v, enrichment shown %v", status, strings.Contains(page, "CVE-2023-52071"),
			strings.Contains(page, "Apache Log4j2"))
	}

	// The same tree, declared complete: CVE-2024-99999 is confirmed missing.
	m.Close()
	if err := run(context.Background(), []string{"import", "cvelist", enrichData + "cve5", "--db", db, "--complete"}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "refusing --complete") {
		t.Fatalf("--complete on a 13-record list: err = %v, want a refusal", err)
	}
	out = runCmd(t, "import", "cvelist", enrichData+"cve5", "--db", db, "--complete", "--force")
	if !strings.Contains(out, "1 mentioned CVEs marked not yet published") {
		t.Fatalf("complete import summary = %q", out)
	}
	m = boot(t, db)
	base = m.URL()
	for path, want := range map[string]int{
		"/api/v1/cves/CVE-2024-99999":                           404,
		"/api/v1/cves/CVE-2024-99999?include=unpublished":       200,
		"/api/v1/cves/CVE-2024-99999/posts":                     404,
		"/api/v1/cves/CVE-2024-99999/posts?include=unpublished": 200,
	} {
		if status, body := apiGet(t, base, key, path); status != want {
			t.Errorf("%s: status %d; want %d: %s", path, status, want, body)
		}
	}
	_, list := apiGet(t, base, key, "/api/v1/cves")
	_, withUn := apiGet(t, base, key, "/api/v1/cves?include=unpublished")
	if strings.Contains(list, "CVE-2024-99999") || !strings.Contains(withUn, "CVE-2024-99999") || strings.Contains(withUn, "CVE-2023-52071") {
		t.Errorf("default list %s; with include=unpublished %s", list, withUn)
	}
	_, page = apiGet(t, base, "", "/")
	lane := page[strings.Index(page, "Not yet published"):]
	if !strings.Contains(lane, `data-cve="CVE-2024-99999"`) || strings.Contains(page, `id="CVE-2024-99999"`) {
		t.Error("the page does not show CVE-2024-99999 in the not-yet-published lane only")
	}
}

func TestImportZipAndFeeds(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	key := seedPosts(t, db, "CVE-2021-44228", "CVE-2024-3094", "CVE-1999-0005", "CVE-2025-0108")

	// A release-style zip with one hostile entry and one truncated record.
	zpath := filepath.Join(dir, "cvelist.zip")
	zf, err := os.Create(zpath)
	must(t, err)
	zw := zip.NewWriter(zf)
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		must(t, err)
		w.Write(data)
	}
	log4, err := os.ReadFile(enrichData + "cve5/CVE-2021-44228.json")
	must(t, err)
	add("cvelistV5-main/cves/2021/44xxx/CVE-2021-44228.json", log4)
	add("../../etc/CVE-2024-3094.json", log4)
	add("cvelistV5-main/cves/2024/3xxx/CVE-2024-3094.json", log4[:100])
	must(t, zw.Close())
	must(t, zf.Close())
	out := runCmd(t, "import", "cvelist", "--db", db, zpath)
	if !strings.Contains(out, "3 read, 1 stored, 2 skipped (1 invalid or truncated JSON, 1 unsafe path in zip)") {
		t.Fatalf("zip summary = %q", out)
	}
	// The release asset shape: a zip holding cves.zip.
	inner, err := os.ReadFile(zpath)
	must(t, err)
	outer := filepath.Join(dir, "2026-12-03_all_CVEs_at_midnight.zip.zip")
	zf, err = os.Create(outer)
	must(t, err)
	zw = zip.NewWriter(zf)
	add("cves.zip", inner)
	must(t, zw.Close())
	must(t, zf.Close())
	out = runCmd(t, "import", "cvelist", "--db", db, outer)
	if !strings.Contains(out, "3 read, 1 stored, 2 skipped") {
		t.Fatalf("nested zip summary = %q", out)
	}

	// EPSS daily CSV, gzipped; KEV catalogue; NVD pages.
	csv, err := os.ReadFile(enrichData + "epss/vunnel-epss-scores-head-2025-02-20.csv")
	must(t, err)
	var gz bytes.Buffer
	g := gzip.NewWriter(&gz)
	g.Write(csv)
	g.Close()
	epss := filepath.Join(dir, "epss_scores-2025-02-20.csv.gz")
	must(t, os.WriteFile(epss, gz.Bytes(), 0o644))
	if out := runCmd(t, "import", "epss", "--db", db, epss); !strings.Contains(out, "5 read, 5 stored, 0 skipped") {
		t.Errorf("epss summary = %q", out)
	}
	if out := runCmd(t, "import", "kev", "--db", db, enrichData+"kev/vunnel-kev-catalog-slice-2025.02.19.json"); !strings.Contains(out, "3 read, 3 stored") {
		t.Errorf("kev summary = %q", out)
	}
	if out := runCmd(t, "import", "nvd", "--db", db, enrichData+"nvd"); !strings.Contains(out, "95 read, 95 stored, 0 skipped") {
		t.Errorf("nvd summary = %q", out)
	}
	m := boot(t, db)
	for path, want := range map[string][]string{
		"/api/v1/cves/CVE-1999-0005":  {`"epss":0.91963`, `"epss_percentile":0.99214`, `"verified":false`},
		"/api/v1/cves/CVE-2025-0108":  {`"kev":true`},
		"/api/v1/cves/CVE-2021-44228": {`"verified":true`, `"vendor":"Apache Software Foundation"`},
		// NVD only (the truncated record was skipped): NVD's CPE vendor and Primary CVSS.
		"/api/v1/cves/CVE-2024-3094": {`"vendor":"tukaani"`, `"product":"xz"`, `"base_score":10,`, `"verified":false`},
	} {
		status, body := apiGet(t, m.URL(), key, path)
		for _, s := range want {
			if status != 200 || !strings.Contains(body, s) {
				t.Errorf("%s: %d %s; want %s", path, status, body, s)
			}
		}
	}
}
