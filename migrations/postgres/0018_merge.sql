-- Merged tickets (tickets/merge.rs): a ticket merged into another keeps its
-- row with status 'merged' and the ticket it went to, so its number stays an
-- alias of that ticket (mail tagged [MR-15] lands on MR-12). Merging into a
-- ticket that others were merged into points those at the new end, so an
-- alias is always one step from the ticket that lives.
ALTER TABLE tickets ADD COLUMN merged_into BIGINT REFERENCES tickets (id);
CREATE INDEX tickets_merged_into ON tickets (merged_into) WHERE merged_into IS NOT NULL;
