package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	clock := t0
	db.SetClock(func() time.Time { return clock })
	steps := []struct {
		name    string
		advance time.Duration
		holder  string
		want    bool
	}{
		{"free lease is taken", 0, "p1", true},
		{"holder renews", 10 * time.Second, "p1", true},
		{"another holder is refused while it runs", 10 * time.Second, "p2", false},
		{"still refused just before expiry", 19 * time.Second, "p2", false},
		{"taken over once expired", 2 * time.Second, "p2", true},
		{"the old holder is now refused", 0, "p1", false},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		got, err := db.AcquireLease(ctx, "instance:a", s.holder, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Fatalf("%s: AcquireLease(%s) = %v, want %v", s.name, s.holder, got, s.want)
		}
	}
	if err := db.ReleaseLease(ctx, "instance:a", "p1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.AcquireLease(ctx, "instance:a", "p1", time.Second); ok {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := db.ReleaseLease(ctx, "instance:a", "p2"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.AcquireLease(ctx, "instance:a", "p1", time.Second); !ok {
		t.Fatal("a released lease was not free")
	}
	ls, err := db.Leases(ctx)
	if err != nil || len(ls) != 1 || ls[0].Holder != "p1" {
		t.Fatalf("Leases = %+v, %v", ls, err)
	}
}

func TestLeaseRaceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for round := range 5 {
		name := fmt.Sprintf("race-%d", round)
		var mu sync.Mutex
		winners := 0
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				ok, err := db.AcquireLease(ctx, name, fmt.Sprintf("p%d", i), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if winners != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, winners)
		}
	}
}
