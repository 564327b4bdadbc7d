package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// APIKey is a stored API key. Only the SHA-256 hash of the secret is kept.
type APIKey struct {
	ID        int64
	Name      string
	Prefix    string // the first characters of the key, shown to help people tell keys apart
	CreatedAt time.Time
	LastUsed  *time.Time
	RevokedAt *time.Time
	Requests  int64
}

// CreateAPIKey stores a new key by its hash.
func (db *DB) CreateAPIKey(ctx context.Context, name, prefix, hash string) (APIKey, error) {
	k := APIKey{Name: name, Prefix: prefix, CreatedAt: db.now().UTC().Truncate(time.Millisecond)}
	err := db.sql.QueryRowContext(ctx, `
		INSERT INTO api_keys (name, prefix, hash, created_at) VALUES ($1, $2, $3, $4)
		RETURNING id`, name, prefix, hash, ms(k.CreatedAt)).Scan(&k.ID)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key %q: %w", name, err)
	}
	return k, nil
}

// APIKeyByHash returns the key with the given hash, or ErrNotFound. Revoked
// keys are returned too; callers check RevokedAt.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (APIKey, error) {
	var k APIKey
	var created int64
	var used, revoked sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `
		SELECT id, name, prefix, created_at, last_used_at, revoked_at, requests
		FROM api_keys WHERE hash = $1`, hash).Scan(&k.ID, &k.Name, &k.Prefix, &created, &used, &revoked, &k.Requests)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("store: api key: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: api key: %w", err)
	}
	k.CreatedAt, k.LastUsed, k.RevokedAt = fromMS(created), timePtr(used), timePtr(revoked)
	return k, nil
}
