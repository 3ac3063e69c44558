-- Satisfaction by reply (pipeline/apply/rating.rs): the customer's latest
-- answer to the satisfaction question sent when a ticket was resolved
-- (`[lifecycle] satisfaction`): a score from 1 to 5, their comment and when
-- it arrived. A later rating replaces it.
ALTER TABLE tickets ADD COLUMN satisfaction_score INTEGER;
ALTER TABLE tickets ADD COLUMN satisfaction_comment TEXT;
ALTER TABLE tickets ADD COLUMN satisfaction_at TEXT;
-- Digests and `stats` count the ratings given in their window.
CREATE INDEX tickets_satisfaction_at ON tickets (satisfaction_at) WHERE satisfaction_at IS NOT NULL;
