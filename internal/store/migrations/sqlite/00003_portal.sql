-- The developer portal: accounts, their server-side sessions, and API keys owned by accounts.
-- Keys made with the admin CLI have no owner (user_id NULL). Also indexes for the API's posts route and the incremental ranking.

-- +goose Up
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Only the SHA-256 of a session token is stored: a leaked database does not log anyone in.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

ALTER TABLE api_keys ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX api_keys_user_id ON api_keys (user_id);
-- Keys are found by their clear prefix, then their hashes compared in constant time.
CREATE INDEX api_keys_prefix ON api_keys (prefix);

-- A CVE's posts in a window (the API's posts route) are found by (cve_id, created_at), not by scanning
-- every post that ever mentioned the CVE.
CREATE INDEX post_cves_cve_created_at ON post_cves (cve_id, created_at);
-- The ranking keeps mentions in memory and reads only the posts changed since its last refresh.
CREATE INDEX posts_updated_at ON posts (updated_at);

-- +goose Down
DROP INDEX posts_updated_at;
DROP INDEX post_cves_cve_created_at;
DROP INDEX api_keys_prefix;
DROP INDEX api_keys_user_id;
ALTER TABLE api_keys DROP COLUMN user_id;
DROP TABLE sessions;
DROP TABLE users;
