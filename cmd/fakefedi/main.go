// Command fakefedi is a development tool: it serves the CVE post corpus as a
// fake Mastodon instance (package internal/fakefedi) so that cvecrowd can be
// run and debugged locally without polling real servers. It is not part of
// the product and must never be exposed to the internet.
//
// Usage:
//
//	go run ./cmd/fakefedi --corpus testdata/corpus/corpus.jsonl --listen 127.0.0.1:8081 \
//	    [--engagement synthetic|none] [--seed N] [--domain fake.example]
//
// Every flag can also be given as an environment variable FAKEFEDI_<FLAG>
// (FAKEFEDI_CORPUS, FAKEFEDI_LISTEN, FAKEFEDI_ENGAGEMENT, FAKEFEDI_SEED,
// FAKEFEDI_DOMAIN); a flag on the command line wins over the variable.
//
// The base URL (e.g. http://127.0.0.1:8081) is printed on stdout once the
// server listens, so scripts can read it (useful with --listen
// 127.0.0.1:0); log lines go to stderr. SIGINT or SIGTERM shut it down
// gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fakefedi:", err)
		}
		os.Exit(2)
	}
}

// config is the parsed command line.
type config struct {
	corpus     string
	listen     string
	engagement string
	seed       int64
	domain     string
}

// parseConfig reads flags, with FAKEFEDI_<FLAG> environment variables as
// defaults. Environment values are applied through flag.Set before parsing,
// so they get the same validation as flags and the command line still wins.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fakefedi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.corpus, "corpus", "testdata/corpus/corpus.jsonl", "JSONL corpus of statuses to serve")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8081", "address to listen on (port 0 picks a free one)")
	fs.StringVar(&c.engagement, "engagement", "none", `engagement counts: "none" (all zero) or "synthetic" (deterministic, from --seed)`)
	fs.Int64Var(&c.seed, "seed", 1, "seed for --engagement synthetic")
	fs.StringVar(&c.domain, "domain", fakefedi.DefaultDomain, "the fake instance's own domain")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "FAKEFEDI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return config{}, envErr
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.engagement != "none" && c.engagement != "synthetic" {
		return config{}, fmt.Errorf(`--engagement must be "none" or "synthetic", not %q`, c.engagement)
	}
	return c, nil
}

// run serves until ctx is done. It is main without the process: tests call
// it with their own context, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	posts, err := fakefedi.LoadCorpusFile(c.corpus)
	if err != nil {
		return err
	}
	opts := fakefedi.Options{Domain: c.domain}
	if c.engagement == "synthetic" {
		opts.Engagement = fakefedi.SyntheticEngagement(c.seed)
	}
	fake, err := fakefedi.New(posts, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	fmt.Fprintf(stderr, "fakefedi: serving %d posts from %s as %s (times shifted by %v, engagement %s)\n",
		len(posts), c.corpus, c.domain, fake.Offset().Round(time.Second), c.engagement)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "fakefedi: shutting down")
	fake.Close() // release any held requests so Shutdown does not wait on them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
