// Package rank weighs posts and orders CVEs exactly as CVE Crowd documents it.
package rank

import (
	"cmp"
	"slices"
	"time"
)

// OldPostAge is the age past which a post's weight is halved.
const OldPostAge = 12 * time.Hour

// Mention is one post mentioning one CVE, with what weighing needs.
type Mention struct {
	CVE        string
	PostID     int64
	Account    string // identifies the author across instances (profile URL)
	CreatedAt  time.Time
	Reblogs    int
	Favourites int
}

// PostWeight is (100 + reblogs×10 + favourites) × old_post_penalty, where the
// penalty is 0.5 for a post older than 12 hours at now and 1 otherwise.
func PostWeight(reblogs, favourites int, createdAt, now time.Time) float64 {
	w := float64(100 + reblogs*10 + favourites)
	if now.Sub(createdAt) > OldPostAge {
		w *= 0.5
	}
	return w
}

// Entry is one CVE's standing in a window.
type Entry struct {
	CVE          string
	Weight       float64   // sum over accounts of each account's heaviest post
	Posts        int       // posts mentioning the CVE in the window
	Interactions int       // reblogs + favourites summed over those posts
	Accounts     int       // distinct accounts among those posts
	SoleAccount  string    // the one account when Accounts == 1
	Newest       time.Time // created_at of the newest mention
	Oldest       time.Time // created_at of the oldest mention
}

// Window returns the start of a window of days ending at now.
func Window(days int, now time.Time) time.Time {
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}

// Rank weighs the mentions created at or after since and orders the CVEs:
// weight descending, then newest mention first, then CVE ID.
func Rank(ms []Mention, since, now time.Time) []Entry {
	type acc struct {
		e    Entry
		best map[string]float64 // account → heaviest post weight
	}
	byCVE := make(map[string]*acc)
	for _, m := range ms {
		if m.CreatedAt.Before(since) {
			continue
		}
		a := byCVE[m.CVE]
		if a == nil {
			a = &acc{e: Entry{CVE: m.CVE, Newest: m.CreatedAt, Oldest: m.CreatedAt}, best: make(map[string]float64, 1)}
			byCVE[m.CVE] = a
		}
		a.e.Posts++
		a.e.Interactions += m.Reblogs + m.Favourites
		if m.CreatedAt.After(a.e.Newest) {
			a.e.Newest = m.CreatedAt
		}
		if m.CreatedAt.Before(a.e.Oldest) {
			a.e.Oldest = m.CreatedAt
		}
		w := PostWeight(m.Reblogs, m.Favourites, m.CreatedAt, now)
		if old, ok := a.best[m.Account]; !ok || w > old {
			a.best[m.Account] = w
		}
	}
	out := make([]Entry, 0, len(byCVE))
	for _, a := range byCVE {
		for account, w := range a.best {
			a.e.Weight += w
			a.e.SoleAccount = account
		}
		a.e.Accounts = len(a.best)
		if a.e.Accounts != 1 {
			a.e.SoleAccount = ""
		}
		out = append(out, a.e)
	}
	slices.SortFunc(out, compareEntries)
	return out
}

func compareEntries(a, b Entry) int {
	if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
		return c
	}
	if c := b.Newest.Compare(a.Newest); c != 0 {
		return c
	}
	return cmp.Compare(a.CVE, b.CVE)
}

// CapExclusive keeps at most perAccount user-exclusive CVEs (all posts from
// one account) per account, the heaviest ones, preserving order. The web page
// applies it; the API does not.
func CapExclusive(entries []Entry, perAccount int) []Entry {
	seen := make(map[string]int)
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if e.Accounts == 1 {
			seen[e.SoleAccount]++
			if seen[e.SoleAccount] > perAccount {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// WeighedPost is a post's weight with the keys that order posts.
type WeighedPost struct {
	Weight    float64
	CreatedAt time.Time
	Key       string // a stable tie-breaker, e.g. the post URI
}

// ComparePosts orders posts heaviest first, then newest, then by key.
func ComparePosts(a, b WeighedPost) int {
	if c := cmp.Compare(b.Weight, a.Weight); c != 0 {
		return c
	}
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}
