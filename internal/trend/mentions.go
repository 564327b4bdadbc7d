package trend

import (
	"context"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// ChangeStore is implemented by stores that can say which posts changed
// since an instant. With it, Service keeps each window's mentions in memory
// and reads only the changed posts on a refresh, instead of every mention of
// the window: at a million posts that is the difference between a second of
// database work per refresh and a few milliseconds.
type ChangeStore interface {
	MentionsSince(ctx context.Context, since time.Time) ([]store.UpdatedMention, error)
	MentionsUpdatedAfter(ctx context.Context, since time.Time, after int64) ([]store.UpdatedMention, error)
}

const (
	// changeSlack re-reads changes this far behind the newest one seen: a
	// write transaction stamps its posts when it starts and may commit later
	// than a refresh that read past that stamp (SQLite writers wait up to
	// 10 s for the lock).
	changeSlack = 15 * time.Second
	// fullReload bounds how long the in-memory mentions go without a full
	// read: changes that leave no trace in updated_at (a deleted post, a
	// write that took longer than changeSlack) show within this time.
	fullReload = 2 * time.Minute
	// maxWindows bounds the windows kept in memory (the page asks for 1, 7
	// and 30 days; clients may ask for any of 30): the least recently used
	// one is dropped and read in full when asked for again.
	maxWindows = 4
)

// windowMentions is the in-memory mention set of one window.
type windowMentions struct {
	mu         sync.Mutex
	byPost     map[int64][]store.Mention
	maxUpdated int64     // newest updated_at seen (unix ms)
	since      time.Time // window start at the last read
	loadedAt   time.Time // wall-clock time of the last full read
	used       time.Time // wall-clock time of the last use (under Service.mu)
}

// mentions returns the mentions of posts created at or after since, for the
// window of days, incrementally when the store allows it.
func (s *Service) mentions(ctx context.Context, days int, since time.Time) ([]store.Mention, error) {
	cs, ok := s.st.(ChangeStore)
	if !ok {
		return s.st.Mentions(ctx, since)
	}
	s.mu.Lock()
	if s.windows == nil {
		s.windows = make(map[int]*windowMentions)
	}
	w := s.windows[days]
	if w == nil {
		if len(s.windows) >= maxWindows {
			var oldest int
			for d, o := range s.windows {
				if oldest == 0 || o.used.Before(s.windows[oldest].used) {
					oldest = d
				}
			}
			delete(s.windows, oldest)
		}
		w = &windowMentions{}
		s.windows[days] = w
	}
	w.used = time.Now()
	s.mu.Unlock()

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byPost == nil || since.Before(w.since) || time.Since(w.loadedAt) > fullReload {
		rows, err := cs.MentionsSince(ctx, since)
		if err != nil {
			return nil, err
		}
		w.byPost, w.maxUpdated = make(map[int64][]store.Mention), 0
		w.apply(rows)
		w.loadedAt = time.Now()
	} else {
		rows, err := cs.MentionsUpdatedAfter(ctx, since, w.maxUpdated-changeSlack.Milliseconds())
		if err != nil {
			return nil, err
		}
		// A changed post's mentions are replaced whole: its CVE set may have changed.
		for _, r := range rows {
			delete(w.byPost, r.PostID)
		}
		w.apply(rows)
	}
	w.since = since
	out := make([]store.Mention, 0, len(w.byPost)*2)
	for id, ms := range w.byPost {
		if ms[0].CreatedAt.Before(since) {
			delete(w.byPost, id) // slid out of the window
			continue
		}
		out = append(out, ms...)
	}
	return out, nil
}

func (w *windowMentions) apply(rows []store.UpdatedMention) {
	for _, r := range rows {
		w.maxUpdated = max(w.maxUpdated, r.UpdatedAt)
		if r.CVE == "" {
			continue // a post that mentions nothing (any more)
		}
		w.byPost[r.PostID] = append(w.byPost[r.PostID], r.Mention)
	}
}
