package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/ingest"
)

// StatusFunc reports ingestion health.
type StatusFunc func(ctx context.Context) (ingest.Health, error)

// SetStatus sets where GET /api/v1/status reads ingestion health from.
// Until it is called the endpoint reports no feeds.
func (a *API) SetStatus(f StatusFunc) { a.statusFn = f }

// statusResponse is the body of GET /api/v1/status.
type statusResponse struct {
	Healthy     bool      `json:"healthy"` // every feed is ok or streaming
	GeneratedAt time.Time `json:"generated_at"`
	ingest.Health
}

func (a *API) status(w http.ResponseWriter, r *http.Request) error {
	var h ingest.Health
	if a.statusFn != nil {
		var err error
		if h, err = a.statusFn(r.Context()); err != nil {
			return err
		}
	}
	if h.Feeds == nil {
		h.Feeds = []ingest.FeedHealth{}
	}
	resp := statusResponse{Healthy: true, GeneratedAt: time.Now().UTC(), Health: h}
	for _, f := range h.Feeds {
		resp.Healthy = resp.Healthy && f.Healthy
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
	return nil
}
