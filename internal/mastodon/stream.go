package mastodon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StreamEvent is one event of the streaming API, as a WebSocket message or
// an SSE event carries it.
type StreamEvent struct {
	// Stream names the stream(s) the event came from, e.g. ["hashtag","cve"];
	// empty for SSE, where the connection is the stream.
	Stream []string
	// Event is the event type: "update", "status.update", "delete", ...
	Event string
	// Payload is the decoded payload: a status JSON object for update and
	// status.update, a bare local id for delete.
	Payload string
}

// MaxStreamFrame bounds one streaming message. A status is a few
// kilobytes; anything near this is hostile.
const MaxStreamFrame = 1 << 20

// ParseStreamMessage decodes a WebSocket message of the streaming API:
// {"stream":["public"],"event":"update","payload":"<JSON text>"}. The
// payload is a JSON string holding JSON text, which is why it is decoded
// twice; Payload is the inner text. A message without an event (a reply to
// a subscribe, an error) is an error.
func ParseStreamMessage(b []byte) (StreamEvent, error) {
	if len(b) > MaxStreamFrame {
		return StreamEvent{}, fmt.Errorf("mastodon: stream message of %d bytes is too large", len(b))
	}
	var w struct {
		Stream  json.RawMessage `json:"stream"`
		Event   string          `json:"event"`
		Payload json.RawMessage `json:"payload"`
		Error   string          `json:"error"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return StreamEvent{}, fmt.Errorf("mastodon: stream message: %w", err)
	}
	if w.Error != "" {
		return StreamEvent{}, fmt.Errorf("mastodon: stream error: %s", snippet(w.Error))
	}
	if w.Event == "" {
		return StreamEvent{}, errors.New("mastodon: stream message without an event")
	}
	ev := StreamEvent{Event: w.Event}
	if len(w.Stream) > 0 && !isNull(w.Stream) {
		// Older servers send a single string.
		if err := json.Unmarshal(w.Stream, &ev.Stream); err != nil {
			var one string
			if json.Unmarshal(w.Stream, &one) != nil {
				return StreamEvent{}, fmt.Errorf("mastodon: stream message: bad stream %s", snippet(string(w.Stream)))
			}
			ev.Stream = []string{one}
		}
	}
	switch {
	case len(w.Payload) == 0 || isNull(w.Payload):
	case w.Payload[0] == '"':
		if err := json.Unmarshal(w.Payload, &ev.Payload); err != nil {
			return StreamEvent{}, fmt.Errorf("mastodon: stream payload: %w", err)
		}
	default:
		// Some servers (and Mastodon for a few event types) send the
		// payload as JSON rather than as a string of JSON.
		ev.Payload = string(w.Payload)
	}
	return ev, nil
}

// SSEReader reads Server-Sent Events as the streaming API sends them:
// "event: X" and "data: Y" lines, a blank line ending each event, ":"
// lines as heartbeats.
type SSEReader struct {
	sc *bufio.Scanner
}

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxStreamFrame)
	return &SSEReader{sc: sc}
}

// Next returns the next event that has a type and data. Heartbeats and
// events without data are skipped. At the end of the stream it returns
// io.EOF (or the read error).
func (r *SSEReader) Next() (StreamEvent, error) {
	var ev StreamEvent
	var data strings.Builder
	hasData := false
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if ev.Event != "" && hasData {
				ev.Payload = data.String()
				return ev, nil
			}
			ev, hasData = StreamEvent{}, false
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue // heartbeat or comment
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Event = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		}
	}
	if err := r.sc.Err(); err != nil {
		return StreamEvent{}, fmt.Errorf("mastodon: sse: %w", err)
	}
	return StreamEvent{}, io.EOF
}
