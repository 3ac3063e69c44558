-- Each claim of an outbox row carries a unique token; a worker can mark a row
-- sent or failed only with its own token, so one whose lease ran out never
-- overwrites the result of the worker that took the row over.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
