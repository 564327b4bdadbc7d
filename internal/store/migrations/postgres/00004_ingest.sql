-- Deletes and count refresh (PostgreSQL twin of the SQLite migration). A tombstone keeps a deleted post's uri (and
-- nothing of its content) so that no instance or feed can bring it back; the
-- refresh columns drive the decaying count-refresh schedule.

-- +goose Up
CREATE TABLE tombstones (
    uri        TEXT    PRIMARY KEY,
    deleted_at BIGINT  NOT NULL,
    reason     TEXT    NOT NULL DEFAULT ''
);
ALTER TABLE posts ADD COLUMN next_refresh_at BIGINT;
ALTER TABLE posts ADD COLUMN refresh_step BIGINT  NOT NULL DEFAULT 0;
CREATE INDEX posts_next_refresh_at ON posts (next_refresh_at);
-- Posts stored before this migration join the schedule at its first step.
UPDATE posts SET next_refresh_at = updated_at + 300000;

-- +goose Down
DROP INDEX posts_next_refresh_at;
ALTER TABLE posts DROP COLUMN refresh_step;
ALTER TABLE posts DROP COLUMN next_refresh_at;
DROP TABLE tombstones;
