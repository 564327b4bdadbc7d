// Package ingest polls and streams the feeds of Mastodon-compatible instances, stores the eligible posts that mention CVEs, and keeps their counts, edits and deletions current.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/cve"
	"github.com/cvecrowd/cvecrowd/internal/lease"
	"github.com/cvecrowd/cvecrowd/internal/mastodon"
	"github.com/cvecrowd/cvecrowd/internal/sanitize"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Feed names as stored with each cursor.
const (
	FeedPublic = "public"  // the federated timeline
	FeedTagCVE = "tag:cve" // the #cve hashtag timeline
	FeedSearch = "search"  // full-text search for "CVE-" (needs a token)
	FeedStream = "stream"  // the streaming API (WebSocket or SSE)
	tagPrefix  = "tag:"
	pageLimit  = 40 // Mastodon's maximum page size
	maxWindow  = 30 * 24 * time.Hour
)

// Store is what ingestion needs of the database.
type Store interface {
	Feed(ctx context.Context, instance, feed string) (store.FeedState, error)
	SaveBatch(ctx context.Context, b store.Batch) (store.SaveResult, error)
	FeedError(ctx context.Context, instance, feed, msg string) error
	DeleteByLocalID(ctx context.Context, instance, localID, reason string) (string, error)
	DeletePost(ctx context.Context, uri, reason string) (bool, error)
	DueRefresh(ctx context.Context, now time.Time, limit int) ([]store.RefreshTarget, error)
	ScheduleRefresh(ctx context.Context, id int64, next time.Time, step int) error
}

// Config says what to poll and how politely.
type Config struct {
	Instances     []string      // base URLs polled with the default feeds and no token
	Sources       []Source      // instances with their own token and feeds
	PollInterval  time.Duration // pause between poll rounds of one instance
	BackfillPages int           // page limit of a feed's first-start backfill
	ForwardPages  int           // page limit of one forward poll
	DiscoverEvery time.Duration // how often CVE hashtags are looked up
	MaxTagFeeds   int           // discovered hashtag feeds polled per instance
	MinBackoff    time.Duration // first delay after a failure; it doubles per failure
	MaxBackoff    time.Duration // cap of the exponential backoff
	UserAgent     string
	HTTPTimeout   time.Duration

	StreamIdle time.Duration // a stream silent this long (no byte, no heartbeat) is dead

	// Leases, when set, splits the work between processes sharing one
	// database: each instance, and the count refresh, runs in one process
	// at a time.
	Leases *lease.Keeper

	RefreshSteps   []time.Duration // decaying count-refresh schedule; the last step repeats
	RefreshEvery   time.Duration   // how often due refreshes are looked up
	RefreshWindow  time.Duration   // posts older than this are not refreshed
	RefreshOrigins bool            // refresh from a post's origin server when it speaks the Mastodon API
	RefreshRate    float64         // requests per second per host for refreshes
}

func (c *Config) defaults() {
	if c.PollInterval <= 0 {
		c.PollInterval = time.Minute
	}
	if c.BackfillPages <= 0 {
		c.BackfillPages = 25
	}
	if c.ForwardPages <= 0 {
		c.ForwardPages = 25
	}
	if c.DiscoverEvery <= 0 {
		c.DiscoverEvery = 15 * time.Minute
	}
	if c.MaxTagFeeds <= 0 {
		c.MaxTagFeeds = 20
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 2 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = 30 * time.Second
	}
	if c.StreamIdle <= 0 {
		c.StreamIdle = 90 * time.Second
	}
	if len(c.RefreshSteps) == 0 {
		c.RefreshSteps = DefaultRefreshSteps
	}
	if c.RefreshEvery <= 0 {
		c.RefreshEvery = 30 * time.Second
	}
	if c.RefreshWindow <= 0 {
		c.RefreshWindow = maxWindow
	}
	if c.RefreshRate <= 0 {
		c.RefreshRate = 1
	}
	if c.UserAgent == "" {
		c.UserAgent = "cvecrowd (+https://github.com/cvecrowd/cvecrowd)"
	}
}

// Ingester runs one poller per instance, a streamer per instance that
// streams, and one count refresher.
type Ingester struct {
	cfg     Config
	st      Store
	log     *slog.Logger
	now     func() time.Time
	Stats   *Stats
	sources []source
}

// New returns an Ingester. It does nothing until Run.
func New(cfg Config, st Store, log *slog.Logger) (*Ingester, error) {
	cfg.defaults()
	in := &Ingester{cfg: cfg, st: st, log: log, now: time.Now, Stats: NewStats()}
	all := make([]Source, 0, len(cfg.Instances)+len(cfg.Sources))
	for _, raw := range cfg.Instances {
		all = append(all, Source{URL: raw})
	}
	all = append(all, cfg.Sources...)
	seen := map[string]bool{}
	for _, src := range all {
		s, err := src.resolve(cfg)
		if err != nil {
			return nil, err
		}
		if seen[s.host] {
			return nil, fmt.Errorf("ingest: instance %s is configured twice", s.host)
		}
		seen[s.host] = true
		in.sources = append(in.sources, s)
	}
	return in, nil
}

func parseInstance(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ingest: instance %q: want an http(s) base URL such as https://infosec.exchange", raw)
	}
	if u.User != nil {
		// Credentials in a URL end up in logs; tokens have their own setting.
		return nil, fmt.Errorf("ingest: instance %s://%s: credentials in the URL are not supported", u.Scheme, u.Host)
	}
	return &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: u.Path}, nil
}

// Run polls every instance until ctx ends. It returns when all pollers have
// stopped; an in-flight page is either stored whole or not at all.
func (in *Ingester) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	clients := map[string]*mastodon.Client{}
	for _, src := range in.sources {
		clients[src.host] = src.client
		// One instance's feeds, stream included, belong to one process at
		// a time, so its request budget is never spent twice.
		wg.Go(func() {
			in.leased(ctx, "instance:"+src.host, func(ctx context.Context) { in.runSource(ctx, src) })
		})
	}
	r := newRefresher(in, clients)
	wg.Go(func() { in.leased(ctx, "refresh", r.run) })
	wg.Wait()
	return nil
}

// leased runs work under the named lease when several processes share the
// database (Config.Leases), else directly.
func (in *Ingester) leased(ctx context.Context, name string, work func(context.Context)) {
	if in.cfg.Leases == nil {
		work(ctx)
		return
	}
	in.cfg.Leases.Run(ctx, name, work)
}

// runSource polls (and streams) one instance until ctx ends.
func (in *Ingester) runSource(ctx context.Context, src source) {
	var wg sync.WaitGroup
	p := &poller{
		in:       in,
		src:      src,
		instance: src.host,
		client:   src.client,
		log:      in.log.With("instance", src.host),
		kick:     make(chan struct{}, 1),
	}
	for _, f := range p.feeds() {
		in.Stats.SetState(src.host, f, StateStarting)
	}
	wg.Go(func() { p.run(ctx) })
	if src.feeds[FeedStream] {
		in.Stats.SetState(src.host, FeedStream, StateStarting)
		sm := &streamer{p: p, log: p.log.With("feed", FeedStream)}
		wg.Go(func() { sm.run(ctx) })
	}
	wg.Wait()
}

// poller polls the feeds of one instance, one request at a time.
type poller struct {
	in       *Ingester
	src      source
	instance string
	client   *mastodon.Client
	log      *slog.Logger
	kick     chan struct{} // a stream reconnected: poll now to backfill the gap

	mu sync.Mutex // guards tags, which the streamer reads to subscribe

	tags         []string // discovered CVE hashtags, newest first
	lastDiscover time.Time
	failures     int
	pauseUntil   time.Time
}

func (p *poller) run(ctx context.Context) {
	p.log.Info("polling instance", "feeds", p.feeds())
	for ctx.Err() == nil {
		if p.src.feeds[feedHashtags] && time.Since(p.lastDiscover) >= p.in.cfg.DiscoverEvery {
			p.discover(ctx)
		}
		for _, feed := range p.feeds() {
			if ctx.Err() != nil {
				return
			}
			if err := p.poll(ctx, feed); err != nil {
				if ctx.Err() != nil {
					return
				}
				p.fail(ctx, feed, err)
				break // back off the whole instance: its errors are rarely per feed
			}
			p.in.Stats.SetState(p.instance, feed, StateOK)
			p.failures = 0
		}
		p.sleep(ctx, p.in.cfg.PollInterval)
	}
}

// feeds lists the polled feeds of the instance, in polling order.
func (p *poller) feeds() []string {
	var out []string
	for _, f := range []string{FeedPublic, FeedTagCVE, FeedSearch} {
		if p.src.feeds[f] {
			out = append(out, f)
		}
	}
	for _, t := range p.tagList() {
		out = append(out, tagPrefix+t)
	}
	return out
}

func (p *poller) tagList() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tags
}

// fail records err and schedules the instance's next request with
// exponential backoff and jitter, or later if the server asked for it.
func (p *poller) fail(ctx context.Context, feed string, err error) {
	p.failures++
	d := backoff(p.failures, p.in.cfg.MinBackoff, p.in.cfg.MaxBackoff)
	var he *mastodon.HTTPError
	if errors.As(err, &he) && he.RetryAfter > d {
		d = min(he.RetryAfter, 6*time.Hour)
	}
	// The next round starts after the poll interval at the earliest.
	d = max(d, p.in.cfg.PollInterval)
	p.pauseUntil = time.Now().Add(d)
	p.in.Stats.Error(p.instance, feed)
	p.in.Stats.SetState(p.instance, feed, StateBackoff)
	p.log.Warn("poll failed", "feed", feed, "err", err, "retry_in", d.Round(time.Millisecond))
	if serr := p.in.st.FeedError(ctx, p.instance, feed, err.Error()); serr != nil && ctx.Err() == nil {
		p.log.Error("record feed error", "feed", feed, "err", serr)
	}
}

// backoff is base×2^(n-1) with ±25% jitter, capped, and never under
// base/2 so a failing server is never hot-looped.
func backoff(n int, base, maxD time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return max(d+jitter, base/2)
}

// sleep waits d, or longer when the instance is paused, or until ctx ends.
func (p *poller) sleep(ctx context.Context, d time.Duration) {
	if until := time.Until(p.pauseUntil); until > d {
		d = until
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var kick chan struct{}
	if time.Now().After(p.pauseUntil) {
		kick = p.kick // a reconnected stream may cut a pause short, not a backoff
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-kick:
	}
}

// polite waits before the next request when the server says the budget is
// nearly spent, until its reset time (bounded).
func (p *poller) polite(ctx context.Context, rl mastodon.RateLimit) {
	if !rl.Known || rl.Remaining > 5 || rl.Reset.IsZero() {
		return
	}
	d := min(time.Until(rl.Reset), 10*time.Minute)
	if d <= 0 {
		return
	}
	p.log.Info("rate limit nearly spent; waiting for reset", "remaining", rl.Remaining, "wait", d.Round(time.Second))
	p.sleep(ctx, d)
}

func (p *poller) fetch(ctx context.Context, feed string, pp mastodon.PageParams) (*mastodon.Page, error) {
	var page *mastodon.Page
	var err error
	if tag, ok := strings.CutPrefix(feed, tagPrefix); ok {
		page, err = p.client.TagTimeline(ctx, tag, pp)
	} else if feed == FeedSearch {
		page, err = p.client.SearchStatuses(ctx, "CVE-", pp.MinID, pp.Limit)
	} else {
		page, err = p.client.PublicTimeline(ctx, pp)
	}
	if err != nil {
		return nil, err
	}
	p.polite(ctx, page.RateLimit)
	return page, nil
}

// poll brings one feed up to date: the first-start backfill if unfinished,
// then forward from the stored cursor.
func (p *poller) poll(ctx context.Context, feed string) error {
	st, err := p.in.st.Feed(ctx, p.instance, feed)
	if err != nil {
		return err
	}
	cur := st.Cursor
	if feed == FeedSearch {
		return p.search(ctx, cur)
	}
	if !cur.BackfillDone {
		if cur, err = p.backfill(ctx, feed, cur); err != nil {
			return err
		}
	}
	return p.forward(ctx, feed, cur)
}

// backfill walks rel="next" from the newest post (or from where an earlier
// run stopped) until posts are older than the largest window or the page
// limit is reached.
func (p *poller) backfill(ctx context.Context, feed string, cur store.FeedCursor) (store.FeedCursor, error) {
	limit := p.in.cfg.BackfillPages
	if feed != FeedPublic && feed != FeedTagCVE {
		limit = min(limit, 5)
	}
	cutoff := time.Now().Add(-maxWindow)
	for page := 0; ; page++ {
		if page == limit {
			cur.BackfillDone = true
			_, err := p.save(ctx, feed, nil, cur)
			return cur, err
		}
		pg, err := p.fetch(ctx, feed, mastodon.PageParams{MaxID: cur.BackfillMaxID, Limit: pageLimit})
		if err != nil {
			return cur, err
		}
		newest, oldest, oldestAt := span(pg)
		if cur.MinID == "" {
			cur.MinID = newest // the forward poll starts above the newest post
		}
		if next := pg.Next.Get("max_id"); next != "" {
			oldest = next
		}
		if cur.BackfillMaxID != "" && oldest != "" && compareIDs(oldest, cur.BackfillMaxID) >= 0 {
			// The server handed back a page that is not older: stop rather
			// than walk the same page again.
			p.log.Warn("backfill made no progress; ending it", "feed", feed, "max_id", cur.BackfillMaxID)
			cur.BackfillDone = true
			_, err := p.save(ctx, feed, pg, cur)
			return cur, err
		}
		if oldest != "" {
			cur.BackfillMaxID = oldest
		}
		cur.BackfillDone = len(pg.Statuses)+pg.Malformed == 0 || pg.Next == nil ||
			(!oldestAt.IsZero() && oldestAt.Before(cutoff))
		if _, err := p.save(ctx, feed, pg, cur); err != nil {
			return cur, err
		}
		if cur.BackfillDone {
			return cur, nil
		}
	}
}

// forward pages with min_id from the cursor until a short page.
func (p *poller) forward(ctx context.Context, feed string, cur store.FeedCursor) error {
	for range p.in.cfg.ForwardPages {
		pg, err := p.fetch(ctx, feed, mastodon.PageParams{MinID: cur.MinID, Limit: pageLimit})
		if err != nil {
			return err
		}
		newest, _, _ := span(pg)
		if prev := pg.Prev.Get("min_id"); prev != "" && compareIDs(prev, newest) > 0 {
			newest = prev
		}
		moved := newest != "" && compareIDs(newest, cur.MinID) > 0
		if moved {
			cur.MinID = newest
		}
		if _, err := p.save(ctx, feed, pg, cur); err != nil {
			return err
		}
		// A server that ignores min_id would hand back the same page forever.
		if !moved || len(pg.Statuses)+pg.Malformed < pageLimit {
			return nil
		}
	}
	return nil
}

// span returns the newest and oldest local ids of a page and the oldest
// post time. Ids are those of the items (boost wrappers included), since
// they are what the cursors page over.
func span(pg *mastodon.Page) (newest, oldest string, oldestAt time.Time) {
	for i := range pg.Statuses {
		s := &pg.Statuses[i]
		if newest == "" || compareIDs(s.ID, newest) > 0 {
			newest = s.ID
		}
		if oldest == "" || compareIDs(s.ID, oldest) < 0 {
			oldest = s.ID
		}
		if oldestAt.IsZero() || s.CreatedAt.Before(oldestAt) {
			oldestAt = s.CreatedAt
		}
	}
	return newest, oldest, oldestAt
}

// compareIDs orders Mastodon snowflake ids (decimal strings) and
// fixed-width flake ids alike: shorter is smaller, then lexical order.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// save turns a page into a batch and stores it with the cursor.
func (p *poller) save(ctx context.Context, feed string, pg *mastodon.Page, cur store.FeedCursor) (store.SaveResult, error) {
	b := store.Batch{Instance: p.instance, Feed: feed, Cursor: &cur, RefreshAt: time.Now().Add(p.in.cfg.RefreshSteps[0])}
	if pg != nil {
		b.Posts, b.Skipped, b.Gone = p.in.convert(p.instance, feed, pg, p.log)
	}
	res, err := p.in.st.SaveBatch(ctx, b)
	if err != nil {
		return res, err
	}
	p.in.Stats.Saved(p.instance, feed, res.New, res.Updated)
	p.in.Stats.Tombstoned(res.Tombstoned)
	if res.New > 0 {
		p.log.Info("stored posts", "feed", feed, "new", res.New, "updated", res.Updated, "skipped", b.Skipped)
	}
	return res, nil
}

// convert keeps the eligible posts of a page that mention CVEs. gone
// lists edited posts that no longer mention any: a stored copy must go.
func (in *Ingester) convert(instance, feed string, pg *mastodon.Page, log *slog.Logger) (out []store.Sighted, skipped int, gone []string) {
	skipped = pg.Malformed
	for range pg.Malformed {
		in.Stats.Skip(SkipMalformed)
	}
	for _, err := range pg.MalformedErrs {
		log.Warn("skipped malformed status", "feed", feed, "err", err)
	}
	seen := make(map[string]bool, len(pg.Statuses))
	for i := range pg.Statuses {
		s := &pg.Statuses[i]
		if s.Reblog != nil {
			s = s.Reblog // a boost is not a post: its original is
		}
		if reason := Eligibility(s); reason != "" {
			in.Stats.Skip(reason)
			in.log.Debug("skipped status", "instance", instance, "feed", feed, "reason", reason, "uri", s.URI)
			skipped++
			continue
		}
		clean(s, time.Now())
		uri := s.URI
		if uri == "" {
			uri = s.URL
		}
		if uri == "" || seen[uri] {
			continue
		}
		tags := make([]string, len(s.Tags))
		for j, t := range s.Tags {
			tags[j] = t.Name
		}
		ids := cve.FromPost(s.Content, tags)
		if len(ids) == 0 {
			in.Stats.Skip(SkipNoCVE)
			in.log.Debug("skipped status", "instance", instance, "feed", feed, "reason", SkipNoCVE, "uri", s.URI)
			if s.EditedAt != nil {
				gone = append(gone, uri)
			}
			continue
		}
		seen[uri] = true
		cves := make([]string, len(ids))
		for j, id := range ids {
			cves[j] = string(id)
		}
		out = append(out, store.Sighted{
			Post: store.Post{
				URI:        uri,
				URL:        s.URL,
				CreatedAt:  s.CreatedAt,
				EditedAt:   s.EditedAt,
				Language:   s.Language,
				Content:    sanitize.HTML(s.Content),
				Reblogs:    max(s.ReblogsCount, 0),
				Favourites: max(s.FavouritesCount, 0),
				Replies:    max(s.RepliesCount, 0),
				Account:    account(&s.Account, instance),
				CVEs:       cves,
			},
			LocalID:       s.ID,
			Authoritative: hostOf(uri) == instance,
		})
	}
	return out, skipped, gone
}

// account keys an author by profile URL, which is the same through every
// instance, unlike acct ("user" locally, "user@host" elsewhere).
func account(a *mastodon.Account, instance string) store.Account {
	acct := a.Acct
	if acct != "" && !strings.Contains(acct, "@") {
		acct += "@" + instance
	}
	key := a.URL
	if key == "" {
		key = "acct:" + acct
	}
	return store.Account{URL: key, Acct: acct, DisplayName: a.DisplayName, Avatar: a.Avatar}
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// discover looks up CVE hashtags (#cve20243094, #cve_2024_3094) the
// instance knows and adds their timelines as feeds.
func (p *poller) discover(ctx context.Context) {
	p.lastDiscover = time.Now()
	tags, err := p.client.SearchHashtags(ctx, "cve", 40)
	if err != nil {
		p.log.Info("hashtag discovery failed", "err", err)
		return
	}
	known := make(map[string]bool)
	var out []string
	for _, t := range tags {
		name := strings.ToLower(t.Name)
		if known[name] || !isCVETag(name) {
			continue
		}
		known[name] = true
		out = append(out, name)
		if len(out) == p.in.cfg.MaxTagFeeds {
			break
		}
	}
	p.mu.Lock()
	p.tags = out
	p.mu.Unlock()
	p.log.Info("discovered CVE hashtags", "count", len(out))
}

// isCVETag reports whether a hashtag is one CVE ID and nothing else.
func isCVETag(name string) bool {
	ids := cve.Extractor{}.FromText(name)
	if len(ids) != 1 {
		return false
	}
	digits := strings.NewReplacer("cve", "", "_", "", "-", "").Replace(name)
	return digits == strings.ReplaceAll(strings.TrimPrefix(string(ids[0]), "CVE-"), "-", "")
}

// search polls the full-text search for "CVE-". Results come newest first;
// the cursor keeps the newest local id so that servers that honour min_id
// answer only newer posts (the fake and some servers ignore it, and the
// repeats are harmless: identity is by uri).
func (p *poller) search(ctx context.Context, cur store.FeedCursor) error {
	pg, err := p.fetch(ctx, FeedSearch, mastodon.PageParams{MinID: cur.MinID, Limit: pageLimit})
	if err != nil {
		return err
	}
	if newest, _, _ := span(pg); newest != "" && compareIDs(newest, cur.MinID) > 0 {
		cur.MinID = newest
	}
	cur.BackfillDone = true
	_, err = p.save(ctx, FeedSearch, pg, cur)
	return err
}
