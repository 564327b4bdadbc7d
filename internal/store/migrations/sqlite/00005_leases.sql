-- Leases split ingestion work between processes: a named piece of work (one
-- instance's feeds, the enrichment queue) belongs to one holder until its
-- lease expires, so a dead process's work moves on within one lease period.

-- +goose Up
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE leases;
