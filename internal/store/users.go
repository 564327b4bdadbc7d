package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrExists is returned when a row with the same natural key exists already.
var ErrExists = errors.New("already exists")

// User is a portal account. PasswordHash is an encoded argon2id hash.
type User struct {
	ID           int64
	Email        string
	PasswordHash string
	CreatedAt    time.Time
}

// NormalizeEmail is the form under which emails are stored and looked up:
// trimmed and lower-cased, so "Alice@X.org" cannot sign up twice.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser stores a new account; ErrExists when the email is taken.
func (db *DB) CreateUser(ctx context.Context, email, passwordHash string) (User, error) {
	u := User{Email: NormalizeEmail(email), PasswordHash: passwordHash, CreatedAt: db.now().UTC().Truncate(time.Millisecond)}
	err := db.sql.QueryRowContext(ctx, `
		INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (email) DO NOTHING
		RETURNING id`, u.Email, passwordHash, ms(u.CreatedAt)).Scan(&u.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: create user %s: %w", u.Email, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user %s: %w", u.Email, err)
	}
	return u, nil
}

// UserByEmail returns the account with that email, or ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	return db.user(ctx, `SELECT id, email, password_hash, created_at FROM users WHERE email = $1`, NormalizeEmail(email))
}

func (db *DB) user(ctx context.Context, query string, arg any) (User, error) {
	var u User
	var created int64
	err := db.sql.QueryRowContext(ctx, query, arg).Scan(&u.ID, &u.Email, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user: %w", err)
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

// CreateSession stores a session of userID under the hash of its token.
func (db *DB) CreateSession(ctx context.Context, userID int64, tokenHash string, expires time.Time) error {
	now := db.now()
	// Expired sessions are swept here, when someone logs in, rather than by a timer.
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1`, ms(now)); err != nil {
		return fmt.Errorf("store: sweep sessions: %w", err)
	}
	if _, err := db.sql.ExecContext(ctx, `
		INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		tokenHash, userID, ms(now), ms(expires)); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionUser returns the account of an unexpired session, or ErrNotFound.
func (db *DB) SessionUser(ctx context.Context, tokenHash string) (User, error) {
	return db.userOfSession(ctx, tokenHash, db.now())
}

func (db *DB) userOfSession(ctx context.Context, tokenHash string, now time.Time) (User, error) {
	var u User
	var created int64
	err := db.sql.QueryRowContext(ctx, `
		SELECT u.id, u.email, u.password_hash, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > $2`, tokenHash, ms(now)).Scan(&u.ID, &u.Email, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: session: %w", err)
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

// DeleteSession ends a session (log out). Ending an unknown session is not an error.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// KeyInfo is an API key with its owner, as listed by the portal and the admin CLI.
type KeyInfo struct {
	APIKey
	UserID *int64 // nil for keys made with the admin CLI
	Email  string // the owner's email, "" without owner
}

// CreateUserAPIKey stores a new key owned by userID, by its hash.
func (db *DB) CreateUserAPIKey(ctx context.Context, userID int64, name, prefix, hash string) (APIKey, error) {
	k := APIKey{Name: name, Prefix: prefix, CreatedAt: db.now().UTC().Truncate(time.Millisecond)}
	err := db.sql.QueryRowContext(ctx, `
		INSERT INTO api_keys (name, prefix, hash, created_at, user_id) VALUES ($1, $2, $3, $4, $5)
		RETURNING id`, name, prefix, hash, ms(k.CreatedAt), userID).Scan(&k.ID)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key %q: %w", name, err)
	}
	return k, nil
}

const keyInfoColumns = `k.id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at, k.requests, k.user_id, COALESCE(u.email, '')`

// UserAPIKeys lists the keys of one account, newest first, revoked ones included.
func (db *DB) UserAPIKeys(ctx context.Context, userID int64) ([]KeyInfo, error) {
	return db.keyInfos(ctx, `SELECT `+keyInfoColumns+` FROM api_keys k LEFT JOIN users u ON u.id = k.user_id
		WHERE k.user_id = $1 ORDER BY k.created_at DESC, k.id DESC`, userID)
}

// APIKeys lists every key, newest first, revoked ones included.
func (db *DB) APIKeys(ctx context.Context) ([]KeyInfo, error) {
	return db.keyInfos(ctx, `SELECT `+keyInfoColumns+` FROM api_keys k LEFT JOIN users u ON u.id = k.user_id
		ORDER BY k.created_at DESC, k.id DESC`)
}

func (db *DB) keyInfos(ctx context.Context, query string, args ...any) ([]KeyInfo, error) {
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	defer rows.Close()
	var out []KeyInfo
	for rows.Next() {
		var k KeyInfo
		var created int64
		var used, revoked, user sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &created, &used, &revoked, &k.Requests, &user, &k.Email); err != nil {
			return nil, fmt.Errorf("store: list api keys: %w", err)
		}
		k.CreatedAt, k.LastUsed, k.RevokedAt = fromMS(created), timePtr(used), timePtr(revoked)
		if user.Valid {
			k.UserID = &user.Int64
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes key id. With userID non-nil, only a key of that
// account is revoked (the portal); ErrNotFound when there is no such key.
// Revoking a revoked key keeps its first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, id int64, userID *int64) error {
	query, args := `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, []any{id, ms(db.now())}
	if userID != nil {
		query, args = query+` AND user_id = $3`, append(args, *userID)
	}
	res, err := db.sql.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: revoke api key %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: revoke api key %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("store: revoke api key %d: %w", id, ErrNotFound)
	}
	return nil
}

// KeyUsage is what some requests of one key add to its counters.
type KeyUsage struct {
	KeyID    int64
	Requests int64
	LastUsed time.Time
}

// AddAPIKeyUsage adds buffered request counts to the keys' counters in one
// transaction, so counting costs one write per flush, not one per request.
func (db *DB) AddAPIKeyUsage(ctx context.Context, usage []KeyUsage) error {
	if len(usage) == 0 {
		return nil
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, u := range usage {
			if _, err := tx.ExecContext(ctx, `
				UPDATE api_keys SET requests = requests + $2,
					last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $3 THEN $3 ELSE last_used_at END
				WHERE id = $1`, u.KeyID, u.Requests, ms(u.LastUsed)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add api key usage: %w", err)
	}
	return nil
}

// StoredKey is an API key with the hash it is stored under.
type StoredKey struct {
	APIKey
	Hash string
}

// APIKeysByPrefix returns the keys whose clear prefix is prefix (usually
// one), with their hashes, so the caller compares hashes itself in constant
// time rather than letting an index lookup on the secret's hash decide.
func (db *DB) APIKeysByPrefix(ctx context.Context, prefix string) ([]StoredKey, error) {
	// Every API request runs this: prepared once, not parsed each time.
	stmt, err := db.prepared(ctx, `
		SELECT id, name, prefix, created_at, last_used_at, revoked_at, requests, hash
		FROM api_keys WHERE prefix = $1`)
	if err != nil {
		return nil, fmt.Errorf("store: api keys by prefix: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("store: api keys by prefix: %w", err)
	}
	defer rows.Close()
	var out []StoredKey
	for rows.Next() {
		var k StoredKey
		var created int64
		var used, revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &created, &used, &revoked, &k.Requests, &k.Hash); err != nil {
			return nil, fmt.Errorf("store: api keys by prefix: %w", err)
		}
		k.CreatedAt, k.LastUsed, k.RevokedAt = fromMS(created), timePtr(used), timePtr(revoked)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: api keys by prefix: %w", err)
	}
	return out, nil
}

// prepared returns query prepared once per DB (database/sql re-prepares it
// on each pooled connection as needed).
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}
