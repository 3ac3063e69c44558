-- `tickets list --status open --limit 50` walks this index in ticket order and
-- stops after 50; with (status, area) it read every open ticket and sorted them
-- (the cost grew with the backlog). Nothing needed (status, area): no query
-- filters on an exact area and status together without a better index.
DROP INDEX tickets_status;
CREATE INDEX tickets_status ON tickets (status, id);
