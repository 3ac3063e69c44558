-- SLA clocks (DESIGN §9, src/sla): the due times a ticket's policy gives,
-- what they run from, and the next instant the scheduler must look at it
-- (a warning at 80 % of a target, a breach, or the next opening of the
-- business hours to mail one). One indexed column makes the scan cheap.
ALTER TABLE tickets ADD COLUMN first_response_due TEXT;
ALTER TABLE tickets ADD COLUMN next_response_due TEXT;
ALTER TABLE tickets ADD COLUMN resolution_due TEXT;
-- The customer's oldest follow-up not answered yet (the next-response clock).
ALTER TABLE tickets ADD COLUMN waiting_since TEXT;
-- While pending (waiting for the customer) the resolution clock pauses.
ALTER TABLE tickets ADD COLUMN pending_since TEXT;
ALTER TABLE tickets ADD COLUMN sla_paused_secs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_next_check TEXT;
CREATE INDEX tickets_sla_next_check ON tickets (sla_next_check);
-- Breached tickets per target (/metrics, lists) without a scan.
CREATE INDEX tickets_first_response_due ON tickets (first_response_due);
CREATE INDEX tickets_next_response_due ON tickets (next_response_due);
CREATE INDEX tickets_resolution_due ON tickets (resolution_due);

-- One row per alert ever decided: a warning or a breach of one target of one
-- ticket's clock (`due` tells the cycles of next_response apart). Inserted
-- in the transaction that queues the mail, so it is sent once across
-- restarts and instances.
CREATE TABLE sla_alerts (
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    target     TEXT NOT NULL,
    level      TEXT NOT NULL,
    due        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, target, level, due)
);

-- Every status change, for the digests (reopened, resolved in a period).
CREATE TABLE status_changes (
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX status_changes_at ON status_changes (at);

-- One digest per manager and period, across restarts and instances.
CREATE TABLE digests_sent (
    manager      TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    message_row  INTEGER,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (manager, period_start)
);
