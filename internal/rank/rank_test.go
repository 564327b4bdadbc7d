package rank

import (
	"testing"
	"time"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func TestPostWeight(t *testing.T) {
	tests := []struct {
		name          string
		reblogs, favs int
		created       time.Time
		want          float64
	}{
		{"fresh, no interactions", 0, 0, ago(time.Hour), 100},
		{"fresh with interactions", 3, 7, ago(time.Hour), 137},
		{"exactly 12h is not older", 0, 0, ago(12 * time.Hour), 100},
		{"just over 12h is halved", 0, 0, ago(12*time.Hour + time.Millisecond), 50},
		{"old with odd total keeps the half", 1, 1, ago(13 * time.Hour), 55.5},
		{"future post (clock skew) is fresh", 2, 0, now.Add(time.Minute), 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PostWeight(tt.reblogs, tt.favs, tt.created, now); got != tt.want {
				t.Errorf("PostWeight = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRank(t *testing.T) {
	since := Window(1, now)
	tests := []struct {
		name string
		ms   []Mention
		want []Entry // only CVE, Weight, Posts, Interactions, Accounts compared
	}{
		{
			name: "one account posting twice counts its heaviest post once",
			ms: []Mention{
				{CVE: "CVE-2024-1", PostID: 1, Account: "a", CreatedAt: ago(time.Hour), Reblogs: 1},         // 110
				{CVE: "CVE-2024-1", PostID: 2, Account: "a", CreatedAt: ago(2 * time.Hour), Favourites: 30}, // 130
			},
			want: []Entry{{CVE: "CVE-2024-1", Weight: 130, Posts: 2, Interactions: 31, Accounts: 1}},
		},
		{
			name: "two accounts add up",
			ms: []Mention{
				{CVE: "CVE-2024-1", PostID: 1, Account: "a", CreatedAt: ago(time.Hour)},                  // 100
				{CVE: "CVE-2024-1", PostID: 2, Account: "b", CreatedAt: ago(13 * time.Hour), Reblogs: 2}, // 60
			},
			want: []Entry{{CVE: "CVE-2024-1", Weight: 160, Posts: 2, Interactions: 2, Accounts: 2}},
		},
		{
			name: "old heavy post can lose to a fresh light one of the same account",
			ms: []Mention{
				{CVE: "CVE-2024-1", PostID: 1, Account: "a", CreatedAt: ago(20 * time.Hour), Favourites: 90}, // 95
				{CVE: "CVE-2024-1", PostID: 2, Account: "a", CreatedAt: ago(time.Hour)},                      // 100
			},
			want: []Entry{{CVE: "CVE-2024-1", Weight: 100, Posts: 2, Interactions: 90, Accounts: 1}},
		},
		{
			name: "window edge: a post exactly at the start counts, one before does not",
			ms: []Mention{
				{CVE: "CVE-2024-1", PostID: 1, Account: "a", CreatedAt: since},
				{CVE: "CVE-2024-2", PostID: 2, Account: "a", CreatedAt: since.Add(-time.Millisecond)},
			},
			want: []Entry{{CVE: "CVE-2024-1", Weight: 50, Posts: 1, Accounts: 1}},
		},
		{
			name: "ties: newest mention first, then CVE ID",
			ms: []Mention{
				{CVE: "CVE-2024-3", PostID: 1, Account: "a", CreatedAt: ago(3 * time.Hour)},
				{CVE: "CVE-2024-2", PostID: 2, Account: "a", CreatedAt: ago(2 * time.Hour)},
				{CVE: "CVE-2024-1", PostID: 3, Account: "b", CreatedAt: ago(3 * time.Hour)},
				{CVE: "CVE-2024-9", PostID: 4, Account: "b", CreatedAt: ago(time.Hour), Reblogs: 1},
			},
			want: []Entry{
				{CVE: "CVE-2024-9", Weight: 110, Posts: 1, Interactions: 1, Accounts: 1},
				{CVE: "CVE-2024-2", Weight: 100, Posts: 1, Accounts: 1},
				{CVE: "CVE-2024-1", Weight: 100, Posts: 1, Accounts: 1},
				{CVE: "CVE-2024-3", Weight: 100, Posts: 1, Accounts: 1},
			},
		},
		{
			name: "one post naming two CVEs weighs in both",
			ms: []Mention{
				{CVE: "CVE-2024-1", PostID: 1, Account: "a", CreatedAt: ago(time.Hour), Reblogs: 5},
				{CVE: "CVE-2024-2", PostID: 1, Account: "a", CreatedAt: ago(time.Hour), Reblogs: 5},
				{CVE: "CVE-2024-2", PostID: 2, Account: "b", CreatedAt: ago(time.Hour)},
			},
			want: []Entry{
				{CVE: "CVE-2024-2", Weight: 250, Posts: 2, Interactions: 5, Accounts: 2},
				{CVE: "CVE-2024-1", Weight: 150, Posts: 1, Interactions: 5, Accounts: 1},
			},
		},
		{name: "no mentions", ms: nil, want: []Entry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Rank(tt.ms, since, now)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.CVE != w.CVE || g.Weight != w.Weight || g.Posts != w.Posts || g.Interactions != w.Interactions || g.Accounts != w.Accounts {
					t.Errorf("entry %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestCapExclusive(t *testing.T) {
	var in []Entry
	for i := range 7 {
		in = append(in, Entry{CVE: string(rune('A' + i)), Accounts: 1, SoleAccount: "bot"})
	}
	in = append(in, Entry{CVE: "shared", Accounts: 2}, Entry{CVE: "other", Accounts: 1, SoleAccount: "human"})
	got := CapExclusive(in, 5)
	var names []string
	for _, e := range got {
		names = append(names, e.CVE)
	}
	want := []string{"A", "B", "C", "D", "E", "shared", "other"}
	if len(names) != len(want) {
		t.Fatalf("got %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("got %v, want %v", names, want)
		}
	}
}

func TestComparePosts(t *testing.T) {
	a := WeighedPost{Weight: 100, CreatedAt: ago(time.Hour), Key: "a"}
	b := WeighedPost{Weight: 100, CreatedAt: ago(2 * time.Hour), Key: "b"}
	c := WeighedPost{Weight: 120, CreatedAt: ago(3 * time.Hour), Key: "c"}
	d := WeighedPost{Weight: 100, CreatedAt: ago(time.Hour), Key: "d"}
	if ComparePosts(c, a) >= 0 || ComparePosts(a, b) >= 0 || ComparePosts(a, d) >= 0 {
		t.Fatal("want c < a < b and a < d")
	}
}
