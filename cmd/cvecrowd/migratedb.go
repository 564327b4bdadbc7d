package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cvecrowd/cvecrowd/internal/store"
)

// migrateDB copies a whole database into another, empty one: the way to
// move a SQLite install to PostgreSQL.
func migrateDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate-db", stderr)
	from := fs.String("from", "", "source database (sqlite:PATH, a file path, or postgres://...)")
	to := fs.String("to", "", "destination database, migrated and empty (postgres://... or a file path)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return errors.New("migrate-db: --from and --to are required")
	}
	if *from == *to {
		return errors.New("migrate-db: --from and --to name the same database")
	}
	src, err := openExisting(ctx, *from)
	if err != nil {
		return fmt.Errorf("migrate-db: source: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, *to)
	if err != nil {
		return fmt.Errorf("migrate-db: destination: %w", err)
	}
	defer dst.Close()
	tty := isTerminal(stderr)
	counts, err := src.CopyTo(ctx, dst, func(table string, n int64) {
		if tty { // progress is for people; logs and pipes get the summary only
			fmt.Fprintf(stderr, "\r%-12s %d rows", table, n)
		}
	})
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("migrate-db: %w", err)
	}
	tables := make([]string, 0, len(counts))
	for t := range counts {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(stdout, "%-12s %d rows copied\n", t, counts[t])
	}
	return nil
}
