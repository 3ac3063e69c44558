-- Round-robin position per area (index into the area's roster), kept across restarts.
CREATE TABLE assignment_cursors (
    area       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
