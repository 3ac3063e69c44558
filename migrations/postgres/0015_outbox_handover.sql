-- When a mail's final dot was about to go to the SMTP server (outbound/
-- handover.rs). A row still 'sending' with this set whose sender died is
-- marked sent, not sent again: the server may well have queued it.
ALTER TABLE outbox ADD COLUMN handed_over_at TIMESTAMPTZ;
