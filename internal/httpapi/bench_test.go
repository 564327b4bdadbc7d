package httpapi

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// BenchmarkHandler measures one API request in process (no network): key
// check against the database, rate limit, usage count, cached answer. The
// whole-process figures are bench/api's.
func BenchmarkHandler(b *testing.B) {
	f := setup(b)
	tr := trend.New(f.db, time.Minute)
	a := New(f.db, tr, slog.New(slog.NewTextHandler(io.Discard, nil)), WithAnswerCache(time.Minute),
		WithRateLimit(RateLimit{Requests: 1 << 30, Per: time.Hour}), WithUsage(NewUsage(nil, nil)))
	for _, path := range []string{"/api/v1/cves?days=7", "/api/v1/cves/CVE-2024-3094/posts?days=7"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+f.key)
			start := time.Now()
			n := 0
			for b.Loop() {
				w := httptest.NewRecorder()
				a.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "req/s")
		})
	}
}
