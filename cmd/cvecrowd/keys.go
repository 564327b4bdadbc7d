package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "list" {
		return keysList(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "revoke" {
		return keysRevoke(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "create" {
		return errors.New(`keys: want "keys create --db PATH --name NAME", "keys list --db PATH" or "keys revoke --db PATH --id N"`)
	}
	fs := newFlagSet("keys create", stderr)
	db := fs.String("db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	name := fs.String("name", "", "a name to recognise the key by (required)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	*name = strings.TrimSpace(*name)
	if *name == "" {
		return errors.New("keys create: --name is required")
	}
	if len(*name) > 100 || strings.ContainsFunc(*name, unicode.IsControl) {
		return errors.New("keys create: --name must be at most 100 characters, without control characters")
	}
	if isFilePath(*db) {
		if _, err := os.Stat(*db); errors.Is(err, os.ErrNotExist) {
			// A typo in --db would otherwise print a key the server never sees.
			fmt.Fprintf(stderr, "note: %s did not exist; created a new database there\n", *db)
		}
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	key, prefix, hash, err := apikey.Generate()
	if err != nil {
		return err
	}
	if _, err := st.CreateAPIKey(ctx, *name, prefix, hash); err != nil {
		return err
	}
	// The key alone on stdout, so scripts can capture it; it is never shown again.
	fmt.Fprintln(stdout, key)
	return nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	db := fs.String("db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is up to date (%s)\n", *db, st.Engine())
	return st.Close()
}

// isFilePath reports whether a --db value names a SQLite file.
func isFilePath(dsn string) bool {
	return !strings.Contains(dsn, "://") && !strings.HasPrefix(dsn, "file:")
}

// openExisting opens a database that must exist already: admin commands
// that read or change rows must not quietly create an empty database at a
// mistyped path.
func openExisting(ctx context.Context, dsn string) (*store.DB, error) {
	if isFilePath(dsn) || strings.HasPrefix(dsn, "sqlite:") {
		path := strings.TrimPrefix(dsn, "sqlite:")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("database %s: %w (start cvecrowd serve or run cvecrowd migrate to create one)", path, err)
		}
	}
	return store.Open(ctx, dsn)
}
