package store

import (
	"context"
	"testing"
	"time"
)

func TestMentionsUpdatedAfter(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	save := func(at time.Time, posts ...Sighted) {
		t.Helper()
		db.SetClock(func() time.Time { return at })
		if _, err := db.SaveBatch(ctx, Batch{Instance: "x", Feed: "public", Posts: posts}); err != nil {
			t.Fatal(err)
		}
	}
	save(t0, post("https://x/1", t0.Add(-time.Hour), "a", "CVE-2024-0001", "CVE-2024-0002"),
		post("https://x/2", t0.Add(-48*time.Hour), "b", "CVE-2024-0001"))
	all, err := db.MentionsSince(ctx, t0.Add(-24*time.Hour))
	if err != nil || len(all) != 2 || all[0].UpdatedAt != t0.UnixMilli() {
		t.Fatalf("MentionsSince = %+v, %v", all, err)
	}
	// Later: post 1 is edited to mention nothing; post 3 is new.
	edited := post("https://x/1", t0.Add(-time.Hour), "a")
	save(t0.Add(time.Minute), edited, post("https://x/3", t0, "c", "CVE-2024-0003"))
	ch, err := db.MentionsUpdatedAfter(ctx, t0.Add(-24*time.Hour), t0.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range ch {
		got[m.CVE] = true
		if m.UpdatedAt != t0.Add(time.Minute).UnixMilli() {
			t.Errorf("updated_at %d", m.UpdatedAt)
		}
	}
	if len(ch) != 2 || !got[""] || !got["CVE-2024-0003"] {
		t.Fatalf("MentionsUpdatedAfter = %+v (want post 1 with no CVE and post 3)", ch)
	}
	if ch, _ := db.MentionsUpdatedAfter(ctx, t0.Add(-24*time.Hour), t0.Add(time.Minute).UnixMilli()); len(ch) != 0 {
		t.Fatalf("nothing changed after the last write, got %+v", ch)
	}
}
