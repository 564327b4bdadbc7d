package fakefedi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// StreamConfig shapes the fake's streaming API and its scripted faults.
// The zero value streams normally with a 5 s heartbeat.
type StreamConfig struct {
	// Token, when set, is the bearer token the streaming API requires
	// (Mastodon >= 4.2 requires a user token for public streams).
	Token string
	// NoWebSocket answers the WebSocket endpoint 404, so only SSE works.
	NoWebSocket bool
	// Disabled answers every streaming endpoint 404.
	Disabled bool
	// Heartbeat is the interval of WebSocket pings and SSE ":thump"
	// comments. Default 5 s.
	Heartbeat time.Duration
	// DropEvery closes each connection abruptly after this many events.
	DropEvery int
	// Stall makes every connection silent: no events, no heartbeats; the
	// events it would have carried are lost, as on a wedged real stream.
	Stall bool
	// GarbageEvery sends a malformed frame before every Nth event.
	GarbageEvery int
}

// streamHub fans events out to the connected streaming clients.
type streamHub struct {
	mu          sync.Mutex
	cfg         StreamConfig
	subs        map[*subscriber]struct{}
	connections int
}

type streamEvent struct {
	event   string
	payload string // status JSON, or the local id for delete
	public  bool   // goes to public streams
	tags    []string
}

type subscriber struct {
	ch     chan streamEvent
	public bool

	mu   sync.Mutex
	tags map[string]bool
}

func (sub *subscriber) wants(ev streamEvent) (streams [][]string) {
	if sub.public && ev.public {
		streams = append(streams, []string{"public"})
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if ev.event == "delete" && len(sub.tags) > 0 && !sub.public {
		// Deletes carry no tags; hashtag streams get them all.
		streams = append(streams, []string{"hashtag"})
	}
	for _, t := range ev.tags {
		if sub.tags[t] {
			streams = append(streams, []string{"hashtag", t})
		}
	}
	return streams
}

// SetStream replaces the streaming configuration. Connections already open
// pick up Stall, DropEvery and GarbageEvery at their next event.
func (s *Server) SetStream(c StreamConfig) {
	s.hub.mu.Lock()
	s.hub.cfg = c
	s.hub.mu.Unlock()
}

// StreamConnections is how many streaming connections were accepted.
func (s *Server) StreamConnections() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.hub.connections
}

func (s *Server) streamConfig() StreamConfig {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	c := s.hub.cfg
	if c.Heartbeat <= 0 {
		c.Heartbeat = 5 * time.Second
	}
	return c
}

// publish sends an event about st to the streams. Callers hold s.mu.
func (s *Server) publish(event string, st *status) {
	ev := streamEvent{event: event, public: true}
	if event == "delete" {
		ev.payload = st.idStr
	} else {
		if st.visibility != "public" {
			return
		}
		var b bytes.Buffer
		s.writeStatus(&b, st)
		ev.payload = b.String()
		if st.reblogOf == nil {
			ev.tags = st.allTags()
		}
	}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	for sub := range s.hub.subs {
		select {
		case sub.ch <- ev:
		default:
			// A client too slow to keep up is dropped, as Mastodon does.
			close(sub.ch)
			delete(s.hub.subs, sub)
		}
	}
}

func (s *Server) subscribe(public bool, tags ...string) *subscriber {
	sub := &subscriber{ch: make(chan streamEvent, 4096), public: public, tags: map[string]bool{}}
	for _, t := range tags {
		sub.tags[strings.ToLower(t)] = true
	}
	s.hub.mu.Lock()
	if s.hub.subs == nil {
		s.hub.subs = map[*subscriber]struct{}{}
	}
	s.hub.subs[sub] = struct{}{}
	s.hub.connections++
	s.hub.mu.Unlock()
	return sub
}

func (s *Server) unsubscribe(sub *subscriber) {
	s.hub.mu.Lock()
	if _, ok := s.hub.subs[sub]; ok {
		delete(s.hub.subs, sub)
		close(sub.ch)
	}
	s.hub.mu.Unlock()
}

// serveStream answers the streaming endpoints; it reports false for any
// other path.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, path string, now time.Time) bool {
	var sse bool
	var public bool
	var tags []string
	switch path {
	case "/api/v1/streaming":
		public = r.URL.Query().Get("stream") == "public"
		if t := r.URL.Query().Get("tag"); r.URL.Query().Get("stream") == "hashtag" && t != "" {
			tags = append(tags, t)
		}
	case "/api/v1/streaming/public":
		sse, public = true, true
	case "/api/v1/streaming/hashtag":
		sse = true
		tags = append(tags, r.URL.Query().Get("tag"))
	default:
		return false
	}
	s.enter(r, path, now, false)
	defer s.leave(path)
	cfg := s.streamConfig()
	if cfg.Disabled || (!sse && cfg.NoWebSocket) {
		writeResponse(w, notFound())
		return true
	}
	if cfg.Token != "" && r.Header.Get("Authorization") != "Bearer "+cfg.Token && r.URL.Query().Get("access_token") != cfg.Token {
		writeResponse(w, errorResponse(http.StatusUnauthorized, "Error: Missing access token"))
		return true
	}
	sub := s.subscribe(public, tags...)
	defer s.unsubscribe(sub)
	if sse {
		s.streamSSE(w, r, sub)
	} else {
		s.streamWS(w, r, sub)
	}
	return true
}

func writeResponse(w http.ResponseWriter, resp response) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}

// frames renders the messages of one event for one subscriber, applying
// the Garbage fault; n counts events sent on the connection.
func frames(sub *subscriber, ev streamEvent, cfg StreamConfig, n int, ws bool) []string {
	var out []string
	if cfg.GarbageEvery > 0 && n%cfg.GarbageEvery == 0 {
		if ws {
			out = append(out, `{"stream":["public"],"event":"update","payload":"{\"id\":`)
		} else {
			out = append(out, "event: update\ndata: {\"id\":\n\n")
		}
	}
	for _, stream := range sub.wants(ev) {
		if ws {
			payload, _ := json.Marshal(ev.payload)
			streamJSON, _ := json.Marshal(stream)
			out = append(out, fmt.Sprintf(`{"stream":%s,"event":%q,"payload":%s}`, streamJSON, ev.event, payload))
		} else {
			out = append(out, "event: "+ev.event+"\ndata: "+ev.payload+"\n\n")
		}
	}
	return out
}

func (s *Server) streamSSE(w http.ResponseWriter, r *http.Request, sub *subscriber) {
	fl, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ":)\n")
	if fl != nil {
		fl.Flush()
	}
	cfg := s.streamConfig()
	hb := time.NewTicker(cfg.Heartbeat)
	defer hb.Stop()
	n := 0
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-hb.C:
			if s.streamConfig().Stall {
				continue
			}
			fmt.Fprint(w, ":thump\n")
		case ev, ok := <-sub.ch:
			if !ok {
				return
			}
			cfg := s.streamConfig()
			if cfg.Stall {
				continue
			}
			n++
			for _, f := range frames(sub, ev, cfg, n, false) {
				fmt.Fprint(w, f)
			}
			if cfg.DropEvery > 0 && n%cfg.DropEvery == 0 {
				if fl != nil {
					fl.Flush()
				}
				panic(http.ErrAbortHandler) // drop the connection mid-stream
			}
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

func (s *Server) streamWS(w http.ResponseWriter, r *http.Request, sub *subscriber) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The client subscribes to hashtags on the same connection.
	go func() {
		defer cancel()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ Type, Stream, Tag string }
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			if m.Type == "subscribe" && strings.HasPrefix(m.Stream, "hashtag") && m.Tag != "" {
				sub.mu.Lock()
				sub.tags[strings.ToLower(m.Tag)] = true
				sub.mu.Unlock()
			}
		}
	}()
	cfg := s.streamConfig()
	hb := time.NewTicker(cfg.Heartbeat)
	defer hb.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-hb.C:
			if s.streamConfig().Stall {
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, cfg.Heartbeat)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		case ev, ok := <-sub.ch:
			if !ok {
				return
			}
			cfg := s.streamConfig()
			if cfg.Stall {
				continue
			}
			n++
			for _, f := range frames(sub, ev, cfg, n, true) {
				if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
					return
				}
			}
			if cfg.DropEvery > 0 && n%cfg.DropEvery == 0 {
				return // CloseNow: no close frame, as when a proxy cuts the line
			}
		}
	}
}
