package ingest

import (
	"maps"
	"sync"
)

// Stats counts what ingestion did since the process started.
type Stats struct {
	mu         sync.Mutex
	skipped    map[string]int64
	feeds      map[[2]string]*FeedStats
	tombstoned int64
	deleted    int64
	refreshed  map[string]int64
	events     map[string]int64
}

// FeedStats counts one (instance, feed).
type FeedStats struct {
	New, Updated, Errors int64
	Events, Reconnects   int64  // streams only
	State                string // one of the State* constants
}

// NewStats returns empty counters.
func NewStats() *Stats {
	return &Stats{skipped: make(map[string]int64), feeds: make(map[[2]string]*FeedStats),
		refreshed: make(map[string]int64), events: make(map[string]int64)}
}

// Skip counts one status skipped for reason.
func (s *Stats) Skip(reason string) {
	s.mu.Lock()
	s.skipped[reason]++
	s.mu.Unlock()
}

func (s *Stats) feed(instance, feed string) *FeedStats {
	k := [2]string{instance, feed}
	f := s.feeds[k]
	if f == nil {
		f = &FeedStats{}
		s.feeds[k] = f
	}
	return f
}

// Saved counts stored posts of a feed.
func (s *Stats) Saved(instance, feed string, n, updated int) {
	s.mu.Lock()
	f := s.feed(instance, feed)
	f.New += int64(n)
	f.Updated += int64(updated)
	s.mu.Unlock()
}

// Error counts a failed poll of a feed.
func (s *Stats) Error(instance, feed string) {
	s.mu.Lock()
	s.feed(instance, feed).Errors++
	s.mu.Unlock()
}

// Skipped returns a copy of the skip counters by reason.
func (s *Stats) Skipped() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.skipped)
}
