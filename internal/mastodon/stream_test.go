package mastodon

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStreamMessageRecorded(t *testing.T) {
	f, err := os.Open("../../testdata/mastodon/docs/websocket-events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var events []StreamEvent
	var rejected int
	for sc.Scan() {
		ev, err := ParseStreamMessage(sc.Bytes())
		if err != nil {
			rejected++ // the client's own subscribe/unsubscribe messages
			continue
		}
		events = append(events, ev)
	}
	if rejected != 2 || len(events) != 3 {
		t.Fatalf("parsed %d events, rejected %d; want 3 and 2", len(events), rejected)
	}
	up := events[0]
	if up.Event != "update" || len(up.Stream) != 1 || up.Stream[0] != "public" {
		t.Fatalf("first event = %+v", up)
	}
	st, err := ParseStatus([]byte(up.Payload))
	if err != nil {
		t.Fatalf("update payload is not a status: %v", err)
	}
	if st.ID != "108913983692647032" || !strings.HasPrefix(st.URI, "https://fosstodon.org/") {
		t.Errorf("status = %s %s", st.ID, st.URI)
	}
	if d := events[1]; d.Event != "delete" || d.Payload != "106692867363994015" {
		t.Errorf("delete event = %+v", d)
	}
}

func TestParseStreamMessageBad(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not json", `{"event":"update",`},
		{"array", `[1,2]`},
		{"no event", `{"stream":["public"],"payload":"{}"}`},
		{"error reply", `{"error":"Missing access token","status":401}`},
		{"bad payload string", `{"event":"update","payload":"\u00"}`},
		{"bad stream", `{"event":"update","stream":{"a":1},"payload":"1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ev, err := ParseStreamMessage([]byte(tt.in)); err == nil {
				t.Fatalf("accepted %q as %+v", tt.in, ev)
			}
		})
	}
	if _, err := ParseStreamMessage([]byte(`"` + strings.Repeat("a", MaxStreamFrame) + `"`)); err == nil {
		t.Error("accepted an oversized message")
	}
}

func TestSSEReaderRecorded(t *testing.T) {
	tests := []struct {
		file   string
		events []string
	}{
		{"streaming-public-federated.sse", []string{"update", "delete", "status.update"}},
		{"streaming-hashtag.sse", []string{"update", "delete", "status.update"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("../../testdata/mastodon/docs", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := NewSSEReader(f)
			var got []string
			for {
				ev, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Event)
				switch ev.Event {
				case "update", "status.update":
					if _, err := ParseStatus([]byte(ev.Payload)); err != nil {
						t.Errorf("%s payload: %v", ev.Event, err)
					}
				case "delete":
					if ev.Payload == "" || strings.ContainsAny(ev.Payload, "{\" ") {
						t.Errorf("delete payload %q", ev.Payload)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.events, ",") {
				t.Errorf("events %v, want %v", got, tt.events)
			}
		})
	}
}

func TestSSEReaderHeartbeatsAndMultiline(t *testing.T) {
	in := ":)\n\n:thump\nevent: update\ndata: {\"a\":\ndata: 1}\n\nevent: delete\n\ndata: orphan\n\nevent: delete\ndata: 42\n\n"
	r := NewSSEReader(strings.NewReader(in))
	ev, err := r.Next()
	if err != nil || ev.Event != "update" || ev.Payload != "{\"a\":\n1}" {
		t.Fatalf("first = %+v, %v", ev, err)
	}
	ev, err = r.Next()
	if err != nil || ev.Event != "delete" || ev.Payload != "42" {
		t.Fatalf("second = %+v, %v", ev, err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v", err)
	}
}

func FuzzParseStreamMessage(f *testing.F) {
	b, err := os.ReadFile("../../testdata/mastodon/docs/websocket-events.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f.Add([]byte(line))
	}
	f.Add([]byte(`{"event":"delete","payload":123}`))
	f.Add([]byte(`{"stream":"public","event":"update","payload":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		ev, err := ParseStreamMessage(in)
		if err != nil {
			return
		}
		if ev.Event == "" {
			t.Fatal("accepted a message without an event")
		}
		// Whatever the payload, decoding it must not panic.
		ParseStatus([]byte(ev.Payload))
	})
}

func FuzzSSEReader(f *testing.F) {
	for _, name := range []string{"streaming-public-federated.sse", "streaming-user.sse"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/mastodon/docs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(":\n\nevent:\ndata:\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewSSEReader(strings.NewReader(string(in)))
		for range 10000 {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if ev.Event == "" {
				t.Fatal("event without a type")
			}
		}
		t.Fatal("reader does not terminate")
	})
}
