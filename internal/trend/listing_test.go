package trend

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

type stateStore struct {
	mentions []store.Mention
	states   map[string]string
}

func (f *stateStore) Mentions(ctx context.Context, since time.Time) ([]store.Mention, error) {
	return f.mentions, nil
}

func (f *stateStore) CVE(ctx context.Context, id string) (store.CVE, error) {
	for _, m := range f.mentions {
		if m.CVE == id {
			c := store.CVE{ID: id}
			if s, ok := f.states[id]; ok {
				c.State = &s
				c.Verified = s == store.StatePublished
			}
			return c, nil
		}
	}
	return store.CVE{}, store.ErrNotFound
}

func (f *stateStore) CVEPosts(ctx context.Context, id string, since time.Time) ([]store.Post, error) {
	return []store.Post{{ID: 1, URI: "https://x.example/1", CreatedAt: since.Add(time.Hour), CVEs: []string{id}}}, nil
}

func (f *stateStore) Unlisted(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for id, s := range f.states {
		if s == store.StateRejected || s == store.StateUnpublished {
			out[id] = s
		}
	}
	return out, nil
}

func ids(es []rank.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.CVE)
	}
	return out
}

// TestListingRule checks SPEC §3's rule on the board: rejected CVEs vanish,
// confirmed-missing ones move to their own lane, unchecked ones stay.
func TestListingRule(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	m := func(id, account string, reblogs int) store.Mention {
		return store.Mention{CVE: id, PostID: int64(len(id) + reblogs), Account: account, CreatedAt: now.Add(-time.Hour), Reblogs: reblogs}
	}
	st := &stateStore{
		mentions: []store.Mention{m("CVE-2021-44228", "a", 9), m("CVE-2023-52071", "b", 8), m("CVE-2024-99999", "c", 7),
			m("CVE-2024-3094", "d", 6), m("CVE-2024-0001", "e", 5)},
		states: map[string]string{"CVE-2021-44228": store.StatePublished, "CVE-2023-52071": store.StateRejected,
			"CVE-2024-99999": store.StateUnpublished, "CVE-2024-3094": store.StatePublished},
	}
	s := New(st, time.Minute)
	s.SetClock(func() time.Time { return now })
	ctx := context.Background()
	top, _ := s.Top(ctx, 1)
	withUn, _ := s.TopWithUnpublished(ctx, 1)
	un, _ := s.Unpublished(ctx, 1)
	for _, tt := range []struct {
		name      string
		got, want []string
	}{
		{"listed", ids(top), []string{"CVE-2021-44228", "CVE-2024-3094", "CVE-2024-0001"}},
		{"with unpublished", ids(withUn), []string{"CVE-2021-44228", "CVE-2024-99999", "CVE-2024-3094", "CVE-2024-0001"}},
		{"unpublished lane", ids(un), []string{"CVE-2024-99999"}},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
	c, err := s.CVE(ctx, "CVE-2024-3094", 1)
	if err != nil || c.Position != 2 || c.Unpublished() {
		t.Errorf("CVE-2024-3094: position %d, unpublished %v, %v; want 2 (after the rejected one is dropped)", c.Position, c.Unpublished(), err)
	}
	c, err = s.CVE(ctx, "CVE-2024-99999", 1)
	if err != nil || c.Position != 0 || !c.Unpublished() || c.Weight == 0 {
		t.Errorf("CVE-2024-99999: %+v, %v; want off the board, unpublished, weighed", c, err)
	}
	if c, err := s.CVE(ctx, "CVE-2024-0001", 1); err != nil || c.Verified || c.Position != 3 {
		t.Errorf("unchecked CVE: %+v, %v; want listed at 3, unverified", c, err)
	}
	if _, err := s.CVE(ctx, "CVE-2023-52071", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rejected CVE: %v; want ErrNotFound", err)
	}
	if _, err := s.Posts(ctx, "CVE-2023-52071", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("posts of a rejected CVE: %v; want ErrNotFound", err)
	}
}
