package ingest

import (
	"context"
	"slices"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Feed states shown by the health report.
const (
	StateStarting     = "starting"     // not polled or connected yet
	StateOK           = "ok"           // the last poll succeeded
	StateBackoff      = "backoff"      // the last poll failed; waiting before the next try
	StateStreaming    = "streaming"    // a stream is connected
	StateDisconnected = "disconnected" // a stream is down and reconnecting
)

// SetState records the state of one feed.
func (s *Stats) SetState(instance, feed, state string) {
	s.mu.Lock()
	s.feed(instance, feed).State = state
	s.mu.Unlock()
}

// Tombstoned counts posts refused because they had been deleted.
func (s *Stats) Tombstoned(n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.tombstoned += int64(n)
	s.mu.Unlock()
}

// Deleted counts stored posts removed by a delete event or a 404/410.
func (s *Stats) Deleted() {
	s.mu.Lock()
	s.deleted++
	s.mu.Unlock()
}

// Refreshed counts one count refresh by its outcome ("ok", "gone", "error").
func (s *Stats) Refreshed(outcome string) {
	s.mu.Lock()
	s.refreshed[outcome]++
	s.mu.Unlock()
}

// StreamEvent counts one stream event by type.
func (s *Stats) StreamEvent(instance, event string) {
	s.mu.Lock()
	s.feed(instance, FeedStream).Events++
	s.events[event]++
	s.mu.Unlock()
}

// Reconnected counts one stream reconnect.
func (s *Stats) Reconnected(instance string) {
	s.mu.Lock()
	s.feed(instance, FeedStream).Reconnects++
	s.mu.Unlock()
}

// FeedHealth is the health of one (instance, feed).
type FeedHealth struct {
	Instance      string     `json:"instance"`
	Feed          string     `json:"feed"`
	State         string     `json:"state"`
	Healthy       bool       `json:"healthy"`
	LastSuccess   *time.Time `json:"last_success"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at"`
	LastPostAt    *time.Time `json:"last_post_at"`
	LagSeconds    *float64   `json:"lag_seconds"` // now minus the newest post's time
	PostsIngested int64      `json:"posts_ingested"`
	Errors        int64      `json:"errors"`
	Events        int64      `json:"events,omitempty"`
	Reconnects    int64      `json:"reconnects,omitempty"`
}

// Health is the whole ingestion report.
type Health struct {
	Feeds      []FeedHealth     `json:"feeds"`
	Skipped    map[string]int64 `json:"skipped"` // by eligibility rule
	Tombstoned int64            `json:"tombstoned"`
	Deleted    int64            `json:"deleted"`
	Refreshed  map[string]int64 `json:"refreshed"`
	Events     map[string]int64 `json:"stream_events"`
}

// FeedLister is the part of the store the report reads.
type FeedLister interface {
	Feeds(ctx context.Context) ([]store.FeedState, error)
}

// Health merges the stored feed states (which survive restarts) with this
// process's counters and states. Feeds of instances no longer configured
// are left out.
func (in *Ingester) Health(ctx context.Context, db FeedLister) (Health, error) {
	states, err := db.Feeds(ctx)
	if err != nil {
		return Health{}, err
	}
	now := in.now()
	in.Stats.mu.Lock()
	defer in.Stats.mu.Unlock()
	h := Health{
		Skipped:    map[string]int64{},
		Tombstoned: in.Stats.tombstoned,
		Deleted:    in.Stats.deleted,
		Refreshed:  map[string]int64{},
		Events:     map[string]int64{},
	}
	for _, r := range SkipReasons {
		h.Skipped[r] = in.Stats.skipped[r]
	}
	for k, v := range in.Stats.refreshed {
		h.Refreshed[k] = v
	}
	for k, v := range in.Stats.events {
		h.Events[k] = v
	}
	stored := map[[2]string]store.FeedState{}
	for _, st := range states {
		stored[[2]string{st.Instance, st.Feed}] = st
	}
	for k, f := range in.Stats.feeds {
		if f.State == "" {
			continue // a feed this process only counted, never ran (e.g. "refresh")
		}
		st := stored[k]
		fh := FeedHealth{
			Instance: k[0], Feed: k[1], State: f.State,
			LastSuccess: st.LastSuccess, LastErrorAt: st.LastErrorAt, LastPostAt: st.LastPostAt,
			PostsIngested: st.PostsIngested, Errors: f.Errors, Events: f.Events, Reconnects: f.Reconnects,
		}
		if st.LastErrorAt != nil && (st.LastSuccess == nil || st.LastErrorAt.After(*st.LastSuccess)) {
			fh.LastError = st.LastError
		}
		if st.LastPostAt != nil {
			lag := now.Sub(*st.LastPostAt).Seconds()
			fh.LagSeconds = &lag
		}
		fh.Healthy = f.State == StateOK || f.State == StateStreaming
		h.Feeds = append(h.Feeds, fh)
	}
	slices.SortFunc(h.Feeds, func(a, b FeedHealth) int {
		if a.Instance != b.Instance {
			if a.Instance < b.Instance {
				return -1
			}
			return 1
		}
		if a.Feed < b.Feed {
			return -1
		}
		if a.Feed > b.Feed {
			return 1
		}
		return 0
	})
	return h, nil
}

// StateElsewhere marks a feed that another process ingests (a --role web
// process reads its health from the database).
const StateElsewhere = "elsewhere"

// StoredHealth reports the feeds as the database has them, for a process
// that does not ingest itself. A feed counts as healthy when it succeeded
// within staleAfter and has not failed since.
func StoredHealth(ctx context.Context, db FeedLister, now time.Time, staleAfter time.Duration) (Health, error) {
	states, err := db.Feeds(ctx)
	if err != nil {
		return Health{}, err
	}
	var h Health
	for _, st := range states {
		fh := FeedHealth{
			Instance: st.Instance, Feed: st.Feed, State: StateElsewhere,
			LastSuccess: st.LastSuccess, LastErrorAt: st.LastErrorAt, LastPostAt: st.LastPostAt,
			PostsIngested: st.PostsIngested,
		}
		failing := st.LastErrorAt != nil && (st.LastSuccess == nil || st.LastErrorAt.After(*st.LastSuccess))
		if failing {
			fh.LastError = st.LastError
		}
		if st.LastPostAt != nil {
			lag := now.Sub(*st.LastPostAt).Seconds()
			fh.LagSeconds = &lag
		}
		fh.Healthy = !failing && st.LastSuccess != nil && now.Sub(*st.LastSuccess) <= staleAfter
		h.Feeds = append(h.Feeds, fh)
	}
	return h, nil
}
