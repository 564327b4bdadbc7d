package web

import (
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/graph")

func TestBucketEvents(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 30, 0, 0, time.UTC)
	events := []Event{
		{At: now.Add(-10 * time.Minute), Interactions: 3},    // current hour (12:00)
		{At: now.Add(-30 * time.Minute), Interactions: 1},    // 12:00 exactly: current hour
		{At: now.Add(-31 * time.Minute), Interactions: 5},    // 11:59: previous hour
		{At: now.Add(-23 * time.Hour), Interactions: 2},      // 13:30 yesterday: first bucket
		{At: now.Add(-23*time.Hour - 31*time.Minute)},        // 12:59 yesterday: before the span
		{At: now.Add(2 * time.Hour), Interactions: 100},      // from the future (clock skew): ignored
		{At: now.Add(-40 * 24 * time.Hour), Interactions: 9}, // long gone
	}
	tl := BucketEvents(events, now, 24, time.Hour)
	if len(tl.Buckets) != 24 {
		t.Fatalf("%d buckets", len(tl.Buckets))
	}
	if first := tl.Buckets[0].Start; !first.Equal(time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("first bucket starts %s", first)
	}
	want := map[int]Bucket{0: {Posts: 1, Interactions: 2}, 22: {Posts: 1, Interactions: 5}, 23: {Posts: 2, Interactions: 4}}
	for i, b := range tl.Buckets {
		w := want[i]
		if b.Posts != w.Posts || b.Interactions != w.Interactions {
			t.Errorf("bucket %d (%s) = %d posts %d interactions, want %d %d", i, b.Start.Format("15:04"), b.Posts, b.Interactions, w.Posts, w.Interactions)
		}
	}
	if p, i := tl.Totals(); p != 4 || i != 11 {
		t.Errorf("totals %d %d", p, i)
	}

	days := BucketEvents(events, now, 30, 24*time.Hour)
	if p, _ := days.Totals(); p != 6 {
		t.Errorf("30 daily buckets hold %d posts, want 6 (all but the future one and the 40-day-old one)", p)
	}
	if last := days.Buckets[29].Start; !last.Equal(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("last day starts %s", last)
	}
}

// TestGraphGolden renders fixed timelines and compares them with the
// committed SVGs (go test -run Golden -update rewrites them). Each must also
// be well-formed XML carrying a title and a description.
func TestGraphGolden(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 30, 0, 0, time.UTC)
	var busy []Event
	for h := range 24 {
		for k := range (h * 7) % 5 {
			busy = append(busy, Event{At: now.Add(-time.Duration(h)*time.Hour - time.Duration(k)*time.Minute), Interactions: (h * 13) % 17})
		}
	}
	var month []Event
	for d := range 30 {
		for k := range d % 4 {
			month = append(month, Event{At: now.Add(-time.Duration(d)*24*time.Hour - time.Duration(k)*time.Hour), Interactions: d + k})
		}
	}
	tests := []struct {
		name  string
		tl    Timeline
		title string
	}{
		{"empty", BucketEvents(nil, now, 24, time.Hour), "Posts about CVE-2024-3094 per hour, last 24 hours"},
		{"single", BucketEvents([]Event{{At: now.Add(-3 * time.Hour), Interactions: 0}}, now, 24, time.Hour), "Posts about CVE-2024-3094 per hour, last 24 hours"},
		{"busy", BucketEvents(busy, now, 24, time.Hour), "Posts about CVE-2021-44228 per hour, last 24 hours"},
		{"month", BucketEvents(month, now, 30, 24*time.Hour), "Posts about CVE-2021-44228 per day, last 30 days"},
		{"hostile-title", BucketEvents(nil, now, 24, time.Hour), `"><script>alert(1)</script>`},
		{"tooltips", withTooltips(BucketEvents(busy, now, 24, time.Hour)), "Posts about CVE-2021-44228 per hour, last 24 hours"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.tl.SVG(tt.title))
			path := filepath.Join("testdata", "graph", tt.name+".svg")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("%s differs from the golden file; run go test -run Golden -update and review the diff\n got %s", path, got)
			}
			checkSVG(t, got, tt.title)
		})
	}
}

func withTooltips(tl Timeline) Timeline {
	tl.Tooltips = true
	return tl
}

// checkSVG parses the SVG as XML and checks its accessible name (its first
// child is the <title>, then the <desc>) and that it carries nothing a CSP
// would block (style attributes, scripts).
func checkSVG(t *testing.T, svg, title string) {
	t.Helper()
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		Role    string   `xml:"role,attr"`
		Title   string   `xml:"title"`
		Desc    string   `xml:"desc"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("SVG is not well-formed XML: %v", err)
	}
	if doc.Role != "img" || doc.Title != title || doc.Desc == "" {
		t.Errorf("role %q, title %q (want %q), desc %q", doc.Role, doc.Title, title, doc.Desc)
	}
	if i := strings.Index(svg, ">"); !strings.HasPrefix(svg[i+1:], "<title>") || !strings.Contains(svg, "</title><desc>") {
		t.Error("the <title> and <desc> do not come first")
	}
	for _, bad := range []string{"style=", "<script", "<foreignObject", "href="} {
		if strings.Contains(svg, bad) {
			t.Errorf("SVG contains %q", bad)
		}
	}
	if n := strings.Count(svg, `<text `); n != 8 {
		t.Errorf("%d axis labels, want 8 (3 on the scales, 5 clock times)", n)
	}
}
