package trend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// TestIncrementalMatchesFull changes a real database in rounds (new posts,
// edits that change CVE sets and counts, time passing so posts slide out of
// the window) and checks after each round that the incrementally maintained
// ranking equals one computed from scratch.
func TestIncrementalMatchesFull(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "inc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	db.SetClock(func() time.Time { return now })
	s := New(db, time.Nanosecond) // every call recomputes
	s.SetClock(func() time.Time { return now })
	defer s.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	cves := []string{"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004", "CVE-2024-0005"}
	post := func(i int) store.Sighted {
		n := 1 + rng.IntN(3)
		set := map[string]bool{}
		for range n {
			set[cves[rng.IntN(len(cves))]] = true
		}
		var cs []string
		for c := range set {
			cs = append(cs, c)
		}
		uri := fmt.Sprintf("https://x.example/s/%d", i)
		return store.Sighted{Post: store.Post{URI: uri, URL: uri, Content: "<p>x</p>",
			CreatedAt: now.Add(-time.Duration(rng.IntN(48*60)) * time.Minute),
			Reblogs:   rng.IntN(5), Favourites: rng.IntN(20),
			Account: store.Account{URL: fmt.Sprintf("https://x.example/@a%d", rng.IntN(6)), Acct: "a"}, CVEs: cs},
			LocalID: fmt.Sprint(i), Authoritative: true}
	}
	var stored []store.Sighted
	for round := range 12 {
		var batch []store.Sighted
		for range 5 {
			p := post(len(stored))
			stored = append(stored, p)
			batch = append(batch, p)
		}
		for range 3 { // edits: new counts, new CVE sets (sometimes none)
			i := rng.IntN(len(stored))
			p := post(i)
			p.CreatedAt = stored[i].CreatedAt
			if rng.IntN(4) == 0 {
				p.CVEs = nil
			}
			stored[i] = p
			batch = append(batch, p)
		}
		if _, err := db.SaveBatch(ctx, store.Batch{Instance: "x", Feed: "public", Posts: batch}); err != nil {
			t.Fatal(err)
		}
		for _, days := range []int{1, 2} {
			got, err := s.Top(ctx, days)
			if err != nil {
				t.Fatal(err)
			}
			since := rank.Window(days, now)
			ms, err := db.Mentions(ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			rm := make([]rank.Mention, len(ms))
			for i, m := range ms {
				rm[i] = rank.Mention(m)
			}
			want := rank.Rank(rm, since, now)
			for i := range got { // the sole account of a multi-account CVE is unspecified
				if got[i].Accounts != 1 {
					got[i].SoleAccount = ""
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %dd: incremental ranking\n%+v\nwant\n%+v", round, days, got, want)
			}
		}
		now = now.Add(3 * time.Hour) // posts slide out; the 12 h penalty moves
	}
	if len(s.windows) == 0 {
		t.Fatal("the incremental path was not used")
	}
	for days := 1; days <= 10; days++ {
		if _, err := s.Top(ctx, days); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.windows) > maxWindows {
		t.Fatalf("%d windows kept in memory", len(s.windows))
	}
}
