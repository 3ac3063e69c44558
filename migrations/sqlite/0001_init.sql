-- mailroom schema, SQLite flavour. Times are UTC (sqlx stores them as text).

CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    subject            TEXT NOT NULL,
    normalized_subject TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority           TEXT NOT NULL,
    area               TEXT,
    owner              TEXT,
    customer           TEXT NOT NULL,
    customer_name      TEXT,
    tags               TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    first_response_at  TEXT,
    resolved_at        TEXT
);
CREATE INDEX tickets_status ON tickets (status, area);
CREATE INDEX tickets_owner ON tickets (owner, status);
CREATE INDEX tickets_customer ON tickets (customer, status);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id     INTEGER REFERENCES tickets (id),
    direction     TEXT NOT NULL,          -- in | out
    kind          TEXT NOT NULL,          -- customer | agent | note | ack | notification | system | bounce | autoreply | ignored
    message_id    TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    from_addr     TEXT NOT NULL,
    from_name     TEXT,
    to_addrs      TEXT NOT NULL DEFAULT '',
    cc_addrs      TEXT NOT NULL DEFAULT '',
    recipient     TEXT,                   -- the agent a notification was sent to
    subject       TEXT NOT NULL DEFAULT '',
    sent_at       TEXT,
    in_reply_to   TEXT NOT NULL DEFAULT '',
    refs          TEXT NOT NULL DEFAULT '',
    text_body     TEXT NOT NULL DEFAULT '',
    html_body     TEXT,
    origin        TEXT,
    reason        TEXT,
    raw           BLOB,                   -- NULL for outbound mail not rendered yet
    raw_codec     TEXT,                   -- NULL: raw as received; 'lz4': LZ4 block, size-prefixed
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_identity ON messages (message_id, content_hash);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE attachments (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256  TEXT NOT NULL UNIQUE,
    size    INTEGER NOT NULL,
    data    BLOB NOT NULL
);

CREATE TABLE message_attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row   INTEGER NOT NULL REFERENCES messages (id),
    attachment_id INTEGER NOT NULL REFERENCES attachments (id),
    filename      TEXT,
    content_type  TEXT NOT NULL
);
CREATE INDEX message_attachments_message ON message_attachments (message_row);

CREATE TABLE participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    email     TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (ticket_id, email)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER REFERENCES tickets (id),
    message_row INTEGER REFERENCES messages (id),
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row     INTEGER NOT NULL REFERENCES messages (id),
    ticket_id       INTEGER REFERENCES tickets (id),
    kind            TEXT NOT NULL,
    trigger_row     INTEGER REFERENCES messages (id), -- the inbound mail that caused it
    context         TEXT NOT NULL DEFAULT '{}',    -- JSON: what the template needs beyond the rows
    sender          TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    status          TEXT NOT NULL,       -- queued | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_rate ON outbox (recipients, kind, created_at);

CREATE TABLE quarantine (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    origin     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    sha256     TEXT NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    raw        BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE source_positions (
    source      TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
