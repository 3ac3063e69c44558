-- A quarantined mail released (processed again after a fix): when, and what
-- it became. Releasing twice is refused.
ALTER TABLE quarantine ADD COLUMN released_at TEXT;
ALTER TABLE quarantine ADD COLUMN released_as TEXT;
