-- Initial schema. Times are unix milliseconds (INTEGER) so the same SQL text
-- runs on SQLite and PostgreSQL; booleans are 0/1 integers for the same reason.

-- +goose Up
CREATE TABLE posts (
    id                   INTEGER PRIMARY KEY,
    uri                  TEXT    NOT NULL UNIQUE,
    url                  TEXT    NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    edited_at            INTEGER,
    language             TEXT,
    content              TEXT    NOT NULL,
    reblogs_count        INTEGER NOT NULL DEFAULT 0,
    favourites_count     INTEGER NOT NULL DEFAULT 0,
    replies_count        INTEGER NOT NULL DEFAULT 0,
    account_url          TEXT    NOT NULL,
    account_acct         TEXT    NOT NULL,
    account_display_name TEXT    NOT NULL DEFAULT '',
    account_avatar       TEXT    NOT NULL DEFAULT '',
    first_seen           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX posts_created_at ON posts (created_at);

CREATE TABLE post_cves (
    cve_id     TEXT    NOT NULL,
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (cve_id, post_id)
);
CREATE INDEX post_cves_created_at ON post_cves (created_at, cve_id, post_id);
CREATE INDEX post_cves_post_id ON post_cves (post_id);

CREATE TABLE cves (
    cve_id          TEXT    PRIMARY KEY,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    description     TEXT,
    vendor          TEXT,
    product         TEXT,
    published       INTEGER,
    updated         INTEGER,
    cvss_vector     TEXT,
    base_score      REAL,
    base_severity   TEXT,
    epss            REAL,
    epss_percentile REAL,
    kev             INTEGER NOT NULL DEFAULT 0,
    state           TEXT,
    verified        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sightings (
    instance TEXT    NOT NULL,
    local_id TEXT    NOT NULL,
    post_id  INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    feed     TEXT    NOT NULL,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (instance, local_id)
);
CREATE INDEX sightings_post_id ON sightings (post_id);

CREATE TABLE feeds (
    instance        TEXT    NOT NULL,
    feed            TEXT    NOT NULL,
    cursor          TEXT    NOT NULL DEFAULT '',
    backfill_max_id TEXT    NOT NULL DEFAULT '',
    backfill_done   INTEGER NOT NULL DEFAULT 0,
    last_success    INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_error_at   INTEGER,
    last_post_at    INTEGER,
    posts_ingested  INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (instance, feed)
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    requests     INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE feeds;
DROP TABLE sightings;
DROP TABLE cves;
DROP TABLE post_cves;
DROP TABLE posts;
