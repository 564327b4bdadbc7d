package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cvecrowd/cvecrowd/internal/ingest"
)

// healthCollector turns the ingestion health report into Prometheus
// metrics at scrape time, so the numbers are those of /api/v1/status.
type healthCollector struct {
	health func(ctx context.Context) (ingest.Health, error)

	up, lastSuccess, lastPost, lag, ingested, errors, events, reconnects *prometheus.Desc
	skipped, deleted, tombstoned, refreshed                              *prometheus.Desc
}

func newHealthCollector(health func(ctx context.Context) (ingest.Health, error)) *healthCollector {
	l := []string{"instance", "feed"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cvecrowd_ingest_"+name, help, labels, nil)
	}
	return &healthCollector{
		health:      health,
		up:          d("feed_up", "1 when the feed is ok or streaming, else 0.", l...),
		lastSuccess: d("feed_last_success_timestamp_seconds", "Time of the feed's last successful poll or event.", l...),
		lastPost:    d("feed_last_post_timestamp_seconds", "Creation time of the newest post the feed delivered.", l...),
		lag:         d("feed_lag_seconds", "Now minus the newest post's creation time.", l...),
		ingested:    d("feed_posts_ingested_total", "Posts first stored through the feed.", l...),
		errors:      d("feed_errors_total", "Failed polls or stream sessions since start.", l...),
		events:      d("stream_events_total", "Stream events received since start.", l...),
		reconnects:  d("stream_reconnects_total", "Stream reconnects since start.", l...),
		skipped:     d("skipped_total", "Statuses not stored, by eligibility rule.", "reason"),
		deleted:     d("deleted_total", "Stored posts removed by a delete event or a 404/410 on refresh."),
		tombstoned:  d("tombstoned_total", "Re-deliveries of deleted posts refused."),
		refreshed:   d("refreshes_total", "Count refreshes by outcome.", "outcome"),
	}
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.lastSuccess, c.lastPost, c.lag, c.ingested, c.errors, c.events, c.reconnects, c.skipped, c.deleted, c.tombstoned, c.refreshed} {
		ch <- d
	}
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := c.health(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.up, err)
		return
	}
	ts := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return float64(t.UnixMilli()) / 1000
	}
	for _, f := range h.Feeds {
		up := 0.0
		if f.Healthy {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, f.Instance, f.Feed)
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, ts(f.LastSuccess), f.Instance, f.Feed)
		ch <- prometheus.MustNewConstMetric(c.lastPost, prometheus.GaugeValue, ts(f.LastPostAt), f.Instance, f.Feed)
		if f.LagSeconds != nil {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, *f.LagSeconds, f.Instance, f.Feed)
		}
		ch <- prometheus.MustNewConstMetric(c.ingested, prometheus.CounterValue, float64(f.PostsIngested), f.Instance, f.Feed)
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(f.Errors), f.Instance, f.Feed)
		if f.Feed == ingest.FeedStream {
			ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(f.Events), f.Instance, f.Feed)
			ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(f.Reconnects), f.Instance, f.Feed)
		}
	}
	for reason, n := range h.Skipped {
		ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(c.deleted, prometheus.CounterValue, float64(h.Deleted))
	ch <- prometheus.MustNewConstMetric(c.tombstoned, prometheus.CounterValue, float64(h.Tombstoned))
	for outcome, n := range h.Refreshed {
		ch <- prometheus.MustNewConstMetric(c.refreshed, prometheus.CounterValue, float64(n), outcome)
	}
}

// metricsHandler serves /metrics from a private registry (no global
// state): ingestion health plus the Go runtime and process collectors.
func metricsHandler(health func(ctx context.Context) (ingest.Health, error)) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newHealthCollector(health), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
