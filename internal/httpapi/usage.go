package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// UsageStore is where buffered key usage is written.
type UsageStore interface {
	AddAPIKeyUsage(ctx context.Context, usage []store.KeyUsage) error
}

// Usage counts requests per key in memory and writes the counts in one
// transaction per flush: a database write on every API request would make
// the hot path as slow as the disk.
type Usage struct {
	st  UsageStore
	log *slog.Logger

	mu      sync.Mutex
	pending map[int64]store.KeyUsage
}

// NewUsage returns a usage counter writing to st.
func NewUsage(st UsageStore, log *slog.Logger) *Usage {
	return &Usage{st: st, log: log, pending: make(map[int64]store.KeyUsage)}
}

// Record counts one request of key id at t.
func (u *Usage) Record(id int64, t time.Time) {
	u.mu.Lock()
	p := u.pending[id]
	p.KeyID = id
	p.Requests++
	if t.After(p.LastUsed) {
		p.LastUsed = t
	}
	u.pending[id] = p
	u.mu.Unlock()
}

// Pending returns what is counted for key id and not yet written.
func (u *Usage) Pending(id int64) store.KeyUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pending[id]
}

// Flush writes the pending counts. On failure they are put back, to be
// written by the next flush.
func (u *Usage) Flush(ctx context.Context) error {
	u.mu.Lock()
	if len(u.pending) == 0 {
		u.mu.Unlock()
		return nil
	}
	batch := make([]store.KeyUsage, 0, len(u.pending))
	for _, p := range u.pending {
		batch = append(batch, p)
	}
	clear(u.pending)
	u.mu.Unlock()
	if err := u.st.AddAPIKeyUsage(ctx, batch); err != nil {
		u.mu.Lock()
		for _, b := range batch {
			p := u.pending[b.KeyID]
			p.KeyID = b.KeyID
			p.Requests += b.Requests
			if b.LastUsed.After(p.LastUsed) {
				p.LastUsed = b.LastUsed
			}
			u.pending[b.KeyID] = p
		}
		u.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends. The owner flushes once more
// after the HTTP server has drained, so no counted request is lost.
func (u *Usage) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := u.Flush(fctx); err != nil && ctx.Err() == nil {
				u.log.Warn("flush api key usage", "err", err)
			}
			cancel()
		}
	}
}
