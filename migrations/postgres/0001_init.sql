-- mailroom schema, PostgreSQL flavour. Times are TIMESTAMPTZ.

CREATE TABLE tickets (
    id                 BIGSERIAL PRIMARY KEY,
    subject            TEXT NOT NULL,
    normalized_subject TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority           TEXT NOT NULL,
    area               TEXT,
    owner              TEXT,
    customer           TEXT NOT NULL,
    customer_name      TEXT,
    tags               TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    first_response_at  TIMESTAMPTZ,
    resolved_at        TIMESTAMPTZ
);
CREATE INDEX tickets_status ON tickets (status, area);
CREATE INDEX tickets_owner ON tickets (owner, status);
CREATE INDEX tickets_customer ON tickets (customer, status);

CREATE TABLE messages (
    id            BIGSERIAL PRIMARY KEY,
    ticket_id     BIGINT REFERENCES tickets (id),
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
    sent_at       TIMESTAMPTZ,
    in_reply_to   TEXT NOT NULL DEFAULT '',
    refs          TEXT NOT NULL DEFAULT '',
    text_body     TEXT NOT NULL DEFAULT '',
    html_body     TEXT,
    origin        TEXT,
    reason        TEXT,
    raw           BYTEA,                   -- NULL for outbound mail not rendered yet
    raw_codec     TEXT,                   -- NULL: raw as received; 'lz4': LZ4 block, size-prefixed
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX messages_identity ON messages (message_id, content_hash);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE attachments (
    id      BIGSERIAL PRIMARY KEY,
    sha256  TEXT NOT NULL UNIQUE,
    size    BIGINT NOT NULL,
    data    BYTEA NOT NULL
);

CREATE TABLE message_attachments (
    id            BIGSERIAL PRIMARY KEY,
    message_row   BIGINT NOT NULL REFERENCES messages (id),
    attachment_id BIGINT NOT NULL REFERENCES attachments (id),
    filename      TEXT,
    content_type  TEXT NOT NULL
);
CREATE INDEX message_attachments_message ON message_attachments (message_row);

CREATE TABLE participants (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    email     TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (ticket_id, email)
);

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT REFERENCES tickets (id),
    message_row BIGINT REFERENCES messages (id),
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_ticket ON events (ticket_id, id);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    message_row     BIGINT NOT NULL REFERENCES messages (id),
    ticket_id       BIGINT REFERENCES tickets (id),
    kind            TEXT NOT NULL,
    trigger_row     BIGINT REFERENCES messages (id), -- the inbound mail that caused it
    context         TEXT NOT NULL DEFAULT '{}',    -- JSON: what the template needs beyond the rows
    sender          TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    status          TEXT NOT NULL,       -- queued | sending | sent | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_rate ON outbox (recipients, kind, created_at);

CREATE TABLE quarantine (
    id         BIGSERIAL PRIMARY KEY,
    origin     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    sha256     TEXT NOT NULL UNIQUE,
    size       BIGINT NOT NULL,
    raw        BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE source_positions (
    source      TEXT PRIMARY KEY,
    uidvalidity BIGINT NOT NULL,
    last_uid    BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
