package ingest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// newStaticServer answers every timeline request with body on the first
// request and an empty page afterwards.
func newStaticServer(t *testing.T, body string) string {
	t.Helper()
	served := false
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/timelines/public" || served {
			w.Write([]byte("[]"))
			return
		}
		served = true
		w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}
