package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestCopyTo(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, filepath.Join(t.TempDir(), "src.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var posts []Sighted
	for i := range 12 {
		p := post("https://x.example/s/"+string(rune('a'+i)), t0.Add(-time.Duration(i)*time.Hour), "acct"+string(rune('a'+i%3)), "CVE-2024-3094", "CVE-2021-44228")
		p.LocalID = string(rune('a' + i))
		posts = append(posts, p)
	}
	if _, err := src.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: posts, Cursor: &FeedCursor{MinID: "99", BackfillDone: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateAPIKey(ctx, "k", "cvc_x", "h"); err != nil {
		t.Fatal(err)
	}
	src.AcquireLease(ctx, "instance:a", "p1", time.Minute)

	dst := openTest(t) // PostgreSQL when CVECROWD_TEST_POSTGRES is set
	counts, err := src.CopyTo(ctx, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if counts["posts"] != 12 || counts["post_cves"] != 24 || counts["sightings"] != 12 || counts["api_keys"] != 1 {
		t.Fatalf("copied %v", counts)
	}
	got, err := dst.CVEPosts(ctx, "CVE-2024-3094", t0.Add(-24*time.Hour))
	if err != nil || len(got) != 12 || len(got[0].CVEs) != 2 {
		t.Fatalf("CVEPosts on the copy = %d posts, %v", len(got), err)
	}
	st, _ := dst.Feed(ctx, "a", "public")
	if st.Cursor.MinID != "99" || !st.Cursor.BackfillDone {
		t.Fatalf("cursor on the copy = %+v", st.Cursor)
	}
	// New rows get fresh ids after the copied ones (sequences moved on).
	extra := post("https://x.example/s/new", t0, "z", "CVE-2024-3094")
	extra.LocalID = "new"
	if _, err := dst.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{extra}}); err != nil {
		t.Fatalf("insert after copy: %v", err)
	}
	if _, err := src.CopyTo(ctx, dst, nil); err == nil {
		t.Fatal("copy into a non-empty database accepted")
	}
}
