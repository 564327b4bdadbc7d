package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AcquireLease takes or renews the lease called name for holder until
// now+ttl. It reports false when another holder's lease has not expired.
// One statement does it, so two processes racing for a free lease cannot
// both win on either engine.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := db.now()
	var got string
	err := db.sql.QueryRowContext(ctx, `
		INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4
		RETURNING holder`, name, holder, ms(now.Add(ttl)), ms(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	return got == holder, nil
}

// ReleaseLease gives up holder's lease on name, if it holds it, so another
// process can take the work at once (graceful shutdown).
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("store: release lease %s: %w", name, err)
	}
	return nil
}

// Lease is who holds a named piece of work until when.
type Lease struct {
	Name      string
	Holder    string
	ExpiresAt time.Time
}

// Leases lists every lease, expired or not.
func (db *DB) Leases(ctx context.Context) ([]Lease, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT name, holder, expires_at FROM leases ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: leases: %w", err)
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var l Lease
		var exp int64
		if err := rows.Scan(&l.Name, &l.Holder, &exp); err != nil {
			return nil, fmt.Errorf("store: leases: %w", err)
		}
		l.ExpiresAt = fromMS(exp)
		out = append(out, l)
	}
	return out, rows.Err()
}
