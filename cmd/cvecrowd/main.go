// Command cvecrowd watches the Fediverse for CVE mentions, ranks them and serves the page and the API.
//
// Usage:
//
//	cvecrowd serve [--db PATH] [--listen ADDR] [--instance URL ...] [--poll-interval D]
//	cvecrowd keys create --db PATH --name NAME
//	cvecrowd keys list --db PATH
//	cvecrowd keys revoke --db PATH (--id N | --prefix cvc_xxxxxxxx)
//	cvecrowd users create --db PATH --email EMAIL [--password-stdin]
//	cvecrowd migrate --db PATH
//	cvecrowd migrate-db --from sqlite:PATH --to postgres://...
//	cvecrowd import cvelist|nvd|epss|kev [--db PATH] PATH
//
// Every flag can also be set with the environment variable CVECROWD_<FLAG>
// (upper case, '-' as '_'); a flag on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cvecrowd:", err)
		os.Exit(1)
	}
}

const usage = `cvecrowd watches the Fediverse for CVE mentions and serves them ranked.

Commands:
  serve         run the web page, the API and ingestion
  keys create   create an API key and print it on stdout
  keys list     list API keys (prefix, owner, usage, status)
  keys revoke   revoke an API key by id or prefix
  users create  create a portal account (password from stdin, or generated and printed)
  migrate       create or upgrade the database schema
  migrate-db    copy a whole database into an empty one (SQLite → PostgreSQL)
  import        import CVE data offline: cvelist, nvd, epss or kev

Run "cvecrowd COMMAND -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "keys":
		return keys(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "migrate-db":
		return migrateDB(ctx, args[1:], stdout, stderr)
	case "import":
		return importCmd(ctx, args[1:], stdout, stderr)
	case "users":
		return users(ctx, args[1:], os.Stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
