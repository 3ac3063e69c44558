-- A ticket's life while it waits for the customer (sla/lifecycle.rs,
-- pipeline/lifecycle_scan.rs): the end of an agent's `#pending 3d`, the last
-- relayed answer (auto-close counts from it, not from any update), and the
-- ticket a late mail's new ticket is linked to (`[lifecycle] reopen_window`).
ALTER TABLE tickets ADD COLUMN pending_until TEXT;
ALTER TABLE tickets ADD COLUMN answered_at TEXT;
ALTER TABLE tickets ADD COLUMN linked_to INTEGER REFERENCES tickets (id);
UPDATE tickets SET answered_at = (SELECT MAX(m.created_at) FROM messages m
  WHERE m.ticket_id = tickets.id AND m.kind = 'relay');
-- The scheduler's scan: pending tickets whose wait ended, or whose last
-- answer is old enough for a warning or an auto-close.
CREATE INDEX tickets_pending_until ON tickets (pending_until) WHERE pending_until IS NOT NULL;
CREATE INDEX tickets_pending_answered ON tickets (answered_at) WHERE status = 'pending';

-- One row per lifecycle action taken (the owner reminded and the ticket
-- reopened, the customer warned, the ticket closed) and the due time it was
-- for: inserted in the transaction that acts, so each happens once per
-- ticket and date across restarts and instances.
CREATE TABLE lifecycle_actions (
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    action     TEXT NOT NULL,
    due        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, action, due)
);
