package store

import (
	"context"
	"testing"
	"time"
)

func sp(s string) *string { return &s }

func tp(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestEnrichMergeAndSync(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	// A post mentions two CVEs before anything is known about them.
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{
		post("https://x.example/s/1", t0.Add(-time.Hour), "alice", "CVE-2021-44228", "CVE-2024-0001"),
	}}); err != nil {
		t.Fatal(err)
	}
	c, err := db.CVE(ctx, "CVE-2021-44228")
	if err != nil || c.Verified || c.State != nil || c.CVSSVector != nil {
		t.Fatalf("unchecked CVE = %+v, %v; want unverified and empty", c, err)
	}

	nvd := NVDRecord{ID: "CVE-2021-44228", Status: "Analyzed", SourceData: SourceData{
		Description: sp("nvd text"), Vendor: sp("apache"), Product: sp("log4j"),
		CVSS: &CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10, Severity: "CRITICAL", Source: "NVD"},
		CWEs: []string{"CWE-917"}, KEVAdded: tp("2021-12-10T00:00:00Z"),
	}}
	if err := db.SaveNVD(ctx, []NVDRecord{nvd}); err != nil {
		t.Fatal(err)
	}
	c, _ = db.CVE(ctx, "CVE-2021-44228")
	if c.Vendor == nil || *c.Vendor != "apache" || c.BaseScore == nil || *c.BaseScore != 10 || !c.KEV || c.Verified {
		t.Fatalf("after NVD only: %+v", c)
	}

	rec := CVERecord{ID: "CVE-2021-44228", State: StatePublished, SourceData: SourceData{
		Description: sp("cna text"), Vendor: sp("Apache Software Foundation"), Product: sp("Apache Log4j2"),
		Published: tp("2021-12-10T00:00:00Z"), Updated: tp("2025-02-04T14:25:37Z"),
		CVSS: &CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score: 10, Severity: "critical", Source: "CISA-ADP"},
		CWEs: []string{"CWE-502", "CWE-400"}, References: []string{"https://logging.apache.org/log4j/2.x/security.html"},
	}}
	if n, err := db.SaveRecords(ctx, []CVERecord{rec}, t0.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("SaveRecords = %d, %v", n, err)
	}
	c, _ = db.CVE(ctx, "CVE-2021-44228")
	if *c.Vendor != "Apache Software Foundation" || *c.Product != "Apache Log4j2" || *c.Description != "cna text" ||
		*c.BaseSeverity != "CRITICAL" || !c.Verified || *c.State != StatePublished {
		t.Fatalf("after record: %+v", c)
	}
	d, err := db.CVEData(ctx, "CVE-2021-44228")
	if err != nil {
		t.Fatal(err)
	}
	if *d.CVSSSource != "CISA-ADP" || len(d.CWEs) != 2 || d.CWEs[0] != "CWE-502" || len(d.References) != 1 || !d.KEV {
		t.Fatalf("CVEData = %+v", d)
	}

	// An older version of the record (e.g. a stale import) changes nothing.
	old := rec
	old.Description, old.Updated = sp("old text"), tp("2021-12-10T00:00:00Z")
	if n, err := db.SaveRecords(ctx, []CVERecord{old}, t0); err != nil || n != 0 {
		t.Fatalf("older record stored %d, %v; want 0", n, err)
	}
	c, _ = db.CVE(ctx, "CVE-2021-44228")
	if *c.Description != "cna text" {
		t.Fatalf("older record overwrote description: %q", *c.Description)
	}

	// 404 from CVE Services: unlisted as unpublished.
	if err := db.MarkUnpublished(ctx, "CVE-2024-0001", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	un, err := db.Unlisted(ctx)
	if err != nil || len(un) != 1 || un["CVE-2024-0001"] != StateUnpublished {
		t.Fatalf("Unlisted = %v, %v", un, err)
	}
}

func TestEnrichImportBeforeMention(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	rec := CVERecord{ID: "CVE-2023-52071", State: StateRejected}
	pub := CVERecord{ID: "CVE-2024-3094", State: StatePublished, SourceData: SourceData{Vendor: sp("n/a"), Product: sp("xz")}}
	if _, err := db.SaveRecords(ctx, []CVERecord{rec, pub}, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveEPSS(ctx, []EPSSScore{{ID: "CVE-2024-3094", Score: 0.84, Percentile: 0.99}}, []string{"CVE-2024-3094", "CVE-2099-0001"}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveKEV(ctx, "v1", []KEVEntry{{ID: "CVE-2024-3094", DateAdded: t0, Ransomware: "Unknown"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CVE(ctx, "CVE-2024-3094"); err == nil {
		t.Fatal("an imported CVE without posts must not be a mentioned CVE")
	}
	// Now posts arrive: the trigger copies the known data into cves.
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{
		post("https://x.example/s/1", t0.Add(-time.Hour), "alice", "CVE-2023-52071", "CVE-2024-3094", "CVE-2024-9999"),
	}}); err != nil {
		t.Fatal(err)
	}
	c, err := db.CVE(ctx, "CVE-2024-3094")
	if err != nil || !c.Verified || c.EPSS == nil || *c.EPSS != 0.84 || !c.KEV || *c.Product != "xz" {
		t.Fatalf("mentioned after import = %+v, %v", c, err)
	}
	// A new catalogue without it drops the KEV mark.
	if err := db.SaveKEV(ctx, "v2", nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.CVE(ctx, "CVE-2024-3094"); c.KEV {
		t.Fatal("KEV mark kept after the catalogue dropped the CVE")
	}
	// A complete cvelist lacked CVE-2024-9999: confirmed missing.
	n, err := db.MarkMissingUnpublished(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("MarkMissingUnpublished = %d, %v; want 1", n, err)
	}
	un, _ := db.Unlisted(ctx)
	want := map[string]string{"CVE-2023-52071": StateRejected, "CVE-2024-9999": StateUnpublished}
	if len(un) != len(want) || un["CVE-2023-52071"] != want["CVE-2023-52071"] || un["CVE-2024-9999"] != want["CVE-2024-9999"] {
		t.Fatalf("Unlisted = %v, want %v", un, want)
	}
	// Due work: nothing for rejected, 9999 due after its next check.
	due, err := db.DueRecords(ctx, t0.Add(2*time.Hour), t0.Add(-30*24*time.Hour), 10)
	if err != nil || len(due) != 1 || due[0] != "CVE-2024-9999" {
		t.Fatalf("DueRecords = %v, %v", due, err)
	}
	epss, err := db.DueEPSS(ctx, t0, t0.Add(-30*24*time.Hour), 10)
	if err != nil || len(epss) != 1 || epss[0] != "CVE-2024-9999" {
		t.Fatalf("DueEPSS = %v, %v", epss, err)
	}
	if err := db.MarkCheckFailed(ctx, "CVE-2024-9999", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d, _ := db.CVEData(ctx, "CVE-2024-9999")
	if d.CheckFailures != 2 || *d.State != StateUnpublished {
		t.Fatalf("after failure: %+v", d)
	}
}

// TestNVDRejected: NVD's "Rejected" hides a CVE only when CVE Services has
// not said otherwise.
func TestNVDRejected(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a.example", Feed: "public", Posts: []Sighted{
		post("https://x.example/s/1", t0.Add(-time.Hour), "alice", "CVE-2024-0001", "CVE-2024-0002"),
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveRecords(ctx, []CVERecord{{ID: "CVE-2024-0002", State: StatePublished}}, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveNVD(ctx, []NVDRecord{{ID: "CVE-2024-0001", Status: "Rejected"}, {ID: "CVE-2024-0002", Status: "Rejected"}}); err != nil {
		t.Fatal(err)
	}
	un, err := db.Unlisted(ctx)
	if err != nil || len(un) != 1 || un["CVE-2024-0001"] != StateRejected {
		t.Fatalf("Unlisted = %v, %v; want only CVE-2024-0001 rejected", un, err)
	}
}
