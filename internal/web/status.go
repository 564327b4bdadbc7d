package web

import (
	"context"
	"net/http"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/ingest"
)

// StatusFunc reports ingestion health for the status page.
type StatusFunc func(ctx context.Context) (ingest.Health, error)

// SetStatus sets where the /status page reads ingestion health from.
func (s *Site) SetStatus(f StatusFunc) { s.statusFn = f }

type statusData struct {
	Title   string
	Healthy bool
	Health  ingest.Health
	Now     time.Time
	Reasons []string
}

// status renders the health of every (instance, feed). Tokens never reach
// it: the report holds host names and redacted errors only.
func (s *Site) status(w http.ResponseWriter, r *http.Request) {
	var h ingest.Health
	if s.statusFn != nil {
		var err error
		if h, err = s.statusFn(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d := statusData{Title: "Status", Healthy: true, Health: h, Now: s.now(), Reasons: ingest.SkipReasons}
	for _, f := range h.Feeds {
		d.Healthy = d.Healthy && f.Healthy
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "status.html", d)
}

func lag(sec *float64) string {
	if sec == nil {
		return "—"
	}
	return (time.Duration(*sec) * time.Second).Round(time.Second).String()
}
