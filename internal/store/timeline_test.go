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

func TestPostsByID(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	p1 := post("https://x.example/s/1", t0.Add(-time.Hour), "alice", "CVE-2024-1111")
	p2 := post("https://x.example/s/2", t0.Add(-2*time.Hour), "bob", "CVE-2024-1111")
	p2.Content = "<p>second</p>"
	if _, err := db.SaveBatch(ctx, Batch{Instance: "a", Feed: "public", Posts: []Sighted{p1, p2}}); err != nil {
		t.Fatal(err)
	}
	acts, err := db.Activity(ctx, "CVE-2024-1111", t0.Add(-24*time.Hour))
	if err != nil || len(acts) != 2 || acts[0].URI != p2.URI || acts[0].PostID == 0 {
		t.Fatalf("activity %+v %v", acts, err)
	}
	tests := []struct {
		name string
		ids  []int64
		want []string
	}{
		{"order of ids", []int64{acts[0].PostID, acts[1].PostID}, []string{p2.URI, p1.URI}},
		{"reversed", []int64{acts[1].PostID, acts[0].PostID}, []string{p1.URI, p2.URI}},
		{"unknown skipped", []int64{999999, acts[1].PostID}, []string{p1.URI}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.PostsByID(ctx, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d posts, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].URI != tt.want[i] {
					t.Errorf("post %d = %s, want %s", i, got[i].URI, tt.want[i])
				}
			}
			if len(got) > 0 && got[0].URI == p2.URI && (got[0].Content != "<p>second</p>" || got[0].Account.Acct == "") {
				t.Errorf("post not fully read: %+v", got[0])
			}
		})
	}
}
