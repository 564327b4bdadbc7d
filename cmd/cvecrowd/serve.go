package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/httpapi"
	"github.com/cvecrowd/cvecrowd/internal/ingest"
	"github.com/cvecrowd/cvecrowd/internal/store"
	"github.com/cvecrowd/cvecrowd/internal/trend"
	"github.com/cvecrowd/cvecrowd/internal/web"
)

const (
	defaultDB       = "cvecrowd.db"
	defaultInstance = "https://infosec.exchange"
)

// Config is everything serve needs, parsed once from flags and environment.
type Config struct {
	DB           string
	Listen       string
	Instances    []string
	PollInterval time.Duration
	CacheTTL     time.Duration
	NoIngest     bool
	LogLevel     slog.Level
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var cfg Config
	instances := &listFlag{values: []string{defaultInstance}}
	fs.StringVar(&cfg.DB, "db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	fs.Var(instances, "instance", "Mastodon-compatible instance to poll (repeatable, or comma-separated)")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", time.Minute, "pause between polls of an instance's feeds")
	fs.DurationVar(&cfg.CacheTTL, "cache-ttl", 2*time.Second, "how long a computed ranking is reused")
	fs.BoolVar(&cfg.NoIngest, "no-ingest", false, "serve only; do not poll any instance")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Instances = instances.values
	if err := cfg.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	if cfg.PollInterval < 100*time.Millisecond {
		return fmt.Errorf("serve: --poll-interval %s is too short (minimum 100ms)", cfg.PollInterval)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		return err
	}
	log.Info("serving", "url", m.URL(), "db", cfg.DB, "instances", strings.Join(cfg.Instances, ","))
	<-ctx.Done()
	log.Info("shutting down")
	return m.Close()
}

// Main is the running program: database, HTTP server and ingestion. Tests
// boot it on 127.0.0.1:0.
type Main struct {
	Config Config
	Log    *slog.Logger

	DB       *store.DB
	Trend    *trend.Service
	Ingester *ingest.Ingester

	ln     net.Listener
	server *http.Server
	site   *web.Site
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewMain returns a Main that does nothing until Run.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log}
}

// Run opens the database, starts listening and starts ingestion. It returns
// once the server accepts connections.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.DB, err = store.Open(ctx, m.Config.DB); err != nil {
		return err
	}
	m.Trend = trend.New(m.DB, m.Config.CacheTTL)
	api := httpapi.New(m.DB, m.Trend, m.Log)
	site, err := web.New(m.Trend, m.Log, web.WithActivity(m.DB), web.WithCacheTTL(m.Config.CacheTTL))
	if err != nil {
		return err
	}
	m.site = site
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/v2/", api)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := m.DB.Ping(ctx); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/", site)

	if m.ln, err = net.Listen("tcp", m.Config.Listen); err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.Listen, err)
	}
	m.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	m.wg.Go(func() {
		if err := m.server.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("http server stopped", "err", err)
		}
	})

	if !m.Config.NoIngest && len(m.Config.Instances) > 0 {
		m.Ingester, err = ingest.New(ingest.Config{
			Instances:    m.Config.Instances,
			PollInterval: m.Config.PollInterval,
		}, m.DB, m.Log.With("component", "ingest"))
		if err != nil {
			return err
		}
		ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.cancel = cancel
		m.wg.Go(func() { m.Ingester.Run(ictx) })
	}
	return nil
}

// URL is the base URL the server listens on.
func (m *Main) URL() string {
	if m.ln == nil {
		return ""
	}
	return "http://" + m.ln.Addr().String()
}

// Close stops ingestion (a page being stored is finished or rolled back),
// drains in-flight requests and closes the database.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.server.Shutdown(ctx))
		cancel()
	}
	m.wg.Wait()
	if m.site != nil {
		m.site.Close() // background page refreshes still read the database
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
		m.DB = nil
	}
	return errors.Join(errs...)
}
