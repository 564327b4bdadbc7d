-- PostgreSQL twin of the SQLite migration.
-- Official CVE data (SPEC §3). cve_records keeps what each source said about
-- a CVE, whether or not any post mentions it yet (offline imports store every
-- record); cve_data merges the sources by the SPEC's precedence; the cves
-- columns are a copy of cve_data for mentioned CVEs, refreshed on every write
-- and, by the trigger, when a post first mentions an already known CVE.

-- +goose Up
CREATE TABLE cve_records (
    cve_id            TEXT    PRIMARY KEY,
    state             TEXT,              -- PUBLISHED, REJECTED, UNPUBLISHED (confirmed missing); NULL unchecked
    rec_description   TEXT,
    rec_vendor        TEXT,
    rec_product       TEXT,
    rec_published     BIGINT,
    rec_updated       BIGINT,           -- cveMetadata.dateUpdated: a change triggers re-enrichment
    rec_cvss_vector   TEXT,
    rec_base_score    DOUBLE PRECISION,
    rec_base_severity TEXT,
    rec_cvss_source   TEXT,
    rec_cwe           TEXT,
    rec_refs          TEXT,              -- JSON array of URLs
    rec_kev_added     BIGINT,           -- CISA-ADP "kev" metric
    nvd_status        TEXT,
    nvd_description   TEXT,
    nvd_vendor        TEXT,
    nvd_product       TEXT,
    nvd_published     BIGINT,
    nvd_updated       BIGINT,
    nvd_cvss_vector   TEXT,
    nvd_base_score    DOUBLE PRECISION,
    nvd_base_severity TEXT,
    nvd_cwe           TEXT,
    nvd_refs          TEXT,
    nvd_kev_added     BIGINT,           -- cisaExploitAdd
    epss              DOUBLE PRECISION,
    epss_percentile   DOUBLE PRECISION,
    epss_date         BIGINT,
    kev_date_added    BIGINT,           -- from the KEV catalogue
    kev_ransomware    TEXT,
    kev_version       TEXT,
    checked_at        BIGINT,           -- last answer (record or 404) from CVE Services or an import
    next_check_at     BIGINT,
    check_failures    BIGINT NOT NULL DEFAULT 0,
    nvd_checked_at    BIGINT,
    epss_checked_at   BIGINT
);
CREATE INDEX cve_records_kev ON cve_records (kev_version);
CREATE INDEX cves_state ON cves (state);

CREATE VIEW cve_data AS
SELECT cve_id, state,
    COALESCE(rec_description, nvd_description) AS description,
    CASE WHEN rec_product IS NOT NULL THEN rec_vendor ELSE nvd_vendor END AS vendor,
    CASE WHEN rec_product IS NOT NULL THEN rec_product ELSE nvd_product END AS product,
    COALESCE(rec_published, nvd_published) AS published,
    COALESCE(rec_updated, nvd_updated) AS updated,
    CASE WHEN rec_cvss_vector IS NOT NULL THEN rec_cvss_vector ELSE nvd_cvss_vector END AS cvss_vector,
    CASE WHEN rec_cvss_vector IS NOT NULL THEN rec_base_score ELSE nvd_base_score END AS base_score,
    CASE WHEN rec_cvss_vector IS NOT NULL THEN rec_base_severity ELSE nvd_base_severity END AS base_severity,
    CASE WHEN rec_cvss_vector IS NOT NULL THEN rec_cvss_source WHEN nvd_cvss_vector IS NOT NULL THEN 'NVD' END AS cvss_source,
    COALESCE(rec_cwe, nvd_cwe) AS cwe,
    COALESCE(rec_refs, nvd_refs) AS refs,
    epss, epss_percentile, epss_date,
    CASE WHEN COALESCE(kev_date_added, rec_kev_added, nvd_kev_added) IS NOT NULL THEN 1 ELSE 0 END AS kev,
    COALESCE(kev_date_added, rec_kev_added, nvd_kev_added) AS kev_date_added,
    kev_ransomware,
    CASE WHEN state = 'PUBLISHED' THEN 1 ELSE 0 END AS verified,
    checked_at, next_check_at, check_failures, nvd_checked_at, epss_checked_at, rec_updated
FROM cve_records;

-- +goose StatementBegin
CREATE FUNCTION cves_enrich_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cve_records WHERE cve_id = NEW.cve_id) THEN
        UPDATE cves SET (description, vendor, product, published, updated, cvss_vector, base_score,
                base_severity, epss, epss_percentile, kev, state, verified) =
            (SELECT description, vendor, product, published, updated, cvss_vector, base_score,
                base_severity, epss, epss_percentile, kev, state, verified
             FROM cve_data WHERE cve_data.cve_id = NEW.cve_id)
        WHERE cve_id = NEW.cve_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER cves_enrich_on_insert AFTER INSERT ON cves
    FOR EACH ROW EXECUTE FUNCTION cves_enrich_on_insert();

-- +goose Down
DROP TRIGGER cves_enrich_on_insert ON cves;
DROP FUNCTION cves_enrich_on_insert();
DROP VIEW cve_data;
DROP INDEX cves_state;
DROP TABLE cve_records;
