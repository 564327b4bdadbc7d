// Package trend assembles the ranked CVE board and per-CVE views from stored mentions, with a short cache.
package trend

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/rank"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// MaxDays is the largest window the product answers for.
const MaxDays = 30

// Store is what trend needs of the database.
type Store interface {
	Mentions(ctx context.Context, since time.Time) ([]store.Mention, error)
	CVE(ctx context.Context, id string) (store.CVE, error)
	CVEPosts(ctx context.Context, id string, since time.Time) ([]store.Post, error)
	Unlisted(ctx context.Context) (map[string]string, error)
}

// Service answers "what is trending" questions. It is safe for concurrent use.
type Service struct {
	st  Store
	now func() time.Time
	ttl time.Duration

	mu    sync.Mutex
	cache map[int]*board
	// refreshing marks the windows whose board is being recomputed ahead
	// of its expiry, in the background; wg waits for those goroutines.
	refreshing map[int]bool
	wg         sync.WaitGroup
	windows    map[int]*windowMentions // in-memory mentions per window (mentions.go)
}

type board struct {
	at      time.Time
	entries []rank.Entry // listed CVEs (SPEC §3): not rejected, not confirmed missing
	index   map[string]int
	// withUnpublished is the ranking with confirmed-missing CVEs kept (the
	// API's include=unpublished); unpublished holds only those.
	withUnpublished []rank.Entry
	unpublished     []rank.Entry
	uindex          map[string]int
	// ready is closed once entries are computed, so concurrent callers for
	// the same window share one computation.
	ready chan struct{}
	err   error
}

// New returns a Service over st. Boards are recomputed when older than ttl.
func New(st Store, ttl time.Duration) *Service {
	return &Service{st: st, now: time.Now, ttl: ttl, cache: make(map[int]*board), refreshing: make(map[int]bool)}
}

// Close waits for background refreshes to finish (call it before closing the store).
func (s *Service) Close() { s.wg.Wait() }

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Top returns the ranked CVEs of the last days days.
func (s *Service) Top(ctx context.Context, days int) ([]rank.Entry, error) {
	b, err := s.board(ctx, days)
	if err != nil {
		return nil, err
	}
	return b.entries, nil
}

func (s *Service) board(ctx context.Context, days int) (*board, error) {
	if days < 1 || days > MaxDays {
		return nil, fmt.Errorf("trend: days %d out of range 1..%d", days, MaxDays)
	}
	now := s.now()
	s.mu.Lock()
	b := s.cache[days]
	if b != nil {
		select {
		case <-b.ready:
			if age := now.Sub(b.at); b.err == nil && age < s.ttl {
				// Past half its life, a board in use is recomputed in the
				// background, so under steady traffic no request waits for a
				// ranking; an idle board still expires and is recomputed on
				// demand, so no answer is ever older than the TTL.
				if age >= s.ttl/2 && !s.refreshing[days] {
					s.refreshing[days] = true
					s.wg.Go(func() { s.refresh(days) })
				}
				s.mu.Unlock()
				return b, nil
			}
			b = nil
		default: // being computed: wait for it below
		}
	}
	if b == nil {
		b = &board{at: now, ready: make(chan struct{})}
		s.cache[days] = b
		s.mu.Unlock()
		b.err = s.compute(ctx, b, days, now)
		close(b.ready)
		return b, b.err
	}
	s.mu.Unlock()
	select {
	case <-b.ready:
		return b, b.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh recomputes the board of a window and swaps it in once ready.
func (s *Service) refresh(days int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := s.now()
	nb := &board{at: now, ready: make(chan struct{})}
	nb.err = s.compute(ctx, nb, days, now)
	close(nb.ready)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshing[days] = false
	if nb.err != nil {
		return // the current board serves until it expires; then a request recomputes and reports
	}
	if cur := s.cache[days]; cur == nil || cur.at.Before(now) {
		s.cache[days] = nb
	}
}

func (s *Service) compute(ctx context.Context, b *board, days int, now time.Time) error {
	since := rank.Window(days, now)
	ms, err := s.mentions(ctx, days, since)
	if err != nil {
		return fmt.Errorf("trend: top %dd: %w", days, err)
	}
	unlisted, err := s.st.Unlisted(ctx)
	if err != nil {
		return fmt.Errorf("trend: top %dd: %w", days, err)
	}
	rm := make([]rank.Mention, len(ms))
	for i, m := range ms {
		rm[i] = rank.Mention(m)
	}
	// Weights are per CVE, so dropping CVEs after ranking keeps the order.
	ranked := rank.Rank(rm, since, now)
	b.index, b.uindex = make(map[string]int, len(ranked)), map[string]int{}
	for _, e := range ranked {
		switch unlisted[e.CVE] {
		case store.StateRejected: // hidden everywhere
		case store.StateUnpublished:
			b.uindex[e.CVE] = len(b.unpublished)
			b.unpublished = append(b.unpublished, e)
			b.withUnpublished = append(b.withUnpublished, e)
		default:
			b.index[e.CVE] = len(b.entries)
			b.entries = append(b.entries, e)
			b.withUnpublished = append(b.withUnpublished, e)
		}
	}
	return nil
}

// TopWithUnpublished returns the ranking of the last days days with the
// confirmed-missing CVEs kept in it (rejected ones never appear).
func (s *Service) TopWithUnpublished(ctx context.Context, days int) ([]rank.Entry, error) {
	b, err := s.board(ctx, days)
	if err != nil {
		return nil, err
	}
	return b.withUnpublished, nil
}

// Unpublished returns the mentioned CVEs of the last days days that have no
// published record yet (reserved or mistyped IDs), heaviest first: the
// page's "not yet published" lane.
func (s *Service) Unpublished(ctx context.Context, days int) ([]rank.Entry, error) {
	b, err := s.board(ctx, days)
	if err != nil {
		return nil, err
	}
	return b.unpublished, nil
}

// Unpublished reports whether the CVE is confirmed missing (no published
// record): out of the ranking and of default API answers.
func (c CVE) Unpublished() bool { return c.State != nil && *c.State == store.StateUnpublished }

// CVE is one CVE's data with its standing in a window.
type CVE struct {
	store.CVE
	rank.Entry     // zero Weight/Posts when the CVE had no mention in the window
	Position   int // 1-based place on the board, 0 when not on it
}

// CVE returns the CVE with its standing over days; store.ErrNotFound when
// no post ever mentioned it.
func (s *Service) CVE(ctx context.Context, id string, days int) (CVE, error) {
	b, err := s.board(ctx, days)
	if err != nil {
		return CVE{}, err
	}
	c, err := s.st.CVE(ctx, id)
	if err != nil {
		return CVE{}, err
	}
	if c.State != nil && *c.State == store.StateRejected {
		return CVE{}, fmt.Errorf("trend: %s is rejected: %w", id, store.ErrNotFound)
	}
	out := CVE{CVE: c, Entry: rank.Entry{CVE: id}}
	if i, ok := b.index[id]; ok {
		out.Entry, out.Position = b.entries[i], i+1
	} else if i, ok := b.uindex[id]; ok {
		out.Entry = b.unpublished[i]
	}
	return out, nil
}

// Post is a stored post with its weight at the time of the request.
type Post struct {
	store.Post
	Weight float64
}

// Posts returns the posts of the last days days that mention id, heaviest first.
func (s *Service) Posts(ctx context.Context, id string, days int) ([]Post, error) {
	// Weigh posts at the board's instant so they add up to the CVE's weight.
	b, err := s.board(ctx, days)
	if err != nil {
		return nil, err
	}
	now := b.at
	if c, err := s.st.CVE(ctx, id); err == nil && c.State != nil && *c.State == store.StateRejected {
		return nil, fmt.Errorf("trend: %s is rejected: %w", id, store.ErrNotFound)
	}
	ps, err := s.st.CVEPosts(ctx, id, rank.Window(days, now))
	if err != nil {
		return nil, err
	}
	out := make([]Post, len(ps))
	for i, p := range ps {
		out[i] = Post{Post: p, Weight: rank.PostWeight(p.Reblogs, p.Favourites, p.CreatedAt, now)}
	}
	slices.SortFunc(out, func(a, b Post) int {
		return rank.ComparePosts(
			rank.WeighedPost{Weight: a.Weight, CreatedAt: a.CreatedAt, Key: a.URI},
			rank.WeighedPost{Weight: b.Weight, CreatedAt: b.CreatedAt, Key: b.URI})
	})
	return out, nil
}
