package web

import (
	"fmt"
	"html/template"
	"math"
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
// readers. Styling is by class only: the page's CSP forbids inline style
// attributes.
func (tl Timeline) SVG(title string) template.HTML {
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
	// An SVG with role="img" takes its accessible name from its first
	// <title> and its description from <desc> (SVG-AAM), so no ids are
	// needed: thirty graphs share the page.
	fmt.Fprintf(&b, `<svg class="graph" viewBox="0 0 %d %d" role="img" xmlns="http://www.w3.org/2000/svg">`, graphW, graphH)
	fmt.Fprintf(&b, `<title>%s</title><desc>%s</desc>`, template.HTMLEscapeString(title), template.HTMLEscapeString(desc))

	// Axes and gridline at the top of the scale.
	fmt.Fprintf(&b, `<path class="axis" d="M%d %dH%d"/>`, plotLeft, plotBottom, plotRight)
	fmt.Fprintf(&b, `<path class="grid" d="M%d %dH%d"/>`, plotLeft, plotTop, plotRight)
	fmt.Fprintf(&b, `<g class="lbl" text-anchor="end"><text x="%d" y="%d">%d</text><text x="%d" y="%d">0</text></g>`,
		plotLeft-4, plotTop+4, maxPosts, plotLeft-4, plotBottom+4)
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
	b.WriteString(`<g class="lbl" text-anchor="middle">`)
	for k := 0; k <= 4; k++ {
		i := k * (n - 1) / 4
		x, anchor := num(float64(plotLeft)+slot*(float64(i)+0.5)), ""
		switch k {
		case 0:
			x, anchor = strconv.Itoa(plotLeft), ` text-anchor="start"`
		case 4:
			x, anchor = strconv.Itoa(plotRight), ` text-anchor="end"`
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d"%s>%s</text>`, x, labelBottom, anchor, tl.Buckets[i].Start.Format(layout))
	}
	b.WriteString(`</g>`)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// num prints a coordinate rounded to a whole unit: at about one CSS pixel
// per unit the graph looks the same, and thirty graphs weigh less.
func num(f float64) string { return strconv.Itoa(int(math.Round(f))) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
