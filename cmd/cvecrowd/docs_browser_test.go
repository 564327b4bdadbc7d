package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestDocsInBrowser opens /api/docs in headless Chromium under the page's
// strict CSP, authorizes with a key and runs "Try it out" on
// GET /api/v1/cves: what the README promises a newcomer. It needs Chromium,
// so it runs when CVECROWD_TEST_BROWSER is set (.ci/run sets it).
func TestDocsInBrowser(t *testing.T) {
	if os.Getenv("CVECROWD_TEST_BROWSER") == "" {
		t.Skip("set CVECROWD_TEST_BROWSER=1 to run the browser test (needs chromium)")
	}
	m := bootSeeded(t, Config{})
	var out bytes.Buffer
	must(t, run(context.Background(), []string{"keys", "create", "--db", m.Config.DB, "--name", "browser"}, &out, io.Discard))
	key := strings.TrimSpace(out.String())

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.Flag("headless", true))
	if p := os.Getenv("CHROME_PATH"); p != "" {
		opts = append(opts, chromedp.ExecPath(p))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// Collect console errors: a CSP violation shows up there.
	var mu sync.Mutex
	var console []string
	must(t, chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			mu.Lock()
			console = append(console, "log: "+e.Entry.Text)
			mu.Unlock()
		case *runtime.EventExceptionThrown:
			mu.Lock()
			console = append(console, "exception: "+e.ExceptionDetails.Text)
			mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				mu.Lock()
				console = append(console, "console.error: "+strings.Join(parts, " "))
				mu.Unlock()
			}
		}
	}))

	op := `#operations-cves-listCVEsV1`
	err := chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/api/docs"),
		chromedp.WaitVisible(op),
	)
	var ops int
	var background string
	if err == nil {
		ops, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.opblock').length`))
	}
	if err == nil {
		// Proof the stylesheet applied under the CSP: GET blocks are tinted.
		background, err = chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.opblock.opblock-get')).backgroundColor`))
	}
	if err == nil {
		err = chromedp.Do(ctx,
			// Authorize with the key.
			chromedp.Click(`.auth-wrapper .authorize`),
			chromedp.WaitVisible(`.modal-ux input`),
			chromedp.SendKeys(`.modal-ux input`, key),
			chromedp.Click(`.modal-ux .auth-btn-wrapper .authorize`),
			chromedp.Click(`.modal-ux .btn-done`),
			// Try it out on GET /api/v1/cves.
			chromedp.Click(op+` .opblock-summary-control`),
			chromedp.WaitVisible(op+` .try-out__btn`),
			chromedp.Click(op+` .try-out__btn`),
			chromedp.Click(op+` .execute`),
			chromedp.WaitVisible(op+` .live-responses-table tr.response .response-col_status`),
		)
	}
	var status, body string
	if err == nil {
		status, err = chromedp.Run(ctx, chromedp.Text(op+` .live-responses-table tr.response .response-col_status`))
	}
	if err == nil {
		body, err = chromedp.Run(ctx, chromedp.Text(op+` .live-responses-table tr.response .response-col_description`))
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		t.Fatalf("browser: %v; console: %v", err, console)
	}
	if background == "" || background == "rgba(0, 0, 0, 0)" {
		t.Errorf("swagger-ui.css did not apply (GET block background %q)", background)
	}
	if ops < 8 {
		t.Errorf("the page shows %d operations, want at least 8", ops)
	}
	if !strings.Contains(status, "200") || !strings.Contains(body, "CVE-2024-3094") {
		t.Errorf("Try it out: status %q body %q", status, body)
	}
	for _, c := range console {
		t.Log(c)
		if strings.Contains(c, "Content Security Policy") || strings.Contains(c, "Refused") {
			t.Errorf("CSP violation: %s", c)
		}
	}
}
