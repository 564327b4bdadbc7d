package enrich

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

type memStore struct {
	ImportStore
	recs map[string]store.CVERecord
}

func (m *memStore) SaveRecords(ctx context.Context, recs []store.CVERecord, next time.Time) (int, error) {
	for _, r := range recs {
		m.recs[r.ID] = r
	}
	return len(recs), nil
}

// zipEntry is one entry to write: raw entries carry sizes and CRC in the
// local header (as Python's zipfile and Info-ZIP write them); others use a
// trailing data descriptor (as Go's writer and streaming tools do).
type zipEntry struct {
	name   string
	data   []byte
	method uint16
	raw    bool
	badCRC bool
}

func writeZip(t *testing.T, path string, entries []zipEntry) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		if !e.raw {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(e.data)
			continue
		}
		comp := e.data
		if e.method == zip.Deflate {
			var b bytes.Buffer
			fw, _ := flate.NewWriter(&b, flate.BestSpeed)
			fw.Write(e.data)
			fw.Close()
			comp = b.Bytes()
		}
		crc := crc32.ChecksumIEEE(e.data)
		if e.badCRC {
			crc++
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: e.method, CRC32: crc,
			CompressedSize64: uint64(len(comp)), UncompressedSize64: uint64(len(e.data))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestImportZipShapes(t *testing.T) {
	log4 := readTestdata(t, "cve5/CVE-2021-44228.json")
	xz := readTestdata(t, "cve5/CVE-2024-3094.json")
	rej := readTestdata(t, "cve5/CVE-2023-52071.json")
	tests := []struct {
		name    string
		entries []zipEntry
		stored  []string
		summary string
	}{
		{"sizes in headers, deflate and store", []zipEntry{
			{name: "cves/2021/44xxx/CVE-2021-44228.json", data: log4, method: zip.Deflate, raw: true},
			{name: "cves/2024/3xxx/CVE-2024-3094.json", data: xz, method: zip.Store, raw: true},
			{name: "cves/delta.json", data: []byte(`{}`), method: zip.Deflate, raw: true},
		}, []string{"CVE-2021-44228", "CVE-2024-3094"}, "2 read, 2 stored, 0 skipped"},
		{"data descriptors", []zipEntry{
			{name: "cvelistV5-main/cves/2021/44xxx/CVE-2021-44228.json", data: log4, method: zip.Deflate},
			{name: "cvelistV5-main/cves/2023/52xxx/CVE-2023-52071.json", data: rej, method: zip.Deflate},
		}, []string{"CVE-2021-44228", "CVE-2023-52071"}, "2 read, 2 stored, 0 skipped"},
		// Stored entries with descriptors cannot be streamed: read by index.
		{"stored with descriptor", []zipEntry{
			{name: "cves/2021/44xxx/CVE-2021-44228.json", data: log4, method: zip.Deflate},
			{name: "cves/2024/3xxx/CVE-2024-3094.json", data: xz, method: zip.Store},
		}, []string{"CVE-2021-44228", "CVE-2024-3094"}, "2 read, 2 stored, 0 skipped"},
		{"corrupt and hostile", []zipEntry{
			{name: "cves/2021/44xxx/CVE-2021-44228.json", data: log4, method: zip.Deflate, raw: true, badCRC: true},
			{name: "/etc/CVE-2024-3094.json", data: xz, method: zip.Deflate, raw: true},
			{name: "cves/../../CVE-2024-3094.json", data: xz, method: zip.Deflate},
			{name: "cves/2023/52xxx/CVE-2023-52071.json", data: rej, method: zip.Deflate},
		}, []string{"CVE-2023-52071"}, "4 read, 1 stored, 3 skipped (1 corrupt zip entry (CRC mismatch), 2 unsafe path in zip)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "list.zip")
			writeZip(t, p, tt.entries)
			st := &memStore{recs: map[string]store.CVERecord{}}
			sum, err := ImportCVEList(context.Background(), st, p, ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := sum.String(); got != tt.summary {
				t.Errorf("summary %q; want %q", got, tt.summary)
			}
			if len(st.recs) != len(tt.stored) {
				t.Errorf("stored %d records; want %v", len(st.recs), tt.stored)
			}
			for _, id := range tt.stored {
				if _, ok := st.recs[id]; !ok {
					t.Errorf("%s not stored", id)
				}
			}
		})
	}
	// Not a zip at all.
	p := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(p, []byte(strings.Repeat("junk", 10)), 0o644)
	if _, err := ImportCVEList(context.Background(), &memStore{recs: map[string]store.CVERecord{}}, p, ImportOptions{}); err == nil {
		t.Error("junk file imported without error")
	}
}
