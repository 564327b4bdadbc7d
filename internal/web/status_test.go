package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/ingest"
)

func TestStatusPage(t *testing.T) {
	site, err := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		site.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != 200 || !strings.Contains(body, "No instance is being ingested") {
		t.Fatalf("without ingestion: %d %s", code, body)
	}
	now := time.Now()
	lag := 42.0
	site.SetStatus(func(ctx context.Context) (ingest.Health, error) {
		return ingest.Health{
			Feeds: []ingest.FeedHealth{
				{Instance: "a.example", Feed: "public", State: ingest.StateOK, Healthy: true, LastSuccess: &now, LastPostAt: &now, LagSeconds: &lag, PostsIngested: 12},
				{Instance: "b.example", Feed: "stream", State: ingest.StateDisconnected, LastError: `<script>alert(1)</script>`},
			},
			Skipped: map[string]int64{ingest.SkipBot: 3},
		}, nil
	})
	code, body := get()
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{`data-instance="a.example" data-feed="public" data-state="ok"`, `data-state="disconnected"`,
		`id="overall">degraded<`, "&lt;script&gt;", "42s"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("an error message was rendered as markup")
	}
}
