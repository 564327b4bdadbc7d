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
	// RateLimit is each API key's allowance; zero means unlimited (the
	// --rate-limit flag defaults to 60/minute).
	RateLimit httpapi.RateLimit
	// SignupOpen lets anyone create a portal account (--signup open).
	SignupOpen bool
	// UsageFlush is how often API key usage is written (zero: 5s).
	UsageFlush time.Duration
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
	rateLimit := fs.String("rate-limit", httpapi.DefaultRateLimit.String(), "requests each API key may make: N/second, N/minute, N/hour or N/DURATION")
	signup := fs.String("signup", "open", "portal sign-up: open (anyone) or closed (accounts made with cvecrowd users create)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if cfg.RateLimit, err = httpapi.ParseRateLimit(*rateLimit); err != nil {
		return fmt.Errorf("serve: --rate-limit: %w", err)
	}
	switch *signup {
	case "open":
		cfg.SignupOpen = true
	case "closed":
	default:
		return fmt.Errorf("serve: --signup %q: want open or closed", *signup)
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
	Usage    *httpapi.Usage

	usageCancel context.CancelFunc

	ln     net.Listener
	server *http.Server
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
	m.Usage = httpapi.NewUsage(m.DB, m.Log)
	limit := m.Config.RateLimit
	if limit.Requests == 0 {
		limit = httpapi.RateLimit{Requests: 1 << 30, Per: time.Hour} // unlimited, still reported
	}
	api := httpapi.New(m.DB, m.Trend, m.Log, httpapi.WithRateLimit(limit), httpapi.WithUsage(m.Usage),
		httpapi.WithAnswerCache(m.Config.CacheTTL))
	site, err := web.New(m.Trend, m.Log)
	if err != nil {
		return err
	}
	portal, err := web.NewPortal(site, m.DB, web.PortalConfig{SignupOpen: m.Config.SignupOpen, Pending: m.Usage.Pending})
	if err != nil {
		return err
	}
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
	mux.Handle("/portal/", portal)
	mux.Handle("/", site)

	if m.ln, err = net.Listen("tcp", m.Config.Listen); err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.Listen, err)
	}
	m.server = &http.Server{
		// API paths go straight to the API, which answers non-canonical
		// paths with a JSON 400 where the mux would redirect.
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/v2/") {
				api.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		}),
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
	flush := m.Config.UsageFlush
	if flush <= 0 {
		flush = 5 * time.Second
	}
	uctx, ucancel := context.WithCancel(context.WithoutCancel(ctx))
	m.usageCancel = ucancel
	m.wg.Go(func() { m.Usage.Run(uctx, flush) })

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
	if m.usageCancel != nil {
		m.usageCancel()
	}
	m.wg.Wait()
	if m.Trend != nil {
		m.Trend.Close() // background ranking refreshes end before the store closes
	}
	if m.Usage != nil && m.DB != nil {
		// The server has drained: count its last requests.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.Usage.Flush(ctx))
		cancel()
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
		m.DB = nil
	}
	return errors.Join(errs...)
}
