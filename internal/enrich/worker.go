package enrich

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Store is what the worker needs of the database.
type Store interface {
	DueRecords(ctx context.Context, now, windowStart time.Time, limit int) ([]string, error)
	DueEPSS(ctx context.Context, before, windowStart time.Time, limit int) ([]string, error)
	CVEData(ctx context.Context, id string) (store.CVEData, error)
	SaveRecords(ctx context.Context, recs []store.CVERecord, next time.Time) (int, error)
	SaveNVD(ctx context.Context, recs []store.NVDRecord) error
	MarkNVDChecked(ctx context.Context, ids []string) error
	MarkUnpublished(ctx context.Context, id string, next time.Time) error
	MarkCheckFailed(ctx context.Context, id string, next time.Time) error
	SaveEPSS(ctx context.Context, scores []store.EPSSScore, asked []string) error
	SaveKEV(ctx context.Context, version string, entries []store.KEVEntry) error
}

// Policy is the worker's refresh policy.
type Policy struct {
	Interval      time.Duration // pause between rounds; default 1m
	Window        time.Duration // CVEs mentioned within it are kept fresh; default 30 days
	RecordRefresh time.Duration // re-read a record at most this often; default 24h
	NVDRefresh    time.Duration // re-read NVD this often even when the record did not change; default 72h
	EPSSRefresh   time.Duration // default 24h (EPSS publishes daily)
	KEVRefresh    time.Duration // default 6h
	RecordsPerRun int           // records checked per round; default 50
}

func (p *Policy) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&p.Interval, time.Minute)
	set(&p.Window, 30*24*time.Hour)
	set(&p.RecordRefresh, 24*time.Hour)
	set(&p.NVDRefresh, 72*time.Hour)
	set(&p.EPSSRefresh, 24*time.Hour)
	set(&p.KEVRefresh, 6*time.Hour)
	if p.RecordsPerRun <= 0 {
		p.RecordsPerRun = 50
	}
}

// Worker keeps the official data of mentioned CVEs fresh. A source that
// fails is backed off on its own; nothing it does blocks ingestion or
// serving, and a failure never marks a CVE as anything but "not checked".
type Worker struct {
	c      *Client
	st     Store
	log    *slog.Logger
	policy Policy
	now    func() time.Time

	lastKEV time.Time
	backoff map[string]*sourceBackoff
}

type sourceBackoff struct {
	fails int
	until time.Time
}

// NewWorker returns a worker over c and st.
func NewWorker(c *Client, st Store, p Policy, log *slog.Logger) *Worker {
	p.defaults()
	return &Worker{c: c, st: st, log: log, policy: p, now: time.Now, backoff: map[string]*sourceBackoff{}}
}

// SetClock replaces the clock (tests).
func (w *Worker) SetClock(now func() time.Time) { w.now = now }

// Run enriches in rounds until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for {
		w.RunOnce(ctx)
		t := time.NewTimer(w.policy.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RunOnce does one round: the KEV catalogue when due, then due records
// (with NVD when the record changed), then due EPSS scores.
func (w *Worker) RunOnce(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	w.kev(ctx)
	w.records(ctx)
	w.epss(ctx)
}

// available reports whether source is out of its backoff.
func (w *Worker) available(source string) bool {
	b := w.backoff[source]
	return b == nil || !w.now().Before(b.until)
}

func (w *Worker) failed(source string, err error) {
	b := w.backoff[source]
	if b == nil {
		b = &sourceBackoff{}
		w.backoff[source] = b
	}
	b.fails++
	wait := jitter(min(time.Minute<<min(b.fails-1, 10), 30*time.Minute))
	b.until = w.now().Add(wait)
	w.log.Warn("enrich: source unreachable; CVEs stay listed (unverified until checked), retrying later",
		"source", source, "err", err, "retry_in", wait.Round(time.Second), "failures", b.fails)
}

func (w *Worker) ok(source string) {
	if b := w.backoff[source]; b != nil && b.fails > 0 {
		w.log.Info("enrich: source reachable again", "source", source)
	}
	delete(w.backoff, source)
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

func (w *Worker) kev(ctx context.Context) {
	if !w.available("kev") || (!w.lastKEV.IsZero() && w.now().Sub(w.lastKEV) < w.policy.KEVRefresh) {
		return
	}
	cat, unchanged, err := w.c.KEV(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.failed("kev", err)
		}
		return
	}
	w.ok("kev")
	w.lastKEV = w.now()
	if unchanged {
		return
	}
	if err := w.st.SaveKEV(ctx, cat.Version, cat.Entries); err != nil {
		w.log.Error("enrich: store kev catalogue", "err", err)
		return
	}
	w.log.Info("enrich: kev catalogue stored", "version", cat.Version, "entries", len(cat.Entries), "skipped", len(cat.Skipped))
}

func (w *Worker) records(ctx context.Context) {
	if !w.available("cve-services") {
		return
	}
	now := w.now()
	ids, err := w.st.DueRecords(ctx, now, now.Add(-w.policy.Window), w.policy.RecordsPerRun)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("enrich: due records", "err", err)
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if !w.record(ctx, id) {
			return // the source is down: the rest waits for its backoff
		}
	}
}

// record refreshes one CVE; false when CVE Services could not be reached.
func (w *Worker) record(ctx context.Context, id string) bool {
	prev, err := w.st.CVEData(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		w.log.Error("enrich: read cve data", "cve", id, "err", err)
		return true
	}
	rec, err := w.c.Record(ctx, id)
	switch {
	case errors.Is(err, ErrNoRecord):
		w.ok("cve-services")
		// Reserved or mistyped: out of the ranking, asked again with
		// backoff (30 min doubling to a day) until it is published.
		wait := jitter(min(30*time.Minute<<min(prev.CheckFailures, 6), 24*time.Hour))
		if err := w.st.MarkUnpublished(ctx, id, w.now().Add(wait)); err != nil {
			w.log.Error("enrich: mark unpublished", "cve", id, "err", err)
		}
		return true
	case errors.Is(err, ErrUnknownFormat):
		// The source answered, but with a record this parser cannot read:
		// keep what is stored, ask again later, say so once per CVE.
		w.log.Warn("enrich: unreadable record skipped", "cve", id, "err", err)
		w.markFailed(ctx, id, prev.CheckFailures)
		return true
	case err != nil:
		if ctx.Err() != nil {
			return false
		}
		w.markFailed(ctx, id, prev.CheckFailures)
		w.failed("cve-services", err)
		return false
	}
	w.ok("cve-services")
	if _, err := w.st.SaveRecords(ctx, []store.CVERecord{rec}, w.now().Add(w.policy.RecordRefresh)); err != nil {
		w.log.Error("enrich: store record", "cve", id, "err", err)
		return true
	}
	changed := prev.RecordUpdated == nil || rec.Updated == nil || !rec.Updated.Equal(*prev.RecordUpdated)
	stale := prev.NVDCheckedAt == nil || w.now().Sub(*prev.NVDCheckedAt) >= w.policy.NVDRefresh
	if rec.State == store.StatePublished && (changed || stale) && w.available("nvd") {
		w.nvd(ctx, id)
	}
	return true
}

func (w *Worker) markFailed(ctx context.Context, id string, fails int) {
	wait := jitter(min(time.Minute<<min(fails, 10), 6*time.Hour))
	if err := w.st.MarkCheckFailed(ctx, id, w.now().Add(wait)); err != nil {
		w.log.Error("enrich: mark check failed", "cve", id, "err", err)
	}
}

func (w *Worker) nvd(ctx context.Context, id string) {
	rec, found, err := w.c.NVD(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			w.failed("nvd", err)
		}
		return
	}
	w.ok("nvd")
	if !found {
		err = w.st.MarkNVDChecked(ctx, []string{id})
	} else {
		err = w.st.SaveNVD(ctx, []store.NVDRecord{rec})
	}
	if err != nil {
		w.log.Error("enrich: store nvd", "cve", id, "err", err)
	}
}

func (w *Worker) epss(ctx context.Context) {
	if !w.available("epss") {
		return
	}
	now := w.now()
	ids, err := w.st.DueEPSS(ctx, now.Add(-w.policy.EPSSRefresh), now.Add(-w.policy.Window), EPSSBatch)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("enrich: due epss", "err", err)
		}
		return
	}
	if len(ids) == 0 {
		return
	}
	scores, err := w.c.EPSS(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			w.failed("epss", err)
		}
		return
	}
	w.ok("epss")
	if err := w.st.SaveEPSS(ctx, scores, ids); err != nil {
		w.log.Error("enrich: store epss", "err", err)
	}
}
