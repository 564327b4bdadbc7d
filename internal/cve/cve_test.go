package cve

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	next := time.Now().Year() + 1
	tests := []struct {
		name    string
		in      string
		want    ID
		wantErr string // substring of the error; "" means success
	}{
		{"canonical", "CVE-2024-3094", "CVE-2024-3094", ""},
		{"lower case", "cve-2024-3094", "CVE-2024-3094", ""},
		{"mixed case", "Cve-2021-44228", "CVE-2021-44228", ""},
		{"surrounding spaces", "  CVE-2024-3094 \t\n", "CVE-2024-3094", ""},
		{"4-digit sequence may start with 0", "CVE-2024-0123", "CVE-2024-0123", ""},
		{"all-zero 4-digit sequence", "CVE-2014-0000", "CVE-2014-0000", ""},
		{"7-digit sequence", "CVE-2024-1234567", "CVE-2024-1234567", ""},
		{"first year", "CVE-1999-0001", "CVE-1999-0001", ""},
		{"next year", fmt.Sprintf("CVE-%d-1234", next), ID(fmt.Sprintf("CVE-%d-1234", next)), ""},

		{"leading zero 5 digits", "CVE-2024-01234", "", "sequence has a leading zero"},
		{"leading zero 7 digits", "CVE-2024-0123456", "", "sequence has a leading zero"},
		{"year before 1999", "CVE-1998-1234", "", "year 1998 out of range"},
		{"year after next", fmt.Sprintf("CVE-%d-1234", next+1), "", "out of range"},
		{"year 0000", "CVE-0000-1234", "", "out of range"},
		{"8-digit sequence", "CVE-2024-12345678", "", "malformed CVE ID"},
		{"3-digit sequence", "CVE-2024-123", "", "malformed CVE ID"},
		{"empty", "", "", "malformed CVE ID"},
		{"only spaces", "   ", "", "malformed CVE ID"},
		{"no prefix", "2024-3094", "", "malformed CVE ID"},
		{"no separators", "CVE20243094", "", "malformed CVE ID"},
		{"underscores", "CVE_2024_3094", "", "malformed CVE ID"},
		{"en dash", "CVE\u20132024\u20133094", "", "malformed CVE ID"},
		{"space separator", "CVE 2024 3094", "", "malformed CVE ID"},
		{"inner space", "CVE-2024- 3094", "", "malformed CVE ID"},
		{"letters in sequence", "CVE-2017-NONE", "", "malformed CVE ID"},
		{"letters in year", "CVE-20x4-1234", "", "malformed CVE ID"},
		{"trailing letters", "CVE-2011-4461-JETTY", "", "malformed CVE ID"},
		{"hashtag", "#CVE-2024-3094", "", "malformed CVE ID"},
		{"look-alike GHSA", "GHSA-9952-gv64-x94c", "", "malformed CVE ID"},
		{"look-alike VMSA", "VMSA-2025-0010", "", "malformed CVE ID"},
		{"prefix letter", "XCVE-2024-1234", "", "malformed CVE ID"},
		{"SQL injection", "CVE-2024-1234' OR 1=1", "", "malformed CVE ID"},
		{"SQL comment", "CVE-2024-1234;--", "", "malformed CVE ID"},
		{"path traversal", "../etc/passwd", "", "malformed CVE ID"},
		{"path in ID", "CVE-2024-1234/../etc", "", "malformed CVE ID"},
		{"NUL byte", "CVE-2024-1234\x00", "", "malformed CVE ID"},
		{"full-width digits", "CVE-２０２４-1234", "", "malformed CVE ID"},
		{"over-long input", "CVE-2024-" + strings.Repeat("1", 1<<20), "", "malformed CVE ID"},
		{"over-long junk", strings.Repeat("x", 5000), "", "(5000 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("Parse(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = %q, nil; want error containing %q", tc.in, got, tc.wantErr)
			}
			if got != "" {
				t.Errorf("Parse(%q) returned %q along with an error", tc.in, got)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) error = %q; want it to contain %q", tc.in, err, tc.wantErr)
			}
			// Errors go back to API clients and into logs: they must stay
			// short whatever the input size.
			if len(err.Error()) > 256 {
				t.Errorf("Parse error is %d bytes long: %.80q...", len(err.Error()), err)
			}
		})
	}
}

func TestParseMessages(t *testing.T) {
	// The exact wording is part of the API contract (shown to clients).
	tests := []struct{ in, want string }{
		{"nope", `malformed CVE ID "nope": want CVE-YYYY-NNNN`},
		{"CVE-1998-1234", fmt.Sprintf(`CVE ID "CVE-1998-1234": year 1998 out of range 1999-%d`, time.Now().Year()+1)},
		{"CVE-2024-01234", `CVE ID "CVE-2024-01234": sequence has a leading zero (only a 4-digit sequence may start with 0)`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Parse(%q) error = %v; want %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestIDParts(t *testing.T) {
	tests := []struct {
		id        ID
		year, seq int
	}{
		{"CVE-2024-3094", 2024, 3094},
		{"CVE-2014-0001", 2014, 1},
		{"CVE-2021-44228", 2021, 44228},
		{"CVE-2024-1234567", 2024, 1234567},
		// Not canonical: parts are reported as 0.
		{"", 0, 0},
		{"cve-2024-3094", 0, 0},
		{"CVE-2024-01234", 0, 0},
		{"CVE-2024-123", 0, 0},
		{"CVE-2024-12345678", 0, 0},
		{"CVE_2024_3094", 0, 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.id), func(t *testing.T) {
			if got := tc.id.Year(); got != tc.year {
				t.Errorf("Year() = %d; want %d", got, tc.year)
			}
			if got := tc.id.Seq(); got != tc.seq {
				t.Errorf("Seq() = %d; want %d", got, tc.seq)
			}
			if got := tc.id.String(); got != string(tc.id) {
				t.Errorf("String() = %q; want %q", got, tc.id)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	// Already in the wanted order.
	ordered := []ID{
		"", "junk", // non-canonical values first
		"CVE-1999-0001",
		"CVE-2023-9999",
		"CVE-2024-0123",
		"CVE-2024-3094",
		"CVE-2024-9999",
		"CVE-2024-10000", // numerically after 9999, though "1" < "9" as strings
		"CVE-2024-123456",
		"CVE-2025-1000",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%q, %q) = %d; want %d", a, b, got, want)
			}
		}
	}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, Compare)
	if !slices.Equal(shuffled, ordered) {
		t.Errorf("sorted = %q; want %q", shuffled, ordered)
	}
}
