package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CVE is what the store knows of one CVE: when posts mentioned it and, once
// enrichment has run, its official data (nil fields are unknown).
type CVE struct {
	ID             string
	FirstSeen      time.Time // created_at of the earliest stored post mentioning it
	LastSeen       time.Time // created_at of the latest
	Description    *string
	Vendor         *string
	Product        *string
	Published      *time.Time
	Updated        *time.Time
	CVSSVector     *string
	BaseScore      *float64
	BaseSeverity   *string
	EPSS           *float64
	EPSSPercentile *float64
	KEV            bool
	State          *string // record state from CVE Services: PUBLISHED, REJECTED, ... nil when unchecked
	Verified       bool
}

// CVE returns one CVE, or ErrNotFound when no stored post ever mentioned it.
func (db *DB) CVE(ctx context.Context, id string) (CVE, error) {
	c := CVE{ID: id}
	var first, last int64
	var published, updated sql.NullInt64
	var desc, vendor, product, vector, severity, state sql.NullString
	var score, epss, pct sql.NullFloat64
	var kev, verified int
	err := db.sql.QueryRowContext(ctx, `
		SELECT first_seen, last_seen, description, vendor, product, published, updated,
			cvss_vector, base_score, base_severity, epss, epss_percentile, kev, state, verified
		FROM cves WHERE cve_id = $1`, id).Scan(&first, &last, &desc, &vendor, &product, &published, &updated,
		&vector, &score, &severity, &epss, &pct, &kev, &state, &verified)
	if errors.Is(err, sql.ErrNoRows) {
		return CVE{}, fmt.Errorf("store: cve %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return CVE{}, fmt.Errorf("store: cve %s: %w", id, err)
	}
	c.FirstSeen, c.LastSeen = fromMS(first), fromMS(last)
	c.Description, c.Vendor, c.Product = strPtr(desc), strPtr(vendor), strPtr(product)
	c.Published, c.Updated = timePtr(published), timePtr(updated)
	c.CVSSVector, c.BaseSeverity, c.State = strPtr(vector), strPtr(severity), strPtr(state)
	c.BaseScore, c.EPSS, c.EPSSPercentile = floatPtr(score), floatPtr(epss), floatPtr(pct)
	c.KEV, c.Verified = kev == 1, verified == 1
	return c, nil
}

func strPtr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

func floatPtr(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	return &v.Float64
}
