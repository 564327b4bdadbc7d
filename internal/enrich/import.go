package enrich

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// ImportStore is what offline imports need of the database.
type ImportStore interface {
	SaveRecords(ctx context.Context, recs []store.CVERecord, next time.Time) (int, error)
	SaveNVD(ctx context.Context, recs []store.NVDRecord) error
	SaveEPSS(ctx context.Context, scores []store.EPSSScore, asked []string) error
	SaveKEV(ctx context.Context, version string, entries []store.KEVEntry) error
	MarkMissingUnpublished(ctx context.Context, next time.Time) (int, error)
}

// Summary counts what an import did.
type Summary struct {
	Read        int            // records (or rows) read
	Stored      int            // written to the database
	Skipped     map[string]int // reason → count
	Unpublished int            // mentioned CVEs a complete cvelist lacked
}

// SkippedTotal is the number of skipped records.
func (s *Summary) SkippedTotal() int {
	n := 0
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

func (s *Summary) skip(reason string) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason]++
}

// String renders the summary on one line, reasons sorted.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d read, %d stored, %d skipped", s.Read, s.Stored, s.SkippedTotal())
	reasons := make([]string, 0, len(s.Skipped))
	for r := range s.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for i, r := range reasons {
		sep := " ("
		if i > 0 {
			sep = ", "
		}
		fmt.Fprintf(&b, "%s%d %s", sep, s.Skipped[r], r)
	}
	if len(reasons) > 0 {
		b.WriteString(")")
	}
	if s.Unpublished > 0 {
		fmt.Fprintf(&b, "; %d mentioned CVEs marked not yet published", s.Unpublished)
	}
	return b.String()
}

// MinCompleteRecords is the fewest records a cvelist declared complete may
// have without Force (the real list holds well over 250,000).
const MinCompleteRecords = 100_000

// ImportOptions tune an import.
type ImportOptions struct {
	// Complete says the cvelist is whole (a full cvelistV5 checkout or
	// release zip): mentioned CVEs it lacks are then confirmed missing.
	Complete bool
	// Force accepts Complete for a list smaller than MinCompleteRecords.
	Force bool
	// Batch is how many records one transaction writes; default 500.
	Batch int
	// Progress, when set, is called after every batch.
	Progress func(Summary)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

func (o *ImportOptions) defaults() {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = func(Summary) {}
	}
}

// importedRefresh is when an imported record is due for an online check
// (an online worker, if any, then refreshes it like any other).
const importedRefresh = 24 * time.Hour

// ImportCVEList imports a cvelistV5 checkout (a directory) or its zip (also
// a zip holding cves.zip, as cvelistV5's release assets do). Files are read
// one at a time — a zip front to back through its local headers — and
// written in batches, so memory does not grow with the tree. (A zip whose
// stored entries give their size only after their data cannot be streamed;
// it is read through its central directory instead.) Unreadable records
// are skipped with a reason; zip entries with unsafe paths are rejected.
func ImportCVEList(ctx context.Context, st ImportStore, src string, opt ImportOptions) (Summary, error) {
	opt.defaults()
	var sum Summary
	batch := make([]store.CVERecord, 0, opt.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := st.SaveRecords(ctx, batch, opt.Now().Add(importedRefresh))
		if err != nil {
			return err
		}
		sum.Stored += n
		for range len(batch) - n {
			sum.skip("older than the stored version")
		}
		batch = batch[:0]
		opt.Progress(sum)
		return nil
	}
	add := func(name string, open func() (io.ReadCloser, error)) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sum.Read++
		rc, err := open()
		if err != nil {
			sum.skip("unreadable file")
			return nil
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxRecordBody+1))
		rc.Close()
		switch {
		case err != nil:
			sum.skip("unreadable file")
			return nil
		case len(data) > maxRecordBody:
			sum.skip("larger than 8 MiB")
			return nil
		}
		rec, err := ParseRecord(data)
		if err != nil {
			sum.skip(skipReason(err))
			return nil
		}
		if want, _, _ := strings.Cut(path.Base(name), ".json"); !strings.EqualFold(want, rec.ID) {
			sum.skip("file name and cveId differ")
			return nil
		}
		batch = append(batch, rec)
		if len(batch) >= opt.Batch {
			return flush()
		}
		return nil
	}

	info, err := os.Stat(src)
	if err != nil {
		return sum, fmt.Errorf("import cvelist: %w", err)
	}
	if info.IsDir() {
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if d != nil && d.IsDir() && p != src {
					sum.skip("unreadable directory")
					return fs.SkipDir
				}
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != src {
				return fs.SkipDir // .git, .github
			}
			if !d.Type().IsRegular() || !isRecordName(d.Name()) {
				return nil
			}
			return add(p, func() (io.ReadCloser, error) { return os.Open(p) })
		})
	} else {
		err = streamZipFile(src, &sum, add)
		if errors.Is(err, errNeedIndex) {
			// Start over through the central directory; records already
			// written are written again, identically.
			sum, batch = Summary{}, batch[:0]
			err = importZip(src, &sum, add, 0)
		}
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		return sum, fmt.Errorf("import cvelist %s: %w", src, err)
	}
	if opt.Complete && !opt.Force && sum.Read < MinCompleteRecords {
		// A partial list declared complete would move every mentioned CVE
		// it lacks out of the ranking: an empty page, with no way back offline.
		return sum, fmt.Errorf("import cvelist %s: refusing --complete: only %d records read, a whole cvelistV5 has over %d; pass --force if this really is the whole list", src, sum.Read, MinCompleteRecords)
	}
	if opt.Complete {
		if sum.Unpublished, err = st.MarkMissingUnpublished(ctx, opt.Now().Add(30*time.Minute)); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func importZip(src string, sum *Summary, add func(string, func() (io.ReadCloser, error)) error, depth int) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("not a directory nor a readable zip: %w", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		name := f.Name
		if !isRecordName(path.Base(name)) {
			if strings.HasSuffix(strings.ToLower(name), ".zip") {
				// cvelistV5's release assets wrap cves.zip in another zip.
				if depth > 0 || !safeZipPath(name) {
					sum.skip("nested zip too deep or unsafe")
					continue
				}
				if err := importInnerZip(f, sum, add); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			continue
		}
		if !safeZipPath(name) {
			sum.Read++
			sum.skip("unsafe path in zip")
			continue
		}
		if err := add(name, f.Open); err != nil {
			return err
		}
	}
	return nil
}

// importInnerZip copies a zip inside the zip to a temporary file (zip needs
// random access) and imports it.
func importInnerZip(f *zip.File, sum *Summary, add func(string, func() (io.ReadCloser, error)) error) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "cvecrowd-cvelist-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, rc); err != nil {
		return fmt.Errorf("copy to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return importZip(tmp.Name(), sum, add, 1)
}

// safeZipPath rejects entries that would escape a directory if extracted
// (absolute paths, "..", backslashes, drive letters): such a zip is hostile
// or broken, and its records are not trusted.
func safeZipPath(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") || (len(name) > 1 && name[1] == ':') {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

func isRecordName(name string) bool {
	return strings.HasPrefix(name, "CVE-") && strings.HasSuffix(name, ".json")
}

func skipReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, ErrUnknownFormat):
		return "not a CVE JSON 5 record (dataType, dataVersion, cveId or state)"
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "unexpected end of JSON"):
		return "invalid or truncated JSON"
	case errors.As(err, &te):
		return "field of the wrong type"
	default:
		return "invalid field"
	}
}

// readMaybeGzip reads a whole file, gunzipping it when it starts with the
// gzip magic, up to max bytes.
// maxNVDPageFile bounds one saved NVD page, decompressed.
const maxNVDPageFile = 48 << 20

func readMaybeGzip(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	head := make([]byte, 2)
	n, _ := io.ReadFull(f, head)
	r = io.MultiReader(bytes.NewReader(head[:n]), f)
	if n == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than %d MiB", max>>20)
	}
	return data, nil
}

// ImportNVD imports NVD CVE API 2.0 response pages saved as *.json (or
// *.json.gz) files under dir.
func ImportNVD(ctx context.Context, st ImportStore, dir string, opt ImportOptions) (Summary, error) {
	opt.defaults()
	var sum Summary
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := strings.ToLower(d.Name())
		if !d.Type().IsRegular() || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz")) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// A saved API page holds at most 2,000 CVEs (a few MB); the cap
		// keeps a hostile or corrupt file from taking the machine's memory.
		data, err := readMaybeGzip(p, maxNVDPageFile)
		if err != nil {
			sum.skip("unreadable page file")
			return nil
		}
		page, err := ParseNVD(data)
		if err != nil {
			sum.skip("not an NVD CVE API 2.0 page")
			return nil
		}
		sum.Read += len(page.Records) + len(page.Skipped)
		for range page.Skipped {
			sum.skip("unreadable NVD entry")
		}
		for i := 0; i < len(page.Records); i += opt.Batch {
			part := page.Records[i:min(i+opt.Batch, len(page.Records))]
			if err := st.SaveNVD(ctx, part); err != nil {
				return err
			}
			sum.Stored += len(part)
			opt.Progress(sum)
		}
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("import nvd %s: %w", dir, err)
	}
	return sum, nil
}

// ImportEPSS imports the EPSS daily CSV (gzipped or not), streamed.
func ImportEPSS(ctx context.Context, st ImportStore, file string, opt ImportOptions) (Summary, error) {
	opt.defaults()
	var sum Summary
	f, err := os.Open(file)
	if err != nil {
		return sum, fmt.Errorf("import epss: %w", err)
	}
	defer f.Close()
	batch := make([]store.EPSSScore, 0, opt.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.SaveEPSS(ctx, batch, nil); err != nil {
			return err
		}
		sum.Stored += len(batch)
		batch = batch[:0]
		opt.Progress(sum)
		return nil
	}
	err = ReadEPSSCSV(f, func(s store.EPSSScore) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sum.Read++
		batch = append(batch, s)
		if len(batch) >= opt.Batch {
			return flush()
		}
		return nil
	}, func(line int, err error) {
		sum.Read++
		sum.skip("invalid CSV row")
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return sum, fmt.Errorf("import epss %s: %w", file, err)
	}
	return sum, nil
}

// ImportKEV imports the CISA KEV catalogue JSON file: it replaces the
// catalogue known so far.
func ImportKEV(ctx context.Context, st ImportStore, file string, opt ImportOptions) (Summary, error) {
	opt.defaults()
	var sum Summary
	data, err := readMaybeGzip(file, maxKEVBody)
	if err != nil {
		return sum, fmt.Errorf("import kev: %w", err)
	}
	cat, err := ParseKEV(data)
	if err != nil {
		return sum, fmt.Errorf("import kev %s: %w", file, err)
	}
	sum.Read = len(cat.Entries) + len(cat.Skipped)
	for range cat.Skipped {
		sum.skip("invalid KEV entry")
	}
	if err := st.SaveKEV(ctx, cat.Version, cat.Entries); err != nil {
		return sum, fmt.Errorf("import kev %s: %w", file, err)
	}
	sum.Stored = len(cat.Entries)
	return sum, nil
}
