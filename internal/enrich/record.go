// Package enrich fetches and parses official CVE data — CVE records (CVE JSON 5), NVD, FIRST EPSS and CISA KEV — and keeps it fresh in the store.
package enrich

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// ErrUnknownFormat marks input that is not the format a parser reads (wrong
// dataType, an unknown dataVersion major, a missing ID). Callers skip it.
var ErrUnknownFormat = errors.New("unknown format")

type cve5JSON struct {
	DataType    string `json:"dataType"`
	DataVersion string `json:"dataVersion"`
	CVEMetadata struct {
		CVEID         string `json:"cveId"`
		State         string `json:"state"`
		DatePublished string `json:"datePublished"`
		DateUpdated   string `json:"dateUpdated"`
		DateRejected  string `json:"dateRejected"`
	} `json:"cveMetadata"`
	Containers struct {
		CNA container   `json:"cna"`
		ADP []container `json:"adp"`
	} `json:"containers"`
}

type container struct {
	ProviderMetadata struct {
		ShortName string `json:"shortName"`
	} `json:"providerMetadata"`
	Descriptions []langValue `json:"descriptions"`
	Affected     []struct {
		Vendor      string `json:"vendor"`
		Product     string `json:"product"`
		PackageName string `json:"packageName"`
	} `json:"affected"`
	Metrics      []metric5 `json:"metrics"`
	ProblemTypes []struct {
		Descriptions []struct {
			CWEID       string `json:"cweId"`
			Description string `json:"description"`
		} `json:"descriptions"`
	} `json:"problemTypes"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

type langValue struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

type cvssJSON struct {
	Version      string   `json:"version"`
	VectorString string   `json:"vectorString"`
	BaseScore    *float64 `json:"baseScore"`
	BaseSeverity string   `json:"baseSeverity"`
}

type metric5 struct {
	V40   *cvssJSON `json:"cvssV4_0"`
	V31   *cvssJSON `json:"cvssV3_1"`
	V30   *cvssJSON `json:"cvssV3_0"`
	V20   *cvssJSON `json:"cvssV2_0"`
	Other *struct {
		Type    string `json:"type"`
		Content struct {
			DateAdded string `json:"dateAdded"`
		} `json:"content"`
	} `json:"other"`
}

// ParseRecord reads one CVE record in CVE JSON 5.x, the format of CVE
// Services and of the cvelistV5 repository, and selects SPEC §3's fields:
//   - description: the English one of the CNA;
//   - vendor/product: the first CNA affected[] entry with a product (or
//     packageName) that is not "n/a"; its vendor unless "n/a";
//   - CVSS: the first source that has one, in the order CNA, CISA-ADP; within
//     a source the newest version (4.0, 3.1, 3.0, 2.0);
//   - CWE: the CNA's problem types, else the ADPs';
//   - references: CNA then ADP URLs, de-duplicated;
//   - KEV: the CISA-ADP "kev" metric's dateAdded.
//
// A REJECTED record keeps only its ID, state and dates.
func ParseRecord(data []byte) (store.CVERecord, error) {
	var r cve5JSON
	if err := json.Unmarshal(data, &r); err != nil {
		return store.CVERecord{}, fmt.Errorf("enrich: cve record: %w", err)
	}
	if r.DataType != "CVE_RECORD" {
		return store.CVERecord{}, fmt.Errorf("enrich: cve record: dataType %q: %w", trunc(r.DataType), ErrUnknownFormat)
	}
	if major, _, _ := strings.Cut(r.DataVersion, "."); major != "5" {
		return store.CVERecord{}, fmt.Errorf("enrich: cve record: dataVersion %q: %w", trunc(r.DataVersion), ErrUnknownFormat)
	}
	id, err := cve.Parse(r.CVEMetadata.CVEID)
	if err != nil {
		return store.CVERecord{}, fmt.Errorf("enrich: cve record: cveId %q: %w", trunc(r.CVEMetadata.CVEID), ErrUnknownFormat)
	}
	out := store.CVERecord{ID: string(id)}
	m := r.CVEMetadata
	if out.Updated, err = parseTimePtr(m.DateUpdated); err != nil {
		return store.CVERecord{}, fmt.Errorf("enrich: cve record %s: dateUpdated: %w", id, err)
	}
	switch m.State {
	case store.StateRejected:
		out.State = store.StateRejected
		return out, nil
	case store.StatePublished:
		out.State = store.StatePublished
	default:
		return store.CVERecord{}, fmt.Errorf("enrich: cve record %s: state %q: %w", id, trunc(m.State), ErrUnknownFormat)
	}
	if out.Published, err = parseTimePtr(m.DatePublished); err != nil {
		return store.CVERecord{}, fmt.Errorf("enrich: cve record %s: datePublished: %w", id, err)
	}
	cna := &r.Containers.CNA
	out.Description = english(cna.Descriptions)
	for _, a := range cna.Affected {
		product := known(a.Product)
		if product == nil {
			product = known(a.PackageName)
		}
		if product != nil {
			out.Vendor, out.Product = known(a.Vendor), product
			break
		}
	}
	out.CVSS = bestCVSS5(cna.Metrics, "CNA")
	for i := range r.Containers.ADP {
		adp := &r.Containers.ADP[i]
		if adp.ProviderMetadata.ShortName != "CISA-ADP" {
			continue
		}
		if out.CVSS == nil {
			out.CVSS = bestCVSS5(adp.Metrics, "CISA-ADP")
		}
		for _, mt := range adp.Metrics {
			if mt.Other != nil && mt.Other.Type == "kev" && out.KEVAdded == nil {
				out.KEVAdded, _ = parseTimePtr(mt.Other.Content.DateAdded)
			}
		}
	}
	out.CWEs = cwes5(cna)
	for i := 0; len(out.CWEs) == 0 && i < len(r.Containers.ADP); i++ {
		out.CWEs = cwes5(&r.Containers.ADP[i])
	}
	seen := map[string]bool{}
	for _, c := range append([]container{*cna}, r.Containers.ADP...) {
		for _, ref := range c.References {
			if u := strings.TrimSpace(ref.URL); u != "" && !seen[u] {
				seen[u] = true
				out.References = append(out.References, u)
			}
		}
	}
	return out, nil
}

func bestCVSS5(ms []metric5, source string) *store.CVSS {
	for _, pick := range []func(m metric5) (*cvssJSON, string){
		func(m metric5) (*cvssJSON, string) { return m.V40, "4.0" },
		func(m metric5) (*cvssJSON, string) { return m.V31, "3.1" },
		func(m metric5) (*cvssJSON, string) { return m.V30, "3.0" },
		func(m metric5) (*cvssJSON, string) { return m.V20, "2.0" },
	} {
		for _, m := range ms {
			if c, v := pick(m); c != nil {
				if out := toCVSS(c, v, source); out != nil {
					return out
				}
			}
		}
	}
	return nil
}

func toCVSS(c *cvssJSON, version, source string) *store.CVSS {
	if c.VectorString == "" || c.BaseScore == nil || *c.BaseScore < 0 || *c.BaseScore > 10 {
		return nil
	}
	sev := strings.ToUpper(strings.TrimSpace(c.BaseSeverity))
	if sev == "" {
		sev = severity(version, *c.BaseScore)
	}
	return &store.CVSS{Version: version, Vector: c.VectorString, Score: *c.BaseScore, Severity: sev, Source: source}
}

// severity derives the qualitative rating when a record gives only the score.
func severity(version string, score float64) string {
	if version == "2.0" {
		switch {
		case score < 4:
			return "LOW"
		case score < 7:
			return "MEDIUM"
		default:
			return "HIGH"
		}
	}
	switch {
	case score == 0:
		return "NONE"
	case score < 4:
		return "LOW"
	case score < 7:
		return "MEDIUM"
	case score < 9:
		return "HIGH"
	default:
		return "CRITICAL"
	}
}

var cweRE = regexp.MustCompile(`^CWE-[0-9]{1,5}\b`)

func cwes5(c *container) []string {
	var out []string
	for _, pt := range c.ProblemTypes {
		for _, d := range pt.Descriptions {
			id := strings.TrimSpace(d.CWEID)
			if id == "" {
				// Some CNAs put the ID only in the text: "CWE-125 Out-of-bounds Read".
				id = cweRE.FindString(strings.TrimSpace(d.Description))
			}
			if cweRE.MatchString(id) && !contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// english picks the English text of a description list (lang "en" or
// "en-XX"), else the first one.
func english(ds []langValue) *string {
	var pick *langValue
	for i := range ds {
		l := strings.ToLower(ds[i].Lang)
		if (l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_")) && strings.TrimSpace(ds[i].Value) != "" {
			pick = &ds[i]
			break
		}
	}
	if pick == nil {
		for i := range ds {
			if strings.TrimSpace(ds[i].Value) != "" {
				pick = &ds[i]
				break
			}
		}
	}
	if pick == nil {
		return nil
	}
	s := strings.TrimSpace(pick.Value)
	return &s
}

// known returns s trimmed, or nil when it says nothing ("", "n/a", "*", "-").
func known(s string) *string {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "n/a", "na", "*", "-", "unknown", "unspecified":
		return nil
	}
	return &s
}

// timeLayouts are the timestamp shapes the sources use: RFC 3339 with a zone
// ("2021-12-10T00:00:00.000Z"), zone-less with or without fractions
// ("2023-08-28T08:04:05.477696", "2021-02-08T22:22:51", NVD's
// "2023-10-12T19:15:11.747"), and bare dates ("2021-12-10"). Zone-less
// times are UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02"}

// ParseTime reads a timestamp in any of the sources' formats.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", trunc(s))
}

func parseTimePtr(s string) (*time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
