package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/ingest"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// TestAPIPathsAnswerJSON: unclean or bare API paths get JSON errors from
// the API, never the mux's HTML redirects.
func TestAPIPathsAnswerJSON(t *testing.T) {
	m := NewMain(Config{DB: filepath.Join(t.TempDir(), "p.db"), Listen: "127.0.0.1:0", NoIngest: true},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, m.Run(context.Background()))
	defer m.Close()
	for _, path := range []string{"/api", "/v2", "//api/v1/cves", "/api/v1//cves", "/api/v1/cves/../../etc/passwd", "/v2/"} {
		t.Run(path, func(t *testing.T) {
			// A raw request, so the path goes out exactly as written.
			conn, err := net.Dial("tcp", strings.TrimPrefix(m.URL(), "http://"))
			must(t, err)
			defer conn.Close()
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			must(t, err)
			defer resp.Body.Close()
			var body struct{ Error, Detail string }
			if (resp.StatusCode != 401 && resp.StatusCode != 400) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
				json.NewDecoder(resp.Body).Decode(&body) != nil || body.Error == "" {
				t.Fatalf("GET %s = %d %s, want a 400 or 401 JSON error", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--listen", ""},
		{"serve", "--cache-ttl", "-1s"},
		{"serve", "--poll-interval", "1ms"},
		{"serve", "extra"},
		{"serve", "--instance", "http://user:pw@127.0.0.1:1", "--db", filepath.Join(t.TempDir(), "x.db"), "--listen", "127.0.0.1:0"},
		{"keys", "create", "--db", filepath.Join(t.TempDir(), "k.db")},
		{"keys", "create", "--db", "mysql://x", "--name", "a"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestAdminCommandsNeedAnExistingDatabase: a typo in --db must not create
// an empty database and report success.
func TestAdminCommandsNeedAnExistingDatabase(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo.db")
	for _, args := range [][]string{
		{"keys", "list", "--db", missing},
		{"keys", "revoke", "--db", missing, "--id", "1"},
		{"migrate-db", "--from", "sqlite:" + missing, "--to", filepath.Join(t.TempDir(), "to.db")},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "typo.db") {
			t.Errorf("%v: err = %v, want one naming the missing database", args, err)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("a command created the mistyped database")
	}
}

// TestWebRoleReportsStoredHealth: a --role web process does not ingest, so
// its status comes from the database: a failing feed shows as unhealthy.
func TestWebRoleReportsStoredHealth(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "web.db")
	st, err := store.Open(ctx, dbPath)
	must(t, err)
	_, err = st.SaveBatch(ctx, store.Batch{Instance: "a.example", Feed: "public"})
	must(t, err)
	_, err = st.SaveBatch(ctx, store.Batch{Instance: "b.example", Feed: "public"})
	must(t, err)
	time.Sleep(5 * time.Millisecond) // the failure comes after the success
	must(t, st.FeedError(ctx, "b.example", "public", "HTTP 503"))
	st.Close()

	m := NewMain(Config{DB: dbPath, Listen: "127.0.0.1:0", Role: RoleWeb, PollInterval: time.Minute},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, m.Run(ctx))
	defer m.Close()
	h, err := m.Health(ctx)
	must(t, err)
	got := map[string]bool{}
	for _, f := range h.Feeds {
		got[f.Instance] = f.Healthy
		if f.State != ingest.StateElsewhere {
			t.Errorf("%s state = %q", f.Instance, f.State)
		}
	}
	if len(got) != 2 || !got["a.example"] || got["b.example"] {
		t.Fatalf("stored health = %+v, want a healthy and b failing", h.Feeds)
	}
}
