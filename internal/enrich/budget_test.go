package enrich

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// handlerTransport serves requests in-process, so synctest's fake clock can
// run the limiters and backoff timers without network goroutines.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestNVDBudgetWindow(t *testing.T) {
	for _, tt := range []struct {
		key    string
		perWin int // NVD's published budget per 30 s
	}{{"", 5}, {"k", 50}} {
		t.Run("key="+tt.key, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				empty := readTestdata(t, "nvd/vuln-list-update-emptyResp.json")
				var mu sync.Mutex
				var at []time.Time
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					at = append(at, time.Now())
					mu.Unlock()
					w.Write(empty)
				})
				c := NewClient(Config{NVDURL: "http://nvd.test/", NVDAPIKey: tt.key, HTTPClient: &http.Client{Transport: handlerTransport{h}}})
				n := 2*tt.perWin + 1
				for range n {
					if _, _, err := c.NVD(context.Background(), "CVE-2024-0001"); err != nil {
						t.Fatal(err)
					}
				}
				// No 30 s window (closed at both ends) holds more than the budget.
				for i := 0; i+tt.perWin < len(at); i++ {
					if d := at[i+tt.perWin].Sub(at[i]); d <= 30*time.Second {
						t.Fatalf("%d requests within %s", tt.perWin+1, d)
					}
				}
			})
		})
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			at = append(at, time.Now())
			n := len(at)
			mu.Unlock()
			switch n {
			case 1:
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
			case 2:
				w.WriteHeader(http.StatusBadGateway) // no Retry-After: exponential backoff
			default:
				// A definitive answer. (Not a record: inside the bubble the
				// clock says 2000, and IDs from later years do not parse.)
				w.WriteHeader(http.StatusNotFound)
			}
		})
		c := NewClient(Config{CVEServicesURL: "http://cve.test/api", HTTPClient: &http.Client{Transport: handlerTransport{h}}})
		start := time.Now()
		if _, err := c.Record(context.Background(), "CVE-1999-0001"); !errors.Is(err, ErrNoRecord) {
			t.Fatalf("Record error = %v; want ErrNoRecord", err)
		}
		if len(at) != 3 {
			t.Fatalf("%d attempts; want 3", len(at))
		}
		if d := at[1].Sub(at[0]); d < 7*time.Second || d > 9*time.Second {
			t.Errorf("waited %s after Retry-After: 7", d)
		}
		if d := at[2].Sub(at[1]); d < 4*time.Second || d > 5*time.Second {
			t.Errorf("second backoff %s; want 4s plus jitter (2s doubled)", d)
		}
		if total := time.Since(start); total > 20*time.Second {
			t.Errorf("took %s", total)
		}
	})
}
