package enrich

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

type nvdPage struct {
	ResultsPerPage  int    `json:"resultsPerPage"`
	StartIndex      int    `json:"startIndex"`
	TotalResults    int    `json:"totalResults"`
	Format          string `json:"format"`
	Version         string `json:"version"`
	Vulnerabilities []struct {
		CVE nvdCVE `json:"cve"`
	} `json:"vulnerabilities"`
}

type nvdMetric struct {
	Source       string   `json:"source"`
	Type         string   `json:"type"`
	CVSSData     cvssJSON `json:"cvssData"`
	BaseSeverity string   `json:"baseSeverity"` // CVSS 2.0 keeps it outside cvssData
}

type nvdCVE struct {
	ID             string      `json:"id"`
	Published      string      `json:"published"`
	LastModified   string      `json:"lastModified"`
	VulnStatus     string      `json:"vulnStatus"`
	CISAExploitAdd string      `json:"cisaExploitAdd"`
	Descriptions   []langValue `json:"descriptions"`
	Metrics        struct {
		V40 []nvdMetric `json:"cvssMetricV40"`
		V31 []nvdMetric `json:"cvssMetricV31"`
		V30 []nvdMetric `json:"cvssMetricV30"`
		V2  []nvdMetric `json:"cvssMetricV2"`
	} `json:"metrics"`
	Weaknesses []struct {
		Type        string      `json:"type"`
		Description []langValue `json:"description"`
	} `json:"weaknesses"`
	Configurations []struct {
		Nodes []struct {
			CPEMatch []struct {
				Vulnerable bool   `json:"vulnerable"`
				Criteria   string `json:"criteria"`
			} `json:"cpeMatch"`
		} `json:"nodes"`
	} `json:"configurations"`
	References []struct {
		URL string `json:"url"`
	} `json:"references"`
}

// NVDPage is a parsed NVD CVE API 2.0 response.
type NVDPage struct {
	StartIndex   int
	TotalResults int
	Records      []store.NVDRecord
	Skipped      []error // entries that could not be read; the others are kept
}

// ParseNVD reads an NVD CVE API 2.0 response page. Fields the parser does
// not know are ignored; an envelope without "vulnerabilities" is an empty
// page. Per entry it keeps: the English description; vendor/product of the
// first vulnerable CPE match; the newest CVSS version of NVD's Primary
// metrics (else of the Secondary ones, which NVD copies from the CNA);
// CWE IDs; references; cisaExploitAdd.
func ParseNVD(data []byte) (NVDPage, error) {
	var p nvdPage
	if err := json.Unmarshal(data, &p); err != nil {
		return NVDPage{}, fmt.Errorf("enrich: nvd page: %w", err)
	}
	if p.Format != "" && p.Format != "NVD_CVE" {
		return NVDPage{}, fmt.Errorf("enrich: nvd page: format %q: %w", trunc(p.Format), ErrUnknownFormat)
	}
	if major, _, _ := strings.Cut(p.Version, "."); p.Version != "" && major != "2" {
		return NVDPage{}, fmt.Errorf("enrich: nvd page: version %q: %w", trunc(p.Version), ErrUnknownFormat)
	}
	out := NVDPage{StartIndex: p.StartIndex, TotalResults: p.TotalResults}
	for _, v := range p.Vulnerabilities {
		r, err := nvdRecord(&v.CVE)
		if err != nil {
			out.Skipped = append(out.Skipped, err)
			continue
		}
		out.Records = append(out.Records, r)
	}
	return out, nil
}

func nvdRecord(c *nvdCVE) (store.NVDRecord, error) {
	id, err := cve.Parse(c.ID)
	if err != nil {
		return store.NVDRecord{}, fmt.Errorf("enrich: nvd entry %q: %w", trunc(c.ID), ErrUnknownFormat)
	}
	r := store.NVDRecord{ID: string(id), Status: strings.TrimSpace(c.VulnStatus)}
	if r.Published, err = parseTimePtr(c.Published); err != nil {
		return store.NVDRecord{}, fmt.Errorf("enrich: nvd entry %s: published: %w", id, err)
	}
	if r.Updated, err = parseTimePtr(c.LastModified); err != nil {
		return store.NVDRecord{}, fmt.Errorf("enrich: nvd entry %s: lastModified: %w", id, err)
	}
	r.KEVAdded, _ = parseTimePtr(c.CISAExploitAdd)
	r.Description = english(c.Descriptions)
	for _, typ := range []string{"Primary", "Secondary"} {
		r.CVSS = bestNVDCVSS(c, typ)
		if r.CVSS != nil {
			break
		}
	}
cpe:
	for _, cfg := range c.Configurations {
		for _, n := range cfg.Nodes {
			for _, m := range n.CPEMatch {
				if !m.Vulnerable {
					continue
				}
				if v, p := cpeVendorProduct(m.Criteria); p != nil {
					r.Vendor, r.Product = v, p
					break cpe
				}
			}
		}
	}
	for _, typ := range []string{"Primary", "Secondary"} {
		for _, w := range c.Weaknesses {
			if w.Type != typ {
				continue
			}
			for _, d := range w.Description {
				if id := strings.TrimSpace(d.Value); cweRE.MatchString(id) && !contains(r.CWEs, id) {
					r.CWEs = append(r.CWEs, id)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, ref := range c.References {
		if u := strings.TrimSpace(ref.URL); u != "" && !seen[u] {
			seen[u] = true
			r.References = append(r.References, u)
		}
	}
	return r, nil
}

func bestNVDCVSS(c *nvdCVE, typ string) *store.CVSS {
	for _, set := range []struct {
		ms      []nvdMetric
		version string
	}{{c.Metrics.V40, "4.0"}, {c.Metrics.V31, "3.1"}, {c.Metrics.V30, "3.0"}, {c.Metrics.V2, "2.0"}} {
		for _, m := range set.ms {
			if m.Type != typ {
				continue
			}
			d := m.CVSSData
			if d.BaseSeverity == "" {
				d.BaseSeverity = m.BaseSeverity
			}
			source := "NVD"
			if typ != "Primary" {
				source = m.Source
			}
			if out := toCVSS(&d, set.version, source); out != nil {
				return out
			}
		}
	}
	return nil
}

// cpeVendorProduct reads the vendor and product of a CPE 2.3 formatted
// string (cpe:2.3:part:vendor:product:...), undoing its backslash escapes.
func cpeVendorProduct(s string) (vendor, product *string) {
	parts := splitCPE(s)
	if len(parts) < 5 || parts[0] != "cpe" || parts[1] != "2.3" {
		return nil, nil
	}
	return known(parts[3]), known(parts[4])
}

func splitCPE(s string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ':':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(parts, b.String())
}
