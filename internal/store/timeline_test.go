package store

import (
	"context"
	"testing"
	"time"
)

func TestActivity(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	p1 := post("https://x.example/s/1", t0.Add(-2*time.Hour), "alice", "CVE-2024-1111", "CVE-2024-2222")
	p1.Reblogs, p1.Favourites = 3, 4
	p2 := post("https://x.example/s/2", t0.Add(-30*time.Minute), "bob", "CVE-2024-1111")
	p2.Favourites = 1
	p3 := post("https://x.example/s/3", t0.Add(-50*time.Hour), "carol", "CVE-2024-1111")
	p4 := post("https://x.example/s/4", t0.Add(-time.Hour), "dave", "CVE-2024-2222")
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{p2, p1, p3, p4}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		id    string
		since time.Time
		want  []Activity
	}{
		{"window excludes older posts, oldest first", "CVE-2024-1111", t0.Add(-24 * time.Hour), []Activity{
			{CreatedAt: p1.CreatedAt, Reblogs: 3, Favourites: 4},
			{CreatedAt: p2.CreatedAt, Favourites: 1},
		}},
		{"whole history", "CVE-2024-1111", t0.Add(-30 * 24 * time.Hour), []Activity{
			{CreatedAt: p3.CreatedAt},
			{CreatedAt: p1.CreatedAt, Reblogs: 3, Favourites: 4},
			{CreatedAt: p2.CreatedAt, Favourites: 1},
		}},
		{"other CVE", "CVE-2024-2222", t0.Add(-24 * time.Hour), []Activity{
			{CreatedAt: p1.CreatedAt, Reblogs: 3, Favourites: 4},
			{CreatedAt: p4.CreatedAt},
		}},
		{"unknown CVE", "CVE-1999-0001", t0.Add(-24 * time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Activity(ctx, tt.id, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if !got[i].CreatedAt.Equal(tt.want[i].CreatedAt) || got[i].Reblogs != tt.want[i].Reblogs || got[i].Favourites != tt.want[i].Favourites {
					t.Errorf("row %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
