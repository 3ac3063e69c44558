-- Per-recipient results of outgoing mail (outbound/worker.rs): who got it,
-- who was refused and why (JSON: address, code, text, permanent), and when
-- the first recipient got it. A mail temporarily refused for some recipients
-- is retried for those only.
ALTER TABLE outbox ADD COLUMN delivered_to TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN refused TEXT NOT NULL DEFAULT '[]';
ALTER TABLE outbox ADD COLUMN delivered_at TIMESTAMPTZ;
-- What the pipeline has made of a relay's result (pipeline/relay_result.rs):
-- its delivery (first response, SLA clock) and its final result (refusals,
-- nobody reached). Relays only; rows sent or failed before this migration
-- count as reported.
ALTER TABLE outbox ADD COLUMN delivery_reported_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN reported_at TIMESTAMPTZ;
UPDATE outbox SET delivered_to = recipients, delivered_at = sent_at WHERE status = 'sent';
UPDATE outbox SET delivery_reported_at = sent_at, reported_at = COALESCE(sent_at, created_at)
  WHERE status IN ('sent', 'failed');
-- Partial: only relays not yet reported, so the step after every flush reads
-- a handful of index entries, never the outbox table.
CREATE INDEX outbox_relay_unreported ON outbox (id) WHERE kind = 'relay' AND reported_at IS NULL;
