package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/cvecrowd/cvecrowd/internal/mastodon"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// streamer follows an instance's streaming API: a WebSocket to
// stream=public with the CVE hashtags multiplexed on it, or Server-Sent
// Events when the WebSocket cannot be opened. It reconnects with
// exponential backoff and jitter, and after every (re)connect kicks the
// poller, which backfills the gap from the stored cursor: the stream is for
// latency, the cursor for completeness.
type streamer struct {
	p   *poller
	log *slog.Logger

	lastByte atomic.Int64 // unix nanos of the last byte read on the stream's connection
	http     *http.Client
	failures int
	sessions int
}

func (sm *streamer) run(ctx context.Context) {
	sm.http = sm.httpClient()
	in, p := sm.p.in, sm.p
	for ctx.Err() == nil {
		err := sm.session(ctx)
		if ctx.Err() != nil {
			return
		}
		sm.failures++
		d := backoff(sm.failures, in.cfg.MinBackoff, in.cfg.MaxBackoff)
		in.Stats.Error(p.instance, FeedStream)
		in.Stats.SetState(p.instance, FeedStream, StateDisconnected)
		sm.log.Warn("stream down", "err", err, "retry_in", d.Round(time.Millisecond))
		if serr := in.st.FeedError(ctx, p.instance, FeedStream, err.Error()); serr != nil && ctx.Err() == nil {
			sm.log.Error("record stream error", "err", serr)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// httpClient has no overall timeout (a stream lasts hours) and records the
// time of every byte read, heartbeats included, for the idle watchdog.
func (sm *streamer) httpClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &activityConn{Conn: c, last: &sm.lastByte}, nil
		},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{Transport: tr}
}

// activityConn notes when bytes arrive.
type activityConn struct {
	net.Conn
	last *atomic.Int64
}

func (c *activityConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// session connects once and reads until the stream fails or goes silent.
// It always returns a non-nil error unless ctx ended.
func (sm *streamer) session(ctx context.Context) error {
	p := sm.p
	base, err := sm.streamingBase(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(nil); wg.Wait() }()
	sm.lastByte.Store(time.Now().UnixNano())
	wg.Go(func() { sm.watchdog(sctx, cancel) })

	next, closeFn, err := sm.dialWS(sctx, base)
	if err != nil {
		wsErr := err
		next, closeFn, err = sm.dialSSE(sctx, base)
		if err != nil {
			return fmt.Errorf("stream: websocket: %w; sse fallback: %w", wsErr, err)
		}
		sm.log.Info("websocket unavailable; streaming over SSE", "err", wsErr)
	}
	defer closeFn()

	sm.sessions++
	if sm.sessions > 1 {
		p.in.Stats.Reconnected(p.instance)
	}
	sm.failures = 0
	p.in.Stats.SetState(p.instance, FeedStream, StateStreaming)
	// Whatever happened while disconnected is fetched by the poller.
	select {
	case p.kick <- struct{}{}:
	default:
	}
	for {
		ev, err := next(sctx)
		if err != nil {
			if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
				return cause
			}
			return err
		}
		if err := sm.handle(sctx, ev); err != nil {
			return err
		}
	}
}

var errStreamIdle = errors.New("stream: silent for too long; treating it as dead")

// watchdog cancels the session when no byte arrived for StreamIdle.
func (sm *streamer) watchdog(ctx context.Context, cancel context.CancelCauseFunc) {
	idle := sm.p.in.cfg.StreamIdle
	t := time.NewTicker(max(idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(time.Unix(0, sm.lastByte.Load())) > idle {
				cancel(errStreamIdle)
				return
			}
		}
	}
}

// streamingBase is configuration.urls.streaming from /api/v2/instance,
// else the instance itself.
func (sm *streamer) streamingBase(ctx context.Context) (*url.URL, error) {
	raw := sm.p.src.streamingURL
	if raw == "" {
		inst, err := sm.p.client.Instance(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream: instance description: %w", err)
		}
		raw = inst.StreamingURL
	}
	if raw == "" {
		raw = sm.p.src.base.String()
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("stream: bad streaming URL %q", raw)
	}
	// The streaming URL must stay on the instance's own site: a hostile
	// instance description must not send the token elsewhere.
	if !sameSite(u.Hostname(), sm.p.src.base.Hostname()) {
		return nil, fmt.Errorf("stream: streaming host %s is not under %s", u.Hostname(), sm.p.src.base.Hostname())
	}
	return u, nil
}

// sameSite accepts the instance host, or a subdomain of it or of its parent
// (streaming.mastodon.social for mastodon.social).
func sameSite(h, base string) bool {
	if h == base || strings.HasSuffix(h, "."+base) {
		return true
	}
	if _, parent, ok := strings.Cut(base, "."); ok && strings.Contains(parent, ".") {
		return strings.HasSuffix(h, "."+parent)
	}
	return false
}

func (sm *streamer) header() http.Header {
	h := http.Header{}
	h.Set("User-Agent", sm.p.in.cfg.UserAgent)
	if tok := sm.p.client.Token; tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return h
}

type nextFunc func(ctx context.Context) (mastodon.StreamEvent, error)

func (sm *streamer) dialWS(ctx context.Context, base *url.URL) (nextFunc, func(), error) {
	u := *base
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	default:
		u.Scheme = "wss"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/streaming"
	u.RawQuery = url.Values{"stream": {"public"}}.Encode()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPClient: sm.http, HTTPHeader: sm.header()})
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("dial %s: HTTP %d", u.Redacted(), resp.StatusCode)
		}
		return nil, nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	c.SetReadLimit(mastodon.MaxStreamFrame)
	tags := append([]string{"cve"}, sm.p.tagList()...)
	for _, t := range tags {
		msg := fmt.Sprintf(`{"type":"subscribe","stream":"hashtag","tag":%q}`, t)
		if err := c.Write(dctx, websocket.MessageText, []byte(msg)); err != nil {
			c.CloseNow()
			return nil, nil, fmt.Errorf("subscribe #%s: %w", t, err)
		}
	}
	next := func(ctx context.Context) (mastodon.StreamEvent, error) {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return mastodon.StreamEvent{}, fmt.Errorf("stream: read: %w", err)
			}
			ev, err := mastodon.ParseStreamMessage(b)
			if err != nil {
				sm.p.in.Stats.Skip(SkipMalformed)
				sm.log.Debug("skipped stream message", "err", err)
				continue
			}
			return ev, nil
		}
	}
	return next, func() { c.Close(websocket.StatusNormalClosure, "") }, nil
}

func (sm *streamer) dialSSE(ctx context.Context, base *url.URL) (nextFunc, func(), error) {
	u := *base
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "http"
	default:
		u.Scheme = "https"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/streaming/public"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header = sm.header()
	req.Header.Set("Accept", "text/event-stream")
	resp, err := sm.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		return nil, nil, fmt.Errorf("GET %s: HTTP %d %s", u.Redacted(), resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := mastodon.NewSSEReader(resp.Body)
	next := func(ctx context.Context) (mastodon.StreamEvent, error) {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			err = errors.New("stream: server closed the event stream")
		}
		return ev, err
	}
	return next, func() { resp.Body.Close() }, nil
}

// handle applies one event: an update or edit is stored like a polled
// post; a delete is resolved through the sightings.
func (sm *streamer) handle(ctx context.Context, ev mastodon.StreamEvent) error {
	p := sm.p
	in := p.in
	in.Stats.StreamEvent(p.instance, ev.Event)
	switch ev.Event {
	case "update", "status.update":
		st, err := mastodon.ParseStatus([]byte(ev.Payload))
		if err != nil {
			in.Stats.Skip(SkipMalformed)
			sm.log.Debug("skipped malformed stream status", "err", err)
			return nil
		}
		pg := &mastodon.Page{Statuses: []mastodon.Status{*st}}
		b := store.Batch{Instance: p.instance, Feed: FeedStream, RefreshAt: time.Now().Add(in.cfg.RefreshSteps[0])}
		b.Posts, b.Skipped, b.Gone = in.convert(p.instance, FeedStream, pg, sm.log)
		res, err := in.st.SaveBatch(ctx, b)
		if err != nil {
			return err
		}
		in.Stats.Saved(p.instance, FeedStream, res.New, res.Updated)
		in.Stats.Tombstoned(res.Tombstoned)
	case "delete":
		id := strings.TrimSpace(ev.Payload)
		if id == "" {
			in.Stats.Skip(SkipMalformed)
			return nil
		}
		uri, err := in.st.DeleteByLocalID(ctx, p.instance, id, "delete event")
		if err != nil {
			return err
		}
		if uri != "" {
			in.Stats.Deleted()
			sm.log.Info("post deleted", "uri", uri)
		}
	}
	return nil
}
