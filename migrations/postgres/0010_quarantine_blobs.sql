-- Big quarantined mail on SQLite lives in raw_blobs (streamed in and out, like
-- big messages); its quarantine row then holds an empty raw.
ALTER TABLE quarantine ADD COLUMN raw_blob INTEGER REFERENCES raw_blobs (id);
