-- A CVE's posts of a window (the page's columns, the CVE page, the API's
-- posts list) are a range on (cve_id, created_at). The primary key
-- (cve_id, post_id) would read every post the CVE ever had, then filter.

-- +goose Up
CREATE INDEX post_cves_cve_created ON post_cves (cve_id, created_at, post_id);

-- +goose Down
DROP INDEX post_cves_cve_created;
