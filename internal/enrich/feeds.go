package enrich

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

type epssAPI struct {
	Status string `json:"status"`
	Total  int    `json:"total"`
	Data   []struct {
		CVE        string `json:"cve"`
		EPSS       string `json:"epss"`
		Percentile string `json:"percentile"`
		Date       string `json:"date"`
	} `json:"data"`
}

// ParseEPSS reads a FIRST EPSS API answer. Its numbers are strings; a row
// that does not parse is skipped (and reported), the others kept.
func ParseEPSS(data []byte) ([]store.EPSSScore, []error, error) {
	var a epssAPI
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, nil, fmt.Errorf("enrich: epss answer: %w", err)
	}
	if a.Status != "" && !strings.EqualFold(a.Status, "OK") {
		return nil, nil, fmt.Errorf("enrich: epss answer: status %q", trunc(a.Status))
	}
	var out []store.EPSSScore
	var skipped []error
	for _, d := range a.Data {
		s, err := epssRow(d.CVE, d.EPSS, d.Percentile, d.Date)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		out = append(out, s)
	}
	return out, skipped, nil
}

func epssRow(id, score, pct, date string) (store.EPSSScore, error) {
	cid, err := cve.Parse(strings.TrimSpace(id))
	if err != nil {
		return store.EPSSScore{}, fmt.Errorf("epss row %q: not a CVE ID", trunc(id))
	}
	s := store.EPSSScore{ID: string(cid)}
	if s.Score, err = unitFloat(score); err != nil {
		return store.EPSSScore{}, fmt.Errorf("epss row %s: epss: %w", cid, err)
	}
	if s.Percentile, err = unitFloat(pct); err != nil {
		return store.EPSSScore{}, fmt.Errorf("epss row %s: percentile: %w", cid, err)
	}
	if s.Date, err = parseTimePtr(date); err != nil {
		return store.EPSSScore{}, fmt.Errorf("epss row %s: date: %w", cid, err)
	}
	return s, nil
}

func unitFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%q is not a probability", trunc(s))
	}
	return f, nil
}

// ReadEPSSCSV streams the EPSS daily file (epss_scores-YYYY-MM-DD.csv, gzipped
// or not): an optional "#model_version:...,score_date:..." comment line, a
// "cve,epss,percentile" header, then one row per CVE. fn gets every good
// row; bad rows go to skip with the reason. Memory does not grow with the file.
func ReadEPSSCSV(r io.Reader, fn func(store.EPSSScore) error, skip func(line int, err error)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("enrich: epss csv: gzip: %w", err)
		}
		defer gz.Close()
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	// No EPSS line comes near 64 KiB; a longer one is garbage, and reading
	// it whole would let a small gzip expand into gigabytes of memory.
	br = bufio.NewReaderSize(&lineLimit{r: br, max: maxCSVLine}, 64<<10)
	var date string
	if first, _ := br.Peek(1); len(first) == 1 && first[0] == '#' {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("enrich: epss csv: %w", err)
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "#")), ",") {
			if k, v, ok := strings.Cut(kv, ":"); ok && strings.TrimSpace(k) == "score_date" {
				date = strings.TrimSpace(v)
			}
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("enrich: epss csv: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	ci, ok1 := col["cve"]
	ei, ok2 := col["epss"]
	pi, ok3 := col["percentile"]
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("enrich: epss csv: header %q lacks cve,epss,percentile: %w", trunc(strings.Join(header, ",")), ErrUnknownFormat)
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				skip(line, err)
				continue
			}
			return fmt.Errorf("enrich: epss csv: %w", err)
		}
		if len(rec) <= max(ci, ei, pi) {
			skip(line, fmt.Errorf("epss row has %d fields", len(rec)))
			continue
		}
		s, err := epssRow(rec[ci], rec[ei], rec[pi], date)
		if err != nil {
			skip(line, err)
			continue
		}
		if err := fn(s); err != nil {
			return err
		}
	}
}

type kevCatalog struct {
	Title           string `json:"title"`
	CatalogVersion  string `json:"catalogVersion"`
	DateReleased    string `json:"dateReleased"`
	Vulnerabilities []struct {
		CVEID                      string `json:"cveID"`
		DateAdded                  string `json:"dateAdded"`
		KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse"`
	} `json:"vulnerabilities"`
}

// KEVCatalog is the parsed CISA KEV catalogue.
type KEVCatalog struct {
	Version string
	Entries []store.KEVEntry
	Skipped []error
}

// ParseKEV reads the CISA KEV catalogue JSON (the current schema and the
// older one without knownRansomwareCampaignUse).
func ParseKEV(data []byte) (KEVCatalog, error) {
	var c kevCatalog
	if err := json.Unmarshal(data, &c); err != nil {
		return KEVCatalog{}, fmt.Errorf("enrich: kev catalogue: %w", err)
	}
	if c.Vulnerabilities == nil {
		return KEVCatalog{}, fmt.Errorf("enrich: kev catalogue: no vulnerabilities list: %w", ErrUnknownFormat)
	}
	out := KEVCatalog{Version: strings.TrimSpace(c.CatalogVersion)}
	if out.Version == "" {
		out.Version = strings.TrimSpace(c.DateReleased)
	}
	if out.Version == "" {
		out.Version = time.Now().UTC().Format(time.RFC3339)
	}
	for _, v := range c.Vulnerabilities {
		id, err := cve.Parse(strings.TrimSpace(v.CVEID))
		if err != nil {
			out.Skipped = append(out.Skipped, fmt.Errorf("kev entry %q: not a CVE ID", trunc(v.CVEID)))
			continue
		}
		added, err := ParseTime(v.DateAdded)
		if err != nil {
			out.Skipped = append(out.Skipped, fmt.Errorf("kev entry %s: dateAdded: %w", id, err))
			continue
		}
		out.Entries = append(out.Entries, store.KEVEntry{ID: string(id), DateAdded: added, Ransomware: strings.TrimSpace(v.KnownRansomwareCampaignUse)})
	}
	return out, nil
}

// maxCSVLine is the longest line an EPSS CSV may have.
const maxCSVLine = 64 << 10

// errLineTooLong reports a CSV line over maxCSVLine.
var errLineTooLong = errors.New("line longer than 64 KiB: not an EPSS CSV")

// lineLimit fails a read once a line runs past max bytes.
type lineLimit struct {
	r   io.Reader
	max int
	cur int // bytes since the last newline
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			l.cur = 0
			continue
		}
		l.cur++
		if l.cur > l.max {
			return i, errLineTooLong
		}
	}
	return n, err
}
