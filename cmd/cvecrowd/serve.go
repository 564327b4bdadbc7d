package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/enrich"
	"github.com/cvecrowd/cvecrowd/internal/httpapi"
	"github.com/cvecrowd/cvecrowd/internal/ingest"
	"github.com/cvecrowd/cvecrowd/internal/lease"
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
	// Role picks the work of this process (RoleAll, RoleWeb, RoleIngest);
	// with PostgreSQL, ingest work is split between processes by leases
	// that expire after LeaseTTL, held as NodeID.
	Role     string
	LeaseTTL time.Duration
	NodeID   string
	NoIngest bool
	LogLevel slog.Level
	// Enrich runs the background worker that fetches official CVE data
	// from Sources (SPEC §3) every EnrichInterval.
	Enrich         bool
	EnrichInterval time.Duration
	CVESources     enrich.Config

	Sources        []ingest.Source // instances with tokens and feeds (--config, --token, --feeds)
	StreamIdle     time.Duration   // a stream silent this long is reconnected
	RefreshOrigins bool            // refresh counts from the posts' own servers
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
	fs.StringVar(&cfg.Role, "role", RoleAll, "work of this process: all, web (page and API) or ingest (polling, streaming, refresh, enrichment)")
	fs.DurationVar(&cfg.LeaseTTL, "lease-ttl", 30*time.Second, "with PostgreSQL: a dead process's ingest work moves to another within this time")
	fs.StringVar(&cfg.NodeID, "node-id", "", "with PostgreSQL: this process's name in leases (default host:pid:random)")
	fs.BoolVar(&cfg.Enrich, "enrich", true, "fetch official CVE data (CVE Services, NVD, EPSS, KEV) in the background")
	fs.DurationVar(&cfg.EnrichInterval, "enrich-interval", time.Minute, "pause between enrichment rounds")
	fs.StringVar(&cfg.CVESources.CVEServicesURL, "cve-services-url", enrich.DefaultCVEServicesURL, "CVE Services API base (records at /cve/<ID>)")
	fs.StringVar(&cfg.CVESources.NVDURL, "nvd-url", enrich.DefaultNVDURL, "NVD CVE API 2.0 endpoint")
	fs.StringVar(&cfg.CVESources.NVDAPIKey, "nvd-api-key", "", "NVD API key (raises the budget from 5 to 50 requests per 30 s)")
	fs.StringVar(&cfg.CVESources.EPSSURL, "epss-url", enrich.DefaultEPSSURL, "FIRST EPSS API endpoint")
	fs.StringVar(&cfg.CVESources.KEVURL, "kev-url", enrich.DefaultKEVURL, "CISA KEV catalogue JSON URL")
	configFile := fs.String("config", "", "JSON file listing instances with their own token and feeds (see README)")
	token := fs.String("token", "", "user access token for the --instance instances (enables search and streaming)")
	feeds := &listFlag{}
	fs.Var(feeds, "feeds", "feeds of the --instance instances: public,tag:cve,hashtags,search,stream (default: all that the token allows)")
	fs.DurationVar(&cfg.StreamIdle, "stream-idle", 90*time.Second, "reconnect a stream that sends nothing, not even a heartbeat, for this long")
	fs.BoolVar(&cfg.RefreshOrigins, "refresh-origins", true, "refresh post counts from the post's own server when it speaks the Mastodon API")
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
	if *configFile != "" {
		srcs, err := loadConfigFile(*configFile)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		cfg.Sources = srcs
		if !instances.set {
			cfg.Instances = nil // the file replaces the default instance
		}
	}
	if *token != "" || len(feeds.values) > 0 {
		for _, u := range cfg.Instances {
			cfg.Sources = append(cfg.Sources, ingest.Source{URL: u, Token: *token, Feeds: feeds.values})
		}
		cfg.Instances = nil
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("serve: --log-level: %w", err)
	}
	switch cfg.Role {
	case RoleAll, RoleWeb, RoleIngest:
	default:
		return fmt.Errorf("serve: --role %q: want all, web or ingest", cfg.Role)
	}
	if cfg.LeaseTTL < time.Second {
		return fmt.Errorf("serve: --lease-ttl %s is too short (minimum 1s)", cfg.LeaseTTL)
	}
	if strings.TrimSpace(cfg.Listen) == "" {
		return errors.New("serve: --listen must not be empty (e.g. 127.0.0.1:8080, or :8080 for every interface)")
	}
	if cfg.CacheTTL < 0 {
		return fmt.Errorf("serve: --cache-ttl %s must not be negative", cfg.CacheTTL)
	}
	if cfg.PollInterval < 100*time.Millisecond {
		return fmt.Errorf("serve: --poll-interval %s is too short (minimum 100ms)", cfg.PollInterval)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		return err
	}
	var hosts []string
	for _, src := range cfg.Sources {
		hosts = append(hosts, src.URL) // never the token
	}
	if cfg.NoIngest || len(cfg.Instances)+len(hosts) == 0 {
		log.Info("serving", "url", m.URL(), "db", redactDSN(cfg.DB), "ingest", "off")
	} else {
		log.Info("serving", "url", m.URL(), "db", redactDSN(cfg.DB), "instances", strings.Join(append(cfg.Instances, hosts...), ","))
	}
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

	stopEnrich context.CancelFunc
	site       *web.Site
	ln         net.Listener
	server     *http.Server
	cancel     context.CancelFunc
	wg         sync.WaitGroup
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
	site, err := web.New(m.Trend, m.Log, web.WithActivity(m.DB), web.WithCacheTTL(m.Config.CacheTTL))
	if err != nil {
		return err
	}
	m.site = site
	api.SetStatus(m.Health)
	site.SetStatus(m.Health)
	portal, err := web.NewPortal(site, m.DB, web.PortalConfig{SignupOpen: m.Config.SignupOpen, Pending: m.Usage.Pending})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	// /api and /v2 never reach this mux: apiPaths hands them to the API first.
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
	mux.Handle("GET /metrics", metricsHandler(m.Health))
	mux.Handle("/portal/", portal)
	mux.Handle("/", site)

	// The ingester exists before the server answers, so that status
	// handlers never see it appear.
	// Several processes share a PostgreSQL database: ingest work goes by
	// leases. SQLite is one process's database; nothing to split.
	var keeper *lease.Keeper
	if m.DB.Engine() == store.Postgres {
		holder := m.Config.NodeID
		if holder == "" {
			holder = lease.NewHolder()
		}
		keeper = &lease.Keeper{Store: m.DB, Holder: holder, TTL: m.Config.LeaseTTL, Log: m.Log.With("component", "lease")}
	}
	ingests := m.Config.Role != RoleWeb
	if ingests && !m.Config.NoIngest && len(m.Config.Instances)+len(m.Config.Sources) > 0 {
		ua := ""
		if keeper != nil {
			ua = "cvecrowd (+https://github.com/cvecrowd/cvecrowd; node " + keeper.Holder + ")"
		}
		m.Ingester, err = ingest.New(ingest.Config{
			Leases:         keeper,
			UserAgent:      ua,
			Instances:      m.Config.Instances,
			Sources:        m.Config.Sources,
			PollInterval:   m.Config.PollInterval,
			StreamIdle:     m.Config.StreamIdle,
			RefreshOrigins: m.Config.RefreshOrigins,
		}, m.DB, m.Log.With("component", "ingest"))
		if err != nil {
			return err
		}
	}

	if m.ln, err = net.Listen("tcp", m.Config.Listen); err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.Listen, err)
	}
	var handler http.Handler = apiPaths(mux, api)
	if m.Config.Role == RoleIngest {
		handler = opsOnly(mux)
	}
	m.server = &http.Server{
		Handler:           handler,
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

	if m.Ingester != nil {
		ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.cancel = cancel
		m.wg.Go(func() { m.Ingester.Run(ictx) })
	}
	if m.Config.Enrich && ingests {
		// Offline, the worker logs that its sources are unreachable and
		// backs off; CVEs stay listed as unverified.
		w := enrich.NewWorker(enrich.NewClient(m.Config.CVESources), m.DB,
			enrich.Policy{Interval: m.Config.EnrichInterval}, m.Log.With("component", "enrich"))
		ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopEnrich = cancel
		if keeper != nil {
			m.wg.Go(func() { keeper.Run(ectx, "enrich", w.Run) })
		} else {
			m.wg.Go(func() { w.Run(ectx) })
		}
	}
	return nil
}

// Health reports ingestion health for /api/v1/status, /status and
// /metrics; with ingestion off it reports no feeds.
func (m *Main) Health(ctx context.Context) (ingest.Health, error) {
	if m.Ingester == nil {
		// Another process ingests (or nothing does): report what the
		// database says, so a dead ingester shows as stale, not healthy.
		return ingest.StoredHealth(ctx, m.DB, time.Now(), 10*time.Minute+3*m.Config.PollInterval)
	}
	return m.Ingester.Health(ctx, m.DB)
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
	if m.stopEnrich != nil {
		m.stopEnrich()
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
	if m.site != nil {
		m.site.Close() // background page refreshes still read the database
	}
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

// Process roles (--role).
const (
	RoleAll    = "all"
	RoleWeb    = "web"
	RoleIngest = "ingest"
)

// opsOnly serves an ingest-only process: health, readiness and metrics.
func opsOnly(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			mux.ServeHTTP(w, r)
		default:
			http.Error(w, "this process runs with --role ingest: only /healthz, /readyz and /metrics", http.StatusNotFound)
		}
	})
}

// apiPaths sends every /api and /v2 request to the API as it is: the mux
// would answer unclean paths (//api/v1/cves, /api/v1/../x) with an HTML
// redirect, where API clients expect a JSON error.
func apiPaths(mux *http.ServeMux, api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimLeft(r.URL.Path, "/")
		if p == "api" || p == "v2" || strings.HasPrefix(p, "api/") || strings.HasPrefix(p, "v2/") {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// redactDSN hides a password in a database URL before it is logged.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
