-- Large raw mail lives here on SQLite (see migrations/sqlite/0004); PostgreSQL
-- keeps raw mail inline but has the same columns, so queries are shared.
CREATE TABLE raw_blobs (
    id   BIGSERIAL PRIMARY KEY,
    data BYTEA NOT NULL
);
ALTER TABLE messages ADD COLUMN raw_blob BIGINT REFERENCES raw_blobs (id);
