package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// Event is one post placed on a timeline: when it was created and the
// interactions (boosts + favourites) it has gathered since.
type Event struct {
	At           time.Time
	Interactions int
}

// Bucket is one bar of a timeline: the posts created in [Start, Start+width)
// and the interactions those posts carry.
type Bucket struct {
	Start        time.Time
	Posts        int
	Interactions int
}

// Timeline is a run of equal buckets ending with the one holding End.
type Timeline struct {
	Buckets []Bucket
	Width   time.Duration // one bucket's span: an hour or a day
	// Tooltips draws each bar as its own element with a <title> giving its
	// counts. The home page's thirty graphs draw all bars as one path
	// instead, to keep the page light; their <desc> still says it in words.
	Tooltips bool
}

// BucketEvents places events into n buckets of width ending with the bucket
// that contains now. Buckets are aligned to whole hours or days (UTC) so the
// axis labels are clock times; events outside the span are ignored.
// Interactions are counted in the hour the post was created, since the store
// knows counts, not when each boost happened.
func BucketEvents(events []Event, now time.Time, n int, width time.Duration) Timeline {
	now = now.UTC()
	end := now.Truncate(width).Add(width)
	start := end.Add(-time.Duration(n) * width)
	tl := Timeline{Buckets: make([]Bucket, n), Width: width}
	for i := range tl.Buckets {
		tl.Buckets[i].Start = start.Add(time.Duration(i) * width)
	}
	for _, e := range events {
		if e.At.Before(start) || !e.At.Before(end) {
			continue
		}
		i := int(e.At.Sub(start) / width)
		tl.Buckets[i].Posts++
		tl.Buckets[i].Interactions += e.Interactions
	}
	return tl
}

// Totals sums posts and interactions over the timeline.
func (tl Timeline) Totals() (posts, interactions int) {
	for _, b := range tl.Buckets {
		posts += b.Posts
		interactions += b.Interactions
	}
	return posts, interactions
}

// Graph geometry, in SVG user units. The viewBox scales to the column width.
const (
	graphW      = 320
	graphH      = 110
	plotLeft    = 26
	plotRight   = 294
	plotTop     = 8
	plotBottom  = 86
	labelBottom = 102
)

// SVG renders the timeline as an inline, self-contained SVG: posts per bucket
// as bars, interactions as a line on its own scale, clock labels under the
// axis, and a title and description that say the same in words for screen
// readers. idPrefix keeps element ids unique when several graphs share a page.
// Styling is by class only: the page's CSP forbids inline style attributes.
func (tl Timeline) SVG(idPrefix, title string) template.HTML {
	n := len(tl.Buckets)
	if n == 0 {
		return ""
	}
	maxPosts, maxInter := 0, 0
	peak := 0
	for i, b := range tl.Buckets {
		if b.Posts > maxPosts {
			maxPosts, peak = b.Posts, i
		}
		maxInter = max(maxInter, b.Interactions)
	}
	posts, inter := tl.Totals()
	unit, layout := "hour", "15:04"
	if tl.Width >= 24*time.Hour {
		unit, layout = "day", "Jan 2"
	}
	first, last := tl.Buckets[0].Start, tl.Buckets[n-1].Start.Add(tl.Width)
	desc := fmt.Sprintf("%d post%s and %d interaction%s from %s to %s UTC, in %d %s buckets.",
		posts, plural(posts), inter, plural(inter), first.Format("Jan 2 15:04"), last.Format("Jan 2 15:04"), n, unit)
	if maxPosts > 0 {
		desc += fmt.Sprintf(" The busiest %s, starting %s UTC, had %d post%s.", unit, tl.Buckets[peak].Start.Format("Jan 2 15:04"), maxPosts, plural(maxPosts))
	}

	var b strings.Builder
	id := svgID(idPrefix)
	fmt.Fprintf(&b, `<svg class="graph" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`, graphW, graphH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))

	// Axes and gridline at the top of the scale.
	fmt.Fprintf(&b, `<path class="axis" d="M%d %dH%d"/>`, plotLeft, plotBottom, plotRight)
	fmt.Fprintf(&b, `<path class="grid" d="M%d %dH%d"/>`, plotLeft, plotTop, plotRight)
	fmt.Fprintf(&b, `<text class="lbl" x="%d" y="%d" text-anchor="end">%d</text>`, plotLeft-4, plotTop+4, maxPosts)
	fmt.Fprintf(&b, `<text class="lbl" x="%d" y="%d" text-anchor="end">0</text>`, plotLeft-4, plotBottom+4)
	fmt.Fprintf(&b, `<text class="lbl li" x="%d" y="%d">%d</text>`, plotRight+4, plotTop+4, maxInter)

	slot := float64(plotRight-plotLeft) / float64(n)
	barW := slot * 0.7
	h := float64(plotBottom - plotTop)
	var bars strings.Builder
	for i, bk := range tl.Buckets {
		if bk.Posts == 0 {
			continue
		}
		bh := h * float64(bk.Posts) / float64(maxPosts)
		x := float64(plotLeft) + slot*float64(i) + (slot-barW)/2
		if tl.Tooltips {
			fmt.Fprintf(&b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s"><title>%s: %d post%s, %d interaction%s</title></rect>`,
				num(x), num(float64(plotBottom)-bh), num(barW), num(bh),
				bk.Start.Format("Jan 2 15:04"), bk.Posts, plural(bk.Posts), bk.Interactions, plural(bk.Interactions))
			continue
		}
		fmt.Fprintf(&bars, "M%s %dh%sv-%sh-%sz", num(x), plotBottom, num(barW), num(bh), num(barW))
	}
	if bars.Len() > 0 {
		fmt.Fprintf(&b, `<path class="bar" d="%s"/>`, bars.String())
	}
	if maxInter > 0 {
		b.WriteString(`<polyline class="line" points="`)
		for i, bk := range tl.Buckets {
			x := float64(plotLeft) + slot*(float64(i)+0.5)
			y := float64(plotBottom) - h*float64(bk.Interactions)/float64(maxInter)
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(num(x) + "," + num(y))
		}
		b.WriteString(`"/>`)
	}
	// Five clock labels under evenly spaced buckets, first and current included.
	for k := 0; k <= 4; k++ {
		i := k * (n - 1) / 4
		x := float64(plotLeft) + slot*(float64(i)+0.5)
		anchor := "middle"
		switch k {
		case 0:
			anchor, x = "start", float64(plotLeft)
		case 4:
			anchor, x = "end", float64(plotRight)
		}
		fmt.Fprintf(&b, `<text class="lbl" x="%s" y="%d" text-anchor="%s">%s</text>`, num(x), labelBottom, anchor, tl.Buckets[i].Start.Format(layout))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// svgID turns a CVE ID or other prefix into an id token.
func svgID(prefix string) string {
	return "g-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, prefix)
}

// num prints a coordinate with at most one decimal, keeping the SVG small.
func num(f float64) string { return strconv.FormatFloat(float64(int(f*10+0.5))/10, 'f', -1, 64) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
