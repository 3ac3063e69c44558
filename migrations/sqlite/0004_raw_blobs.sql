-- Large raw mail (>= 1 MiB) lives in its own table with the blob as the last
-- column, so SQLite writes it from zeroblob() without materialising it, and
-- mailroom streams the bytes in with incremental blob I/O (src/store/blob.rs).
CREATE TABLE raw_blobs (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    data BLOB NOT NULL
);
ALTER TABLE messages ADD COLUMN raw_blob INTEGER REFERENCES raw_blobs (id);
