package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/password"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// keysList prints every API key: never the key, only its clear prefix.
func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys list", stderr)
	db := fs.String("db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	ks, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tOWNER\tCREATED\tLAST USED\tREQUESTS\tSTATUS")
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range ks {
		owner, status := k.Email, "active"
		if owner == "" {
			owner = "(admin)"
		}
		if k.RevokedAt != nil {
			status = "revoked " + stamp(k.RevokedAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%d\t%s\n", k.ID, oneLine(k.Name), k.Prefix, owner,
			k.CreatedAt.UTC().Format(time.RFC3339), stamp(k.LastUsed), k.Requests, status)
	}
	return tw.Flush()
}

// oneLine keeps a user-chosen name from breaking the table.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// keysRevoke revokes one key by id or by its clear prefix; a running server
// refuses it from the next request on.
func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys revoke", stderr)
	db := fs.String("db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	id := fs.Int64("id", 0, "the key's id (see keys list)")
	prefix := fs.String("prefix", "", "the key's prefix, e.g. cvc_1a2b3c4d (see keys list)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*id == 0) == (*prefix == "") {
		return errors.New("keys revoke: give exactly one of --id and --prefix")
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if *prefix != "" {
		p := strings.TrimSuffix(strings.TrimSpace(*prefix), "…")
		if len(p) > apikey.PrefixLen {
			p = p[:apikey.PrefixLen] // a whole key given: its prefix identifies it
		}
		ks, err := st.APIKeysByPrefix(ctx, p)
		if err != nil {
			return err
		}
		switch len(ks) {
		case 0:
			return fmt.Errorf("keys revoke: no key with prefix %q", p)
		case 1:
			*id = ks[0].ID
		default:
			return fmt.Errorf("keys revoke: %d keys share prefix %q; use --id", len(ks), p)
		}
	}
	if err := st.RevokeAPIKey(ctx, *id, nil); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("keys revoke: no key with id %d", *id)
		}
		return err
	}
	fmt.Fprintf(stdout, "revoked key %d\n", *id)
	return nil
}

// users creates portal accounts for operators (e.g. with --signup closed).
func users(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New(`users: want "users create --db PATH --email EMAIL [--password-stdin]"`)
	}
	fs := newFlagSet("users create", stderr)
	db := fs.String("db", defaultDB, "database: a SQLite file path or a postgres:// URL")
	email := fs.String("email", "", "the account's email (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input; without it a password is generated and printed")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	addr := store.NormalizeEmail(*email)
	if addr == "" || !strings.Contains(addr, "@") || len(addr) > 254 {
		return errors.New("users create: --email must be an email address")
	}
	var pw string
	generated := false
	if *fromStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, password.MaxLength+2)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("users create: read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if len(pw) < password.MinLength || len(pw) > password.MaxLength {
			return fmt.Errorf("users create: the password must have %d to %d characters", password.MinLength, password.MaxLength)
		}
	} else {
		var err error
		if pw, err = password.Generate(); err != nil {
			return err
		}
		generated = true
	}
	hash, err := password.Hash(pw, password.Default)
	if err != nil {
		return err
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, addr, hash)
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("users create: an account with email %s exists already", addr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created account %d for %s\n", u.ID, u.Email)
	if generated {
		// The password alone on stdout, like keys create's key.
		fmt.Fprintln(stdout, pw)
	}
	return nil
}
