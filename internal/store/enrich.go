package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record states kept in cve_records.state (and copied to cves.state).
const (
	StatePublished   = "PUBLISHED"
	StateRejected    = "REJECTED"
	StateUnpublished = "UNPUBLISHED" // confirmed missing: CVE Services answered 404, or a complete cvelist lacks it
)

// CVSS is one chosen CVSS metric.
type CVSS struct {
	Version  string // "4.0", "3.1", "3.0", "2.0"
	Vector   string
	Score    float64
	Severity string // upper case
	Source   string // "CNA", "CISA-ADP", "NVD", ...
}

// SourceData is what one source (the CVE record, or NVD) says about a CVE,
// already reduced to the fields SPEC §3 keeps. Nil means the source is silent.
type SourceData struct {
	Description *string
	Vendor      *string
	Product     *string
	Published   *time.Time
	Updated     *time.Time
	CVSS        *CVSS
	CWEs        []string
	References  []string
	KEVAdded    *time.Time // the source says CISA lists it as exploited, since then
}

// CVERecord is a CVE record (CVE JSON 5) reduced to SourceData, with its state.
type CVERecord struct {
	ID    string
	State string // StatePublished or StateRejected
	SourceData
}

// NVDRecord is an NVD CVE API 2.0 entry reduced to SourceData.
type NVDRecord struct {
	ID     string
	Status string // vulnStatus: Analyzed, Modified, Awaiting Analysis, Rejected, ...
	SourceData
}

// EPSSScore is one FIRST EPSS score.
type EPSSScore struct {
	ID         string
	Score      float64
	Percentile float64
	Date       *time.Time
}

// KEVEntry is one entry of the CISA KEV catalogue.
type KEVEntry struct {
	ID         string
	DateAdded  time.Time
	Ransomware string // knownRansomwareCampaignUse: "Known", "Unknown", or "" in older catalogues
}

// CVEData is the merged official data of a CVE (the cve_data view).
type CVEData struct {
	ID             string
	State          *string
	Description    *string
	Vendor         *string
	Product        *string
	Published      *time.Time
	Updated        *time.Time
	CVSSVector     *string
	BaseScore      *float64
	BaseSeverity   *string
	CVSSSource     *string
	CWEs           []string
	References     []string
	EPSS           *float64
	EPSSPercentile *float64
	KEV            bool
	KEVDateAdded   *time.Time
	KEVRansomware  *string
	Verified       bool
	CheckedAt      *time.Time
	NextCheckAt    *time.Time
	CheckFailures  int
	NVDCheckedAt   *time.Time
	EPSSCheckedAt  *time.Time
	RecordUpdated  *time.Time
}

// syncCVE copies the merged data of id into its cves row (if a post
// mentions it), so the ranking's reads need no join.
const syncCVE = `
	UPDATE cves SET (description, vendor, product, published, updated, cvss_vector, base_score,
			base_severity, epss, epss_percentile, kev, state, verified) =
		(SELECT description, vendor, product, published, updated, cvss_vector, base_score,
			base_severity, epss, epss_percentile, kev, state, verified
		 FROM cve_data WHERE cve_data.cve_id = cves.cve_id)
	WHERE cve_id = $1`

// SaveRecords stores CVE records (from CVE Services or an import) as checked
// now, due again at next. A record whose dateUpdated is older than the stored
// one is ignored, so an old import never overwrites fresher data.
func (db *DB) SaveRecords(ctx context.Context, recs []CVERecord, next time.Time) (stored int, err error) {
	now := ms(db.now())
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			d := &r.SourceData
			vector, score, severity, source := cvssCols(d.CVSS)
			res, err := tx.ExecContext(ctx, `
				INSERT INTO cve_records (cve_id, state, rec_description, rec_vendor, rec_product, rec_published,
					rec_updated, rec_cvss_vector, rec_base_score, rec_base_severity, rec_cvss_source, rec_cwe,
					rec_refs, rec_kev_added, checked_at, next_check_at, check_failures)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0)
				ON CONFLICT (cve_id) DO UPDATE SET state = excluded.state,
					rec_description = excluded.rec_description, rec_vendor = excluded.rec_vendor,
					rec_product = excluded.rec_product, rec_published = excluded.rec_published,
					rec_updated = excluded.rec_updated, rec_cvss_vector = excluded.rec_cvss_vector,
					rec_base_score = excluded.rec_base_score, rec_base_severity = excluded.rec_base_severity,
					rec_cvss_source = excluded.rec_cvss_source, rec_cwe = excluded.rec_cwe,
					rec_refs = excluded.rec_refs, rec_kev_added = excluded.rec_kev_added,
					checked_at = excluded.checked_at, next_check_at = excluded.next_check_at, check_failures = 0
				WHERE cve_records.rec_updated IS NULL OR excluded.rec_updated IS NULL
					OR excluded.rec_updated >= cve_records.rec_updated`,
				r.ID, r.State, d.Description, d.Vendor, d.Product, nullMS(d.Published),
				nullMS(d.Updated), vector, score, severity, source, joinCWE(d.CWEs),
				refsJSON(d.References), nullMS(d.KEVAdded), now, ms(next))
			if err != nil {
				return fmt.Errorf("record %s: %w", r.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // an older version than the stored one
			}
			stored++
			if _, err := tx.ExecContext(ctx, syncCVE, r.ID); err != nil {
				return fmt.Errorf("sync %s: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: save %d cve records: %w", len(recs), err)
	}
	return stored, nil
}

// SaveNVD stores NVD entries.
func (db *DB) SaveNVD(ctx context.Context, recs []NVDRecord) error {
	now := ms(db.now())
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			d := &r.SourceData
			vector, score, severity, _ := cvssCols(d.CVSS)
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO cve_records (cve_id, nvd_status, nvd_description, nvd_vendor, nvd_product,
					nvd_published, nvd_updated, nvd_cvss_vector, nvd_base_score, nvd_base_severity, nvd_cwe,
					nvd_refs, nvd_kev_added, nvd_checked_at, state)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
				ON CONFLICT (cve_id) DO UPDATE SET nvd_status = excluded.nvd_status,
					state = COALESCE(cve_records.state, excluded.state),
					nvd_description = excluded.nvd_description, nvd_vendor = excluded.nvd_vendor,
					nvd_product = excluded.nvd_product, nvd_published = excluded.nvd_published,
					nvd_updated = excluded.nvd_updated, nvd_cvss_vector = excluded.nvd_cvss_vector,
					nvd_base_score = excluded.nvd_base_score, nvd_base_severity = excluded.nvd_base_severity,
					nvd_cwe = excluded.nvd_cwe, nvd_refs = excluded.nvd_refs,
					nvd_kev_added = excluded.nvd_kev_added, nvd_checked_at = excluded.nvd_checked_at`,
				r.ID, nullString(r.Status), d.Description, d.Vendor, d.Product, nullMS(d.Published),
				nullMS(d.Updated), vector, score, severity, joinCWE(d.CWEs), refsJSON(d.References),
				nullMS(d.KEVAdded), now, nvdState(r.Status)); err != nil {
				return fmt.Errorf("nvd %s: %w", r.ID, err)
			}
			if _, err := tx.ExecContext(ctx, syncCVE, r.ID); err != nil {
				return fmt.Errorf("sync %s: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save %d nvd entries: %w", len(recs), err)
	}
	return nil
}

// nvdState lets NVD's "Rejected" hide a CVE that CVE Services never
// answered for (offline installs with only NVD data); CVE Services' own
// state, when known, always wins.
func nvdState(status string) sql.NullString {
	if status == "Rejected" {
		return sql.NullString{String: StateRejected, Valid: true}
	}
	return sql.NullString{}
}

// MarkNVDChecked records that NVD was asked about ids (found or not), so
// they are not asked again before the refresh period.
func (db *DB) MarkNVDChecked(ctx context.Context, ids []string) error {
	now := ms(db.now())
	return db.eachID(ctx, "mark nvd checked", ids, func(tx *sql.Tx, id string) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO cve_records (cve_id, nvd_checked_at) VALUES ($1, $2)
			ON CONFLICT (cve_id) DO UPDATE SET nvd_checked_at = excluded.nvd_checked_at`, id, now)
		return err
	})
}

// MarkUnpublished records that CVE Services has no record for id (404):
// the CVE leaves the ranking until a later check, at next, finds it.
func (db *DB) MarkUnpublished(ctx context.Context, id string, next time.Time) error {
	now := ms(db.now())
	return db.eachID(ctx, "mark unpublished", []string{id}, func(tx *sql.Tx, id string) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO cve_records (cve_id, state, checked_at, next_check_at, check_failures)
			VALUES ($1, $2, $3, $4, 1)
			ON CONFLICT (cve_id) DO UPDATE SET state = excluded.state, checked_at = excluded.checked_at,
				next_check_at = excluded.next_check_at, check_failures = cve_records.check_failures + 1`,
			id, StateUnpublished, now, ms(next)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, syncCVE, id)
		return err
	})
}

// MarkCheckFailed records that no source could be asked about id; nothing
// about the CVE changes (it stays listed, unverified if never checked), and
// the next attempt is due at next.
func (db *DB) MarkCheckFailed(ctx context.Context, id string, next time.Time) error {
	return db.eachID(ctx, "mark check failed", []string{id}, func(tx *sql.Tx, id string) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO cve_records (cve_id, next_check_at, check_failures) VALUES ($1, $2, 1)
			ON CONFLICT (cve_id) DO UPDATE SET next_check_at = excluded.next_check_at,
				check_failures = cve_records.check_failures + 1`, id, ms(next))
		return err
	})
}

// MarkMissingUnpublished marks every mentioned CVE that has no record (nor a
// known state) as confirmed missing. Call it only after importing a complete
// cvelist, which is the proof that those IDs are reserved or mistyped.
func (db *DB) MarkMissingUnpublished(ctx context.Context, next time.Time) (int, error) {
	now := ms(db.now())
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO cve_records (cve_id, state, checked_at, next_check_at, check_failures)
			SELECT c.cve_id, $1, $2, $3, 1 FROM cves c
			LEFT JOIN cve_records r ON r.cve_id = c.cve_id
			WHERE r.cve_id IS NULL OR r.state IS NULL OR r.state = $1
			ON CONFLICT (cve_id) DO UPDATE SET state = excluded.state, checked_at = excluded.checked_at,
				next_check_at = excluded.next_check_at`, StateUnpublished, now, ms(next))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `
			UPDATE cves SET (description, vendor, product, published, updated, cvss_vector, base_score,
					base_severity, epss, epss_percentile, kev, state, verified) =
				(SELECT description, vendor, product, published, updated, cvss_vector, base_score,
					base_severity, epss, epss_percentile, kev, state, verified
				 FROM cve_data WHERE cve_data.cve_id = cves.cve_id)
			WHERE cve_id IN (SELECT cve_id FROM cve_records WHERE state = $1)`, StateUnpublished)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: mark missing cves unpublished: %w", err)
	}
	return int(n), nil
}

// SaveEPSS stores EPSS scores. asked lists every ID the source was asked
// about: those without a score are marked checked too.
func (db *DB) SaveEPSS(ctx context.Context, scores []EPSSScore, asked []string) error {
	now := ms(db.now())
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, s := range scores {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO cve_records (cve_id, epss, epss_percentile, epss_date, epss_checked_at)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (cve_id) DO UPDATE SET epss = excluded.epss, epss_percentile = excluded.epss_percentile,
					epss_date = excluded.epss_date, epss_checked_at = excluded.epss_checked_at
				WHERE cve_records.epss_date IS NULL OR excluded.epss_date IS NULL
					OR excluded.epss_date >= cve_records.epss_date`,
				s.ID, s.Score, s.Percentile, nullMS(s.Date), now); err != nil {
				return fmt.Errorf("epss %s: %w", s.ID, err)
			}
			if _, err := tx.ExecContext(ctx, syncCVE, s.ID); err != nil {
				return fmt.Errorf("sync %s: %w", s.ID, err)
			}
		}
		for _, id := range asked {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO cve_records (cve_id, epss_checked_at) VALUES ($1, $2)
				ON CONFLICT (cve_id) DO UPDATE SET epss_checked_at = excluded.epss_checked_at`, id, now); err != nil {
				return fmt.Errorf("epss checked %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save %d epss scores: %w", len(scores), err)
	}
	return nil
}

// SaveKEV replaces the KEV catalogue with entries (catalogue version
// version): CVEs no longer listed lose their KEV mark.
func (db *DB) SaveKEV(ctx context.Context, version string, entries []KEVEntry) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range entries {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO cve_records (cve_id, kev_date_added, kev_ransomware, kev_version) VALUES ($1, $2, $3, $4)
				ON CONFLICT (cve_id) DO UPDATE SET kev_date_added = excluded.kev_date_added,
					kev_ransomware = excluded.kev_ransomware, kev_version = excluded.kev_version`,
				e.ID, ms(e.DateAdded), nullString(e.Ransomware), version); err != nil {
				return fmt.Errorf("kev %s: %w", e.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE cve_records SET kev_date_added = NULL, kev_ransomware = NULL, kev_version = NULL
			WHERE kev_version IS NOT NULL AND kev_version <> $1`, version); err != nil {
			return fmt.Errorf("clear dropped entries: %w", err)
		}
		// The catalogue touches few rows but any mentioned CVE may have
		// changed; re-copy all mentioned CVEs that have a record.
		_, err := tx.ExecContext(ctx, `
			UPDATE cves SET (description, vendor, product, published, updated, cvss_vector, base_score,
					base_severity, epss, epss_percentile, kev, state, verified) =
				(SELECT description, vendor, product, published, updated, cvss_vector, base_score,
					base_severity, epss, epss_percentile, kev, state, verified
				 FROM cve_data WHERE cve_data.cve_id = cves.cve_id)
			WHERE cve_id IN (SELECT cve_id FROM cve_records)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save kev catalogue %s: %w", version, err)
	}
	return nil
}

// DueRecords returns up to limit mentioned CVEs whose record should be
// (re)fetched at now: never checked ones first-class, others when their next
// check is due and a post mentioned them since windowStart. Most recently
// mentioned first.
func (db *DB) DueRecords(ctx context.Context, now, windowStart time.Time, limit int) ([]string, error) {
	return db.ids(ctx, "due records", `
		SELECT c.cve_id FROM cves c LEFT JOIN cve_records r ON r.cve_id = c.cve_id
		WHERE r.cve_id IS NULL OR r.next_check_at IS NULL
			OR (r.next_check_at <= $1 AND c.last_seen >= $2 AND (r.state IS NULL OR r.state <> $4))
		ORDER BY c.last_seen DESC, c.cve_id LIMIT $3`, ms(now), ms(windowStart), limit, StateRejected)
}

// DueEPSS returns up to limit mentioned, not rejected CVEs whose EPSS score
// was not fetched since before and that a post mentioned since windowStart.
func (db *DB) DueEPSS(ctx context.Context, before, windowStart time.Time, limit int) ([]string, error) {
	return db.ids(ctx, "due epss", `
		SELECT c.cve_id FROM cves c LEFT JOIN cve_records r ON r.cve_id = c.cve_id
		WHERE (r.cve_id IS NULL OR r.epss_checked_at IS NULL OR r.epss_checked_at < $1)
			AND c.last_seen >= $2 AND (c.state IS NULL OR c.state <> $4)
		ORDER BY c.last_seen DESC, c.cve_id LIMIT $3`, ms(before), ms(windowStart), limit, StateRejected)
}

// Unlisted returns the mentioned CVEs the ranking must leave out, with their
// state (StateRejected or StateUnpublished).
func (db *DB) Unlisted(ctx context.Context) (map[string]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT cve_id, state FROM cves WHERE state IN ($1, $2)`,
		StateRejected, StateUnpublished)
	if err != nil {
		return nil, fmt.Errorf("store: unlisted cves: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("store: unlisted cves: %w", err)
		}
		out[id] = state
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unlisted cves: %w", err)
	}
	return out, nil
}

// CVEData returns the merged official data of id, mentioned or not;
// ErrNotFound when no source said anything about it.
func (db *DB) CVEData(ctx context.Context, id string) (CVEData, error) {
	d := CVEData{ID: id}
	var state, desc, vendor, product, vector, severity, source, cwe, refs, ransom sql.NullString
	var published, updated, kevAdded, checked, next, nvdChecked, epssChecked, recUpdated sql.NullInt64
	var score, epss, pct sql.NullFloat64
	var kev, verified int
	err := db.sql.QueryRowContext(ctx, `
		SELECT state, description, vendor, product, published, updated, cvss_vector, base_score, base_severity,
			cvss_source, cwe, refs, epss, epss_percentile, kev, kev_date_added, kev_ransomware, verified,
			checked_at, next_check_at, check_failures, nvd_checked_at, epss_checked_at, rec_updated
		FROM cve_data WHERE cve_id = $1`, id).Scan(&state, &desc, &vendor, &product, &published, &updated,
		&vector, &score, &severity, &source, &cwe, &refs, &epss, &pct, &kev, &kevAdded, &ransom, &verified,
		&checked, &next, &d.CheckFailures, &nvdChecked, &epssChecked, &recUpdated)
	if errors.Is(err, sql.ErrNoRows) {
		return CVEData{}, fmt.Errorf("store: cve data %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return CVEData{}, fmt.Errorf("store: cve data %s: %w", id, err)
	}
	d.State, d.Description, d.Vendor, d.Product = strPtr(state), strPtr(desc), strPtr(vendor), strPtr(product)
	d.Published, d.Updated, d.KEVDateAdded = timePtr(published), timePtr(updated), timePtr(kevAdded)
	d.CVSSVector, d.BaseSeverity, d.CVSSSource, d.KEVRansomware = strPtr(vector), strPtr(severity), strPtr(source), strPtr(ransom)
	d.BaseScore, d.EPSS, d.EPSSPercentile = floatPtr(score), floatPtr(epss), floatPtr(pct)
	d.KEV, d.Verified = kev == 1, verified == 1
	d.CheckedAt, d.NextCheckAt, d.NVDCheckedAt = timePtr(checked), timePtr(next), timePtr(nvdChecked)
	d.EPSSCheckedAt, d.RecordUpdated = timePtr(epssChecked), timePtr(recUpdated)
	if cwe.Valid && cwe.String != "" {
		d.CWEs = strings.Split(cwe.String, ",")
	}
	if refs.Valid {
		if err := json.Unmarshal([]byte(refs.String), &d.References); err != nil {
			return CVEData{}, fmt.Errorf("store: cve data %s: references: %w", id, err)
		}
	}
	return d, nil
}

func (db *DB) eachID(ctx context.Context, what string, ids []string, fn func(tx *sql.Tx, id string) error) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if err := fn(tx, id); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (db *DB) ids(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

func cvssCols(c *CVSS) (vector sql.NullString, score sql.NullFloat64, severity, source sql.NullString) {
	if c == nil || c.Vector == "" {
		return
	}
	return sql.NullString{String: c.Vector, Valid: true}, sql.NullFloat64{Float64: c.Score, Valid: true},
		nullString(strings.ToUpper(c.Severity)), nullString(c.Source)
}

func joinCWE(cwes []string) sql.NullString { return nullString(strings.Join(cwes, ",")) }

func refsJSON(refs []string) sql.NullString {
	if len(refs) == 0 {
		return sql.NullString{}
	}
	b, _ := json.Marshal(refs)
	return sql.NullString{String: string(b), Valid: true}
}
