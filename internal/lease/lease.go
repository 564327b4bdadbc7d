// Package lease runs a piece of work in only one of several processes at a time, through leases kept in the database.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Store keeps leases; store.DB implements it.
type Store interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Keeper runs named work under leases held as Holder.
type Keeper struct {
	Store  Store
	Holder string        // who this process is; unique among the processes
	TTL    time.Duration // a dead holder's work moves on within one TTL
	Log    *slog.Logger
}

// NewHolder returns a holder name unique to this process: host, pid and a
// random part (pids repeat across machines and restarts).
func NewHolder() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Run calls work with a context that lives while this process holds the
// lease called name, and again each time it wins the lease back, until ctx
// ends. The lease is renewed every TTL/3; when a renewal fails or is refused
// the work's context is cancelled. On return the lease is released so
// another process can take the work at once.
func (k *Keeper) Run(ctx context.Context, name string, work func(ctx context.Context)) {
	ttl := k.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	log := k.Log.With("lease", name, "holder", k.Holder)
	for ctx.Err() == nil {
		ok, err := k.Store.AcquireLease(ctx, name, k.Holder, ttl)
		if err != nil && ctx.Err() == nil {
			log.Warn("lease check failed", "err", err)
		}
		if !ok {
			sleep(ctx, ttl/3)
			continue
		}
		log.Info("lease taken; starting work")
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			work(wctx)
		}()
		k.renew(wctx, name, ttl, log, cancel, done)
		cancel()
		<-done
		// Release with a fresh context: ctx may be over (shutdown).
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := k.Store.ReleaseLease(rctx, name, k.Holder); err != nil {
			log.Warn("lease release failed; it will expire", "err", err)
		}
		rcancel()
		if ctx.Err() == nil {
			log.Info("lease lost; work stopped")
		}
	}
}

// renew keeps the lease until the work ends, ctx ends or a renewal fails.
func (k *Keeper) renew(ctx context.Context, name string, ttl time.Duration, log *slog.Logger, cancel context.CancelFunc, done <-chan struct{}) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-t.C:
			ok, err := k.Store.AcquireLease(ctx, name, k.Holder, ttl)
			if err != nil || !ok {
				if ctx.Err() == nil {
					log.Warn("lease renewal failed; stopping work", "err", err, "still_held", ok)
				}
				cancel()
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
