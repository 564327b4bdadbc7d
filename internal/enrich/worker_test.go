package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// fakeSources replays testdata as CVE Services, NVD, EPSS and KEV. fail, when
// set, answers instead for the paths it matches (by prefix).
type fakeSources struct {
	*httptest.Server
	records map[string][]byte // CVE ID → CVE JSON 5
	nvd     map[string][]byte // CVE ID → NVD response
	epss    map[string][3]string
	kev     []byte

	mu    sync.Mutex
	fail  map[string]func(n int) int // path prefix → status for the n-th failing hit (0: answer normally)
	hits  map[string]int
	apiKe string
}

func newFakeSources(t *testing.T) *fakeSources {
	t.Helper()
	f := &fakeSources{records: map[string][]byte{}, nvd: map[string][]byte{}, epss: map[string][3]string{},
		fail: map[string]func(int) int{}, hits: map[string]int{}}
	files, _ := filepath.Glob(filepath.Join(testdata, "cve5", "CVE-*.json"))
	for _, p := range files {
		f.records[strings.TrimSuffix(filepath.Base(p), ".json")] = readTestdata(t, "cve5/"+filepath.Base(p))
	}
	files, _ = filepath.Glob(filepath.Join(testdata, "nvd", "*cveId-CVE-*.json"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		pg, err := ParseNVD(b)
		if err != nil {
			t.Fatal(err)
		}
		f.nvd[pg.Records[0].ID] = b
	}
	f.nvd[""] = readTestdata(t, "nvd/vuln-list-update-emptyResp.json")
	// EPSS rows from the real API example and the daily CSV head.
	var api epssAPI
	json.Unmarshal(readTestdata(t, "epss/first-api-doc-example-2022-02-28.json"), &api)
	for _, d := range api.Data {
		f.epss[d.CVE] = [3]string{d.EPSS, d.Percentile, d.Date}
	}
	f.epss["CVE-2021-44228"] = [3]string{"0.944010000", "0.999970000", "2025-02-20"}
	f.kev = readTestdata(t, "kev/vunnel-kev-catalog-slice-2025.02.19.json")
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSources) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	for prefix, fn := range f.fail {
		if strings.HasPrefix(r.URL.Path, prefix) {
			f.hits[prefix]++
			if st := fn(f.hits[prefix]); st != 0 {
				f.mu.Unlock()
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(st)
				return
			}
		}
	}
	f.hits[r.URL.Path]++
	if r.URL.Path == "/nvd" {
		f.apiKe = r.Header.Get("apiKey")
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/cve/api/cve/"):
		b, ok := f.records[strings.TrimPrefix(r.URL.Path, "/cve/api/cve/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"CVE_RECORD_DNE","message":"The cve record for the cve id does not exist."}`)
			return
		}
		w.Write(b)
	case r.URL.Path == "/nvd":
		b, ok := f.nvd[r.URL.Query().Get("cveId")]
		if !ok {
			b = f.nvd[""]
		}
		w.Write(b)
	case r.URL.Path == "/epss":
		var data []map[string]string
		for _, id := range strings.Split(r.URL.Query().Get("cve"), ",") {
			if v, ok := f.epss[id]; ok {
				data = append(data, map[string]string{"cve": id, "epss": v[0], "percentile": v[1], "date": v[2]})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "OK", "status-code": 200, "version": "1.0", "total": len(data), "data": data})
	case r.URL.Path == "/kev":
		w.Header().Set("ETag", `"kev-1"`)
		if r.Header.Get("If-None-Match") == `"kev-1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(f.kev)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeSources) setFail(prefix string, fn func(n int) int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[prefix] = fn
	f.hits[prefix] = 0
}

func (f *fakeSources) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeSources) client(apiKey string) *Client {
	return NewClient(Config{
		CVEServicesURL: f.URL + "/cve/api", NVDURL: f.URL + "/nvd", EPSSURL: f.URL + "/epss", KEVURL: f.URL + "/kev",
		NVDAPIKey: apiKey, RetryBase: time.Millisecond, MaxRetryWait: 10 * time.Millisecond, NVDInterval: time.Millisecond,
		Timeout: 5 * time.Second,
	})
}

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, cves ...string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "enrich.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetClock(func() time.Time { return t0 })
	var posts []store.Sighted
	for i, id := range cves {
		uri := fmt.Sprintf("https://x.example/s/%d", i)
		posts = append(posts, store.Sighted{Post: store.Post{URI: uri, URL: uri, CreatedAt: t0.Add(-time.Hour),
			Content: "<p>" + id + "</p>", Account: store.Account{URL: "https://x.example/@a", Acct: "a"}, CVEs: []string{id}},
			LocalID: fmt.Sprint(i), Authoritative: true})
	}
	if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x.example", Feed: "public", Posts: posts}); err != nil {
		t.Fatal(err)
	}
	return db
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestWorkerEnriches(t *testing.T) {
	ctx := context.Background()
	f := newFakeSources(t)
	db := openStore(t, "CVE-2021-44228", "CVE-2023-52071", "CVE-2024-3094", "CVE-2025-0108", "CVE-2024-99999", "CVE-2021-40438")
	w := NewWorker(f.client("secret-key"), db, Policy{}, quietLog())
	w.SetClock(func() time.Time { return t0 })
	w.RunOnce(ctx)

	tests := []struct {
		id, state, vendor, product, vector, severity string
		score                                        float64
		verified, kev                                bool
		epss                                         float64
	}{
		// Log4Shell: vendor/product from the CNA, CVSS from CISA-ADP, KEV from the ADP.
		{"CVE-2021-44228", "PUBLISHED", "Apache Software Foundation", "Apache Log4j2", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL", 10, true, true, 0.94401},
		// xz: CNA product, NVD adds nothing the CNA lacks but stays stored.
		{"CVE-2024-3094", "PUBLISHED", "<nil>", "xz", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "CRITICAL", 10, true, false, -1},
		{"CVE-2023-52071", "REJECTED", "<nil>", "<nil>", "<nil>", "<nil>", -1, false, false, -1},
		// In KEV (catalogue) but CVE Services has no record in the fake.
		{"CVE-2025-0108", "UNPUBLISHED", "<nil>", "<nil>", "<nil>", "<nil>", -1, false, true, -1},
		{"CVE-2024-99999", "UNPUBLISHED", "<nil>", "<nil>", "<nil>", "<nil>", -1, false, false, -1},
		{"CVE-2021-40438", "UNPUBLISHED", "<nil>", "<nil>", "<nil>", "<nil>", -1, false, false, 0.97224},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			c, err := db.CVE(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			score, epss := -1.0, -1.0
			if c.BaseScore != nil {
				score = *c.BaseScore
			}
			if c.EPSS != nil {
				epss = *c.EPSS
			}
			if str(c.State) != tt.state || str(c.Vendor) != tt.vendor || str(c.Product) != tt.product || str(c.CVSSVector) != tt.vector ||
				str(c.BaseSeverity) != tt.severity || score != tt.score || c.Verified != tt.verified || c.KEV != tt.kev || epss != tt.epss {
				t.Errorf("got state %s vendor %s product %s vector %s %s %v verified %v kev %v epss %v",
					str(c.State), str(c.Vendor), str(c.Product), str(c.CVSSVector), str(c.BaseSeverity), score, c.Verified, c.KEV, epss)
			}
		})
	}
	d, _ := db.CVEData(ctx, "CVE-2024-3094")
	if d.NVDCheckedAt == nil {
		t.Error("NVD was not asked about a published CVE")
	}
	if f.apiKe != "secret-key" {
		t.Errorf("NVD apiKey header = %q", f.apiKe)
	}
	if n := f.count("/nvd"); n != 2 {
		t.Errorf("NVD asked %d times; want 2 (the two published CVEs)", n)
	}

	// A second round at once has nothing due: the cache is the database.
	before := f.count("/cve/api/cve/CVE-2021-44228")
	w.RunOnce(ctx)
	if f.count("/cve/api/cve/CVE-2021-44228") != before || f.count("/kev") != 1 {
		t.Error("a second round re-fetched fresh data")
	}
	// A day later the records are due again; NVD is only asked when
	// dateUpdated changed or its data is older than NVDRefresh.
	w.SetClock(func() time.Time { return t0.Add(25 * time.Hour) })
	nvdBefore := f.count("/nvd")
	w.RunOnce(ctx)
	if f.count("/cve/api/cve/CVE-2021-44228") != before+1 {
		t.Error("record not refreshed after a day")
	}
	if f.count("/nvd") != nvdBefore {
		t.Error("NVD re-asked although the record did not change")
	}
	if f.count("/kev") != 2 {
		t.Errorf("KEV fetched %d times after 25h; want 2 (a conditional request)", f.count("/kev"))
	}
}

func TestWorkerOutageKeepsCVEsListed(t *testing.T) {
	ctx := context.Background()
	f := newFakeSources(t)
	db := openStore(t, "CVE-2021-44228", "CVE-2024-3094")
	for _, p := range []string{"/cve/", "/nvd", "/epss", "/kev"} {
		f.setFail(p, func(int) int { return http.StatusServiceUnavailable })
	}
	w := NewWorker(f.client(""), db, Policy{}, quietLog())
	w.SetClock(func() time.Time { return t0 })
	done := make(chan struct{})
	go func() { w.RunOnce(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a round blocked on an outage")
	}
	// One CVE was tried (1 + 3 retries), then the source was backed off.
	if n := f.count("/cve/"); n != 4 {
		t.Errorf("CVE Services asked %d times; want 4 (one CVE, 3 retries)", n)
	}
	for _, id := range []string{"CVE-2021-44228", "CVE-2024-3094"} {
		c, err := db.CVE(ctx, id)
		if err != nil || c.State != nil || c.Verified {
			t.Errorf("%s after outage: state %s verified %v, %v; want unchecked", id, str(c.State), c.Verified, err)
		}
	}
	un, _ := db.Unlisted(ctx)
	if len(un) != 0 {
		t.Errorf("an outage unlisted %v", un)
	}
	// Backed off: the next round asks nobody.
	w.RunOnce(ctx)
	if n := f.count("/cve/"); n != 4 {
		t.Errorf("CVE Services asked during backoff (%d)", n)
	}
	// Later, the source is back.
	for _, p := range []string{"/cve/", "/epss", "/kev"} {
		f.setFail(p, func(int) int { return 0 })
	}
	f.setFail("/nvd", func(n int) int {
		if n == 1 {
			return http.StatusForbidden // NVD's throttling answer: retried
		}
		return 0
	})
	w.SetClock(func() time.Time { return t0.Add(time.Hour) })
	w.RunOnce(ctx)
	c, _ := db.CVE(ctx, "CVE-2024-3094")
	if !c.Verified {
		t.Error("not verified after the source came back")
	}
	d, _ := db.CVEData(ctx, "CVE-2024-3094")
	if d.NVDCheckedAt == nil {
		t.Error("NVD data not stored after a 403 retry")
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/api/cve/CVE-2024-0001": // a body over the cap
			w.Write([]byte(`{"dataType":"CVE_RECORD","x":"`))
			w.Write([]byte(strings.Repeat("a", maxRecordBody)))
		case "/api/cve/CVE-2024-0002": // truncated record
			w.Write([]byte(`{"dataType":"CVE_RECORD","dataVersion":"5.1","cveMetadata":{`))
		case "/api/cve/CVE-2024-0003": // 400: not retried
			w.WriteHeader(http.StatusBadRequest)
		case "/api/cve/CVE-2024-0004": // another record than asked
			w.Write(readTestdata(t, "cve5/CVE-2021-26917.json"))
		}
	}))
	defer srv.Close()
	c := NewClient(Config{CVEServicesURL: srv.URL + "/api", RetryBase: time.Millisecond, MaxRetryWait: time.Millisecond})
	for _, id := range []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"} {
		calls.Store(0)
		if _, err := c.Record(ctx, id); err == nil {
			t.Errorf("%s: no error", id)
		}
		if calls.Load() != 1 {
			t.Errorf("%s: %d requests; want 1 (no retry)", id, calls.Load())
		}
	}
	// A context deadline ends a stuck request.
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer stuck.Close()
	c = NewClient(Config{CVEServicesURL: stuck.URL, Retries: -1})
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.Record(cctx, "CVE-2024-0001"); err == nil {
		t.Error("stuck request returned no error")
	}
}

func TestNVDBudget(t *testing.T) {
	for key, want := range map[string]time.Duration{"": 6500 * time.Millisecond, "k": 650 * time.Millisecond} {
		if got := NewClient(Config{NVDAPIKey: key}).NVDInterval(); got != want {
			t.Errorf("key %q: NVD interval %s; want %s (5 or 50 requests per 30 s)", key, got, want)
		}
	}
}

// TestWorkerRecordChanged: a record whose dateUpdated changed is stored and
// sends the worker to NVD again; an unchanged one does not.
func TestWorkerRecordChanged(t *testing.T) {
	ctx := context.Background()
	f := newFakeSources(t)
	current := f.records["CVE-2024-3094"]
	f.mu.Lock()
	f.records["CVE-2024-3094"] = readTestdata(t, "cve5/history/CVE-2024-3094.2024-03-29.json")
	f.mu.Unlock()
	db := openStore(t, "CVE-2024-3094")
	w := NewWorker(f.client(""), db, Policy{}, quietLog())
	w.SetClock(func() time.Time { return t0 })
	w.RunOnce(ctx)
	d, _ := db.CVEData(ctx, "CVE-2024-3094")
	if day(d.RecordUpdated) != "2024-03-29T18:26:59.1Z" || f.count("/nvd") != 1 {
		t.Fatalf("first version: updated %s, nvd asked %d", day(d.RecordUpdated), f.count("/nvd"))
	}
	f.mu.Lock()
	f.records["CVE-2024-3094"] = current
	f.mu.Unlock()
	w.SetClock(func() time.Time { return t0.Add(25 * time.Hour) })
	w.RunOnce(ctx)
	d, _ = db.CVEData(ctx, "CVE-2024-3094")
	if day(d.RecordUpdated) != "2025-11-20T07:17:48.594Z" || f.count("/nvd") != 2 {
		t.Fatalf("changed record: updated %s, nvd asked %d; want the new dateUpdated and a second NVD request", day(d.RecordUpdated), f.count("/nvd"))
	}
	if len(d.References) != 55 {
		t.Errorf("references = %d; want the new version's 55", len(d.References))
	}
	w.SetClock(func() time.Time { return t0.Add(50 * time.Hour) })
	w.RunOnce(ctx)
	if f.count("/nvd") != 2 {
		t.Error("NVD asked again for an unchanged record")
	}
}
