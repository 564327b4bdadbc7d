package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// DefaultRefreshSteps is the decaying count-refresh schedule: counts move
// most in a post's first hours. The last step repeats (daily) until the
// post leaves the refresh window.
var DefaultRefreshSteps = []time.Duration{
	5 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// FeedRefresh is the feed name under which refreshed posts are saved.
const FeedRefresh = "refresh"

// refresher re-reads stored posts on the decaying schedule to follow their
// reblog and favourite counts, their edits and their deletion.
type refresher struct {
	in      *Ingester
	log     *slog.Logger
	clients map[string]*mastodon.Client // configured instances, by host

	mu      sync.Mutex
	budgets map[string]*budget
	origins map[string]*origin
}

// budget is one host's share of refresh requests: a steady rate, plus a
// pause when the server says its X-RateLimit budget is nearly spent or
// answers 429.
type budget struct {
	lim        *rate.Limiter
	pauseUntil time.Time
}

// origin caches whether a post's home server speaks the Mastodon API.
type origin struct {
	client    *mastodon.Client // nil: it does not (or did not answer)
	checkedAt time.Time
}

func newRefresher(in *Ingester, clients map[string]*mastodon.Client) *refresher {
	return &refresher{
		in: in, log: in.log.With("component", "refresh"), clients: clients,
		budgets: map[string]*budget{}, origins: map[string]*origin{},
	}
}

func (r *refresher) run(ctx context.Context) {
	t := time.NewTicker(r.in.cfg.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.refreshDue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("count refresh", "err", err)
		}
	}
}

// refreshDue refreshes the posts whose time has come, as far as each host's
// budget allows this round.
func (r *refresher) refreshDue(ctx context.Context) error {
	due, err := r.in.st.DueRefresh(ctx, time.Now(), 200)
	if err != nil {
		return err
	}
	for _, t := range due {
		if ctx.Err() != nil {
			return nil
		}
		if err := r.refreshOne(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// mastodonURI matches the uri of a post on a Mastodon server, whose last
// segment is the post's id on that server.
var mastodonURI = regexp.MustCompile(`^https://([^/]+)/users/[^/]+/statuses/([0-9]+)$`)

// target picks where to refresh a post: its origin when that is a
// Mastodon-API server (its counts are the true ones), else an instance
// that delivered it. ok is false when no source is usable.
func (r *refresher) target(ctx context.Context, t store.RefreshTarget) (host, id string, c *mastodon.Client, ok bool) {
	if m := mastodonURI.FindStringSubmatch(t.URI); m != nil {
		if c := r.clients[m[1]]; c != nil {
			return m[1], m[2], c, true
		}
		if r.in.cfg.RefreshOrigins {
			if c := r.origin(ctx, m[1]); c != nil {
				return m[1], m[2], c, true
			}
		}
	}
	// Take the delivering instances in turn, one per refresh, so that a
	// deletion any of them learnt of is seen within a few rounds.
	var usable []store.Sighting
	for _, s := range t.Sightings {
		if r.clients[s.Instance] != nil {
			usable = append(usable, s)
		}
	}
	if len(usable) == 0 {
		return "", "", nil, false
	}
	slices.SortFunc(usable, func(a, b store.Sighting) int { return strings.Compare(a.Instance, b.Instance) })
	s := usable[t.Step%len(usable)]
	return s.Instance, s.LocalID, r.clients[s.Instance], true
}

// origin returns a client for host when it answers /api/v2/instance (or
// v1) like a Mastodon-API server; answers are cached for a day.
func (r *refresher) origin(ctx context.Context, host string) *mastodon.Client {
	r.mu.Lock()
	o := r.origins[host]
	r.mu.Unlock()
	if o != nil && time.Since(o.checkedAt) < 24*time.Hour {
		return o.client
	}
	c := &mastodon.Client{
		BaseURL:   &url.URL{Scheme: "https", Host: host},
		UserAgent: r.in.cfg.UserAgent,
		HTTP:      newHTTPClient(r.in.cfg.HTTPTimeout),
	}
	if err := r.wait(ctx, host); err != nil {
		return nil
	}
	if _, err := c.Instance(ctx); err != nil {
		r.log.Debug("origin does not speak the Mastodon API", "host", host, "err", err)
		c = nil
	}
	r.mu.Lock()
	r.origins[host] = &origin{client: c, checkedAt: time.Now()}
	r.mu.Unlock()
	return c
}

func (r *refresher) budget(host string) *budget {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.budgets[host]
	if b == nil {
		b = &budget{lim: rate.NewLimiter(rate.Limit(r.in.cfg.RefreshRate), max(1, int(r.in.cfg.RefreshRate*5)))}
		r.budgets[host] = b
	}
	return b
}

var errPaused = errors.New("host budget paused")

// wait takes one request from host's budget, or reports errPaused when the
// host asked us to hold off.
func (r *refresher) wait(ctx context.Context, host string) error {
	b := r.budget(host)
	r.mu.Lock()
	paused := time.Now().Before(b.pauseUntil)
	r.mu.Unlock()
	if paused {
		return errPaused
	}
	return b.lim.Wait(ctx)
}

// observe adjusts a host's budget from its answer.
func (r *refresher) observe(host string, rl mastodon.RateLimit, err error) {
	b := r.budget(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	var he *mastodon.HTTPError
	if errors.As(err, &he) && he.StatusCode == 429 {
		d := max(he.RetryAfter, r.in.cfg.MinBackoff)
		if he.RateLimit.Known && !he.RateLimit.Reset.IsZero() {
			d = max(d, time.Until(he.RateLimit.Reset))
		}
		b.pauseUntil = time.Now().Add(min(d, time.Hour))
		return
	}
	// Keep a reserve for the pollers, which share the server's budget.
	if rl.Known && !rl.Reset.IsZero() && rl.Remaining <= max(rl.Limit/10, 5) {
		b.pauseUntil = time.Now().Add(min(time.Until(rl.Reset), time.Hour))
	}
}

// nextRefresh is when a post refreshed at step should be looked at again;
// zero once it leaves the window.
func (r *refresher) nextRefresh(created time.Time, step int) time.Time {
	steps := r.in.cfg.RefreshSteps
	next := time.Now().Add(steps[min(step, len(steps)-1)])
	if next.Sub(created) > r.in.cfg.RefreshWindow {
		return time.Time{}
	}
	return next
}

func (r *refresher) refreshOne(ctx context.Context, t store.RefreshTarget) error {
	in := r.in
	if time.Since(t.CreatedAt) > in.cfg.RefreshWindow {
		return in.st.ScheduleRefresh(ctx, t.ID, time.Time{}, t.Step)
	}
	host, id, c, ok := r.target(ctx, t)
	if !ok {
		// No configured instance delivered it and its origin is unknown:
		// nothing can refresh it.
		return in.st.ScheduleRefresh(ctx, t.ID, time.Time{}, t.Step)
	}
	if err := r.wait(ctx, host); err != nil {
		if errors.Is(err, errPaused) {
			return nil // stays due; picked up once the host's pause ends
		}
		return nil
	}
	st, rl, err := c.StatusRate(ctx, id)
	r.observe(host, rl, err)
	switch {
	case errors.Is(err, mastodon.ErrNotFound):
		in.Stats.Refreshed("gone")
		removed, err := in.st.DeletePost(ctx, t.URI, "404/410 on refresh")
		if err != nil {
			return err
		}
		if removed {
			in.Stats.Deleted()
			r.log.Info("post deleted", "uri", t.URI)
		}
		return nil
	case err != nil:
		in.Stats.Refreshed("error")
		if ctx.Err() != nil {
			return nil
		}
		r.log.Debug("refresh failed", "uri", t.URI, "host", host, "err", err)
		return in.st.ScheduleRefresh(ctx, t.ID, r.nextRefresh(t.CreatedAt, t.Step), t.Step)
	}
	if u := st.URI; u != "" && u != t.URI {
		// The id led somewhere else (a reused id, a server that maps ids
		// differently): never overwrite a post with another one.
		in.Stats.Refreshed("error")
		r.log.Warn("refresh answered another post", "uri", t.URI, "got", u, "host", host)
		return in.st.ScheduleRefresh(ctx, t.ID, time.Time{}, t.Step)
	}
	in.Stats.Refreshed("ok")
	pg := &mastodon.Page{Statuses: []mastodon.Status{*st}}
	b := store.Batch{Instance: host, Feed: FeedRefresh}
	b.Posts, b.Skipped, b.Gone = in.convert(host, FeedRefresh, pg, r.log)
	for i := range b.Posts {
		// A direct read of the post is fresher than any timeline's copy.
		b.Posts[i].Authoritative = true
	}
	if len(b.Posts) == 0 {
		// Edited to mention no CVE, or its author opted out since: it goes.
		b.Gone = []string{t.URI}
	}
	if _, err := in.st.SaveBatch(ctx, b); err != nil {
		return err
	}
	return in.st.ScheduleRefresh(ctx, t.ID, r.nextRefresh(t.CreatedAt, t.Step+1), t.Step+1)
}
