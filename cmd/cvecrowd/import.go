package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/enrich"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

const importUsage = `usage: cvecrowd import KIND [--db PATH] PATH

Offline imports of official CVE data, for air-gapped installs:
  cvelist PATH   a cvelistV5 checkout (directory) or its zip; --complete when it is the whole list
  nvd DIR        NVD CVE API 2.0 response pages saved as *.json or *.json.gz
  epss FILE      the EPSS daily CSV (epss_scores-YYYY-MM-DD.csv, gzipped or not)
  kev FILE       the CISA KEV catalogue JSON
`

// importCmd runs "cvecrowd import KIND PATH": progress on stderr when it is
// a terminal, the summary on stdout.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, importUsage)
		if len(args) == 0 {
			return errors.New("import: no kind given")
		}
		return flag.ErrHelp
	}
	kind := args[0]
	fs := newFlagSet("import "+kind, stderr)
	db := fs.String("db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	complete, force := false, false
	if kind == "cvelist" {
		fs.BoolVar(&complete, "complete", false, "PATH is the whole cvelistV5: mentioned CVEs it lacks are marked not yet published")
		fs.BoolVar(&force, "force", false, "with --complete: accept a list of fewer than 100,000 records")
	}
	// The path may come before or after the flags.
	rest := args[1:]
	var src string
	switch {
	case len(rest) > 0 && !strings.HasPrefix(rest[0], "-"):
		src, rest = rest[0], rest[1:]
	case len(rest) > 0 && !strings.HasPrefix(rest[len(rest)-1], "-"):
		src, rest = rest[len(rest)-1], rest[:len(rest)-1]
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	var run func(context.Context, enrich.ImportStore, string, enrich.ImportOptions) (enrich.Summary, error)
	switch kind {
	case "cvelist":
		run = enrich.ImportCVEList
	case "nvd":
		run = enrich.ImportNVD
	case "epss":
		run = enrich.ImportEPSS
	case "kev":
		run = enrich.ImportKEV
	default:
		fmt.Fprint(stderr, importUsage)
		return fmt.Errorf("import: unknown kind %q", kind)
	}
	if src == "" {
		return fmt.Errorf("import %s: no PATH given", kind)
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()

	start := time.Now()
	opt := enrich.ImportOptions{Complete: complete, Force: force}
	tty := isTerminal(stderr)
	var last time.Time
	if tty {
		opt.Progress = func(s enrich.Summary) {
			if now := time.Now(); now.Sub(last) >= 250*time.Millisecond {
				last = now
				fmt.Fprintf(stderr, "\r\033[Kimport %s: %d read, %d stored, %d skipped (%.0f/s)", kind, s.Read, s.Stored,
					s.SkippedTotal(), float64(s.Read)/now.Sub(start).Seconds())
			}
		}
	}
	sum, err := run(ctx, st, src, opt)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "import %s %s: %s in %s (%.0f records/s)\n", kind, src, sum.String(), elapsed.Round(time.Millisecond),
		float64(sum.Read)/max(elapsed.Seconds(), 1e-9))
	if err == nil && sum.Stored == 0 && sum.SkippedTotal() > 0 {
		// Everything was refused: a script must not take that for success.
		return fmt.Errorf("import %s %s: nothing stored, %d skipped", kind, src, sum.SkippedTotal())
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
