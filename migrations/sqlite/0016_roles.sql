-- Who wrote each inbound mail on its ticket (DESIGN §5, src/tickets/roles.rs):
-- customer, participant, owner, colleague, third_party or system.
ALTER TABLE messages ADD COLUMN role TEXT;
-- The tag of the Reply-To address of a mail to an agent (support+<tag>@…):
-- an answer proves it is that agent's only when it comes back through it.
ALTER TABLE messages ADD COLUMN reply_token TEXT;

-- Mail stored before roles existed: bounces and auto-replies are the
-- system's; agents' replies and notes the owner's (or a colleague's, when
-- someone else owns the ticket now); customer mail the customer's when it
-- came from the ticket's customer, else a participant's.
UPDATE messages SET role = 'system'
 WHERE direction = 'in' AND kind IN ('bounce', 'autoreply');
UPDATE messages SET role = CASE
        WHEN from_addr = (SELECT owner FROM tickets t WHERE t.id = messages.ticket_id) THEN 'owner'
        ELSE 'colleague' END
 WHERE direction = 'in' AND kind IN ('agent', 'note') AND ticket_id IS NOT NULL;
UPDATE messages SET role = CASE
        WHEN from_addr = (SELECT customer FROM tickets t WHERE t.id = messages.ticket_id) THEN 'customer'
        ELSE 'participant' END
 WHERE direction = 'in' AND kind = 'customer' AND ticket_id IS NOT NULL;
