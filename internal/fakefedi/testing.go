package fakefedi

import (
	"net/http/httptest"
	"testing"
)

// NewTestServer starts a Server behind an httptest.Server for a test and
// registers cleanup in the right order: Server.Close first, so requests held
// by Hang faults are released, then the httptest server, which waits for all
// requests to finish.
func NewTestServer(tb testing.TB, posts []Post, opts Options) (*Server, *httptest.Server) {
	tb.Helper()
	s, err := New(posts, opts)
	if err != nil {
		tb.Fatalf("fakefedi.New: %v", err)
	}
	ts := httptest.NewServer(s)
	tb.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return s, ts
}
