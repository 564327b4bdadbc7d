package enrich

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Default source addresses (SPEC §3).
const (
	DefaultCVEServicesURL = "https://cveawg.mitre.org/api"
	DefaultNVDURL         = "https://services.nvd.nist.gov/rest/json/cves/2.0"
	DefaultEPSSURL        = "https://api.first.org/data/v1/epss"
	DefaultKEVURL         = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
)

// ErrNoRecord means the source answered that it has no record of the CVE
// (CVE Services 404): the ID is reserved, or a typo.
var ErrNoRecord = errors.New("no such record")

// Body caps: a source that sends more is broken or hostile.
const (
	maxRecordBody = 8 << 20
	maxNVDBody    = 16 << 20
	maxEPSSBody   = 4 << 20
	maxKEVBody    = 32 << 20
)

// Config configures the clients. Zero values take the defaults.
type Config struct {
	CVEServicesURL string
	NVDURL         string
	NVDAPIKey      string // sent as the apiKey header; raises NVD's budget from 5 to 50 requests per 30 s
	EPSSURL        string
	KEVURL         string
	HTTPClient     *http.Client
	UserAgent      string
	Timeout        time.Duration // per attempt; default 30s
	Retries        int           // extra attempts on 403 (NVD), 429, 5xx and network errors; default 3
	RetryBase      time.Duration // first backoff; default 2s, doubling, with jitter
	MaxRetryWait   time.Duration // cap on one wait (also on Retry-After); default 2m
	NVDInterval    time.Duration // pause between NVD requests; default from the key (6.5s, or 0.65s)
}

// Client talks to the four sources, each with its own request budget.
type Client struct {
	cfg     Config
	hc      *http.Client
	cveLim  *rate.Limiter
	nvdLim  *rate.Limiter
	epssLim *rate.Limiter
	kevLim  *rate.Limiter

	mu      sync.Mutex
	kevETag string
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	if cfg.CVEServicesURL == "" {
		cfg.CVEServicesURL = DefaultCVEServicesURL
	}
	if cfg.NVDURL == "" {
		cfg.NVDURL = DefaultNVDURL
	}
	if cfg.EPSSURL == "" {
		cfg.EPSSURL = DefaultEPSSURL
	}
	if cfg.KEVURL == "" {
		cfg.KEVURL = DefaultKEVURL
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "cvecrowd (+https://github.com/cvecrowd/cvecrowd)"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 2 * time.Second
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 2 * time.Minute
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	// NVD allows 5 requests in any 30 s window (50 with a key); one request
	// every 6.5 s (0.65 s) stays under it whatever the window's phase.
	nvdEvery := 6500 * time.Millisecond
	if cfg.NVDAPIKey != "" {
		nvdEvery = 650 * time.Millisecond
	}
	if cfg.NVDInterval > 0 {
		nvdEvery = cfg.NVDInterval
	}
	return &Client{
		cfg:     cfg,
		hc:      hc,
		cveLim:  rate.NewLimiter(rate.Limit(5), 5), // no published limit; stay polite
		nvdLim:  rate.NewLimiter(rate.Every(nvdEvery), 1),
		epssLim: rate.NewLimiter(rate.Limit(1), 5),
		kevLim:  rate.NewLimiter(rate.Every(10*time.Second), 5),
	}
}

// NVDInterval reports the pause the NVD budget imposes between requests.
func (c *Client) NVDInterval() time.Duration {
	return time.Duration(float64(time.Second) / float64(c.nvdLim.Limit()))
}

// StatusError is a non-success HTTP answer.
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s answered %d", e.URL, e.Status) }

type request struct {
	lim     *rate.Limiter
	url     string
	header  http.Header
	max     int64
	retry   func(status int) bool
	etag    string // If-None-Match
	nothing bool   // 304 seen
}

// get fetches r.url within the source's budget, retrying transient failures
// with exponential backoff and jitter (honouring Retry-After).
func (c *Client) get(ctx context.Context, r *request) ([]byte, http.Header, error) {
	var last error
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		if attempt > 0 {
			wait := c.cfg.RetryBase << (attempt - 1)
			var se *retryAfterError
			if errors.As(last, &se) && se.after > 0 {
				wait = se.after
			}
			wait = min(wait+time.Duration(rand.Int64N(int64(wait)/4+1)), c.cfg.MaxRetryWait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, nil, ctx.Err()
			case <-t.C:
			}
		}
		if err := r.lim.Wait(ctx); err != nil {
			return nil, nil, err
		}
		body, h, status, err := c.once(ctx, r)
		switch {
		case err == nil && status == http.StatusOK:
			return body, h, nil
		case err == nil && status == http.StatusNotModified && r.etag != "":
			r.nothing = true
			return nil, h, nil
		case err == nil && status == http.StatusNotFound:
			return nil, h, &StatusError{URL: r.url, Status: status}
		case err == nil:
			se := &StatusError{URL: r.url, Status: status}
			if !(status == http.StatusTooManyRequests || status >= 500 || (r.retry != nil && r.retry(status))) {
				return nil, h, se
			}
			last = &retryAfterError{err: se, after: retryAfter(h)}
		default:
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			var ce *capError
			if errors.As(err, &ce) {
				return nil, nil, err // the same oversized answer would come again
			}
			last = err
		}
	}
	return nil, nil, fmt.Errorf("after %d attempts: %w", c.cfg.Retries+1, last)
}

// capError is an answer larger than the source's body cap.
type capError struct {
	url string
	max int64
}

func (e *capError) Error() string { return fmt.Sprintf("%s: body exceeds %d bytes", e.url, e.max) }

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func (c *Client) once(ctx context.Context, r *request) ([]byte, http.Header, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	if r.etag != "" {
		req.Header.Set("If-None-Match", r.etag)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, resp.Header, resp.StatusCode, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.max+1))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read %s: %w", r.url, err)
	}
	if int64(len(body)) > r.max {
		return nil, nil, 0, &capError{url: r.url, max: r.max}
	}
	return body, resp.Header, resp.StatusCode, nil
}

// Record fetches the CVE record of id from CVE Services; ErrNoRecord when
// it answers 404.
func (c *Client) Record(ctx context.Context, id string) (store.CVERecord, error) {
	u := strings.TrimRight(c.cfg.CVEServicesURL, "/") + "/cve/" + url.PathEscape(id)
	body, _, err := c.get(ctx, &request{lim: c.cveLim, url: u, max: maxRecordBody})
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return store.CVERecord{}, fmt.Errorf("enrich: cve services %s: %w", id, ErrNoRecord)
	}
	if err != nil {
		return store.CVERecord{}, fmt.Errorf("enrich: cve services %s: %w", id, err)
	}
	rec, err := ParseRecord(body)
	if err != nil {
		return store.CVERecord{}, err
	}
	if rec.ID != id {
		return store.CVERecord{}, fmt.Errorf("enrich: cve services %s: answered record %s", id, rec.ID)
	}
	return rec, nil
}

// NVD fetches id from the NVD CVE API 2.0; found is false when NVD has no
// entry. NVD answers throttling with 403, which is retried like 429.
func (c *Client) NVD(ctx context.Context, id string) (rec store.NVDRecord, found bool, err error) {
	u := c.cfg.NVDURL + "?cveId=" + url.QueryEscape(id)
	h := http.Header{}
	if c.cfg.NVDAPIKey != "" {
		h.Set("apiKey", c.cfg.NVDAPIKey)
	}
	body, _, err := c.get(ctx, &request{lim: c.nvdLim, url: u, header: h, max: maxNVDBody,
		retry: func(s int) bool { return s == http.StatusForbidden }})
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return store.NVDRecord{}, false, nil
	}
	if err != nil {
		return store.NVDRecord{}, false, fmt.Errorf("enrich: nvd %s: %w", id, err)
	}
	p, err := ParseNVD(body)
	if err != nil {
		return store.NVDRecord{}, false, err
	}
	for _, r := range p.Records {
		if r.ID == id {
			return r, true, nil
		}
	}
	return store.NVDRecord{}, false, nil
}

// EPSSBatch is how many CVEs one EPSS request asks about (the API's page
// size is 100, and the URL stays short).
const EPSSBatch = 100

// EPSS fetches the scores of ids (at most EPSSBatch).
func (c *Client) EPSS(ctx context.Context, ids []string) ([]store.EPSSScore, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > EPSSBatch {
		return nil, fmt.Errorf("enrich: epss: %d ids in one request (max %d)", len(ids), EPSSBatch)
	}
	u := c.cfg.EPSSURL + "?cve=" + url.QueryEscape(strings.Join(ids, ","))
	body, _, err := c.get(ctx, &request{lim: c.epssLim, url: u, max: maxEPSSBody})
	if err != nil {
		return nil, fmt.Errorf("enrich: epss: %w", err)
	}
	scores, _, err := ParseEPSS(body)
	return scores, err
}

// KEV fetches the KEV catalogue; unchanged is true (and the catalogue
// empty) when the server says it has not changed since the last fetch.
func (c *Client) KEV(ctx context.Context) (cat KEVCatalog, unchanged bool, err error) {
	c.mu.Lock()
	etag := c.kevETag
	c.mu.Unlock()
	r := &request{lim: c.kevLim, url: c.cfg.KEVURL, max: maxKEVBody, etag: etag}
	body, h, err := c.get(ctx, r)
	if err != nil {
		return KEVCatalog{}, false, fmt.Errorf("enrich: kev: %w", err)
	}
	if r.nothing {
		return KEVCatalog{}, true, nil
	}
	if cat, err = ParseKEV(body); err != nil {
		return KEVCatalog{}, false, err
	}
	c.mu.Lock()
	c.kevETag = h.Get("ETag")
	c.mu.Unlock()
	return cat, false, nil
}
