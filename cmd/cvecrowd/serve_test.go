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
