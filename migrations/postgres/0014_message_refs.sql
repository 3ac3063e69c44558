-- The Message-IDs each stored customer mail refers to (In-Reply-To and
-- References). A first mail that arrives after a follow-up to it (the
-- follow-up came in through another mailbox first) finds the follow-up's
-- ticket here instead of opening a second one.
CREATE TABLE message_refs (
    ref_id      TEXT NOT NULL,
    message_row BIGINT NOT NULL REFERENCES messages (id)
);
CREATE INDEX message_refs_ref ON message_refs (ref_id);
