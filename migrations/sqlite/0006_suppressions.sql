-- Staff addresses whose mail bounced: mailroom sends them nothing until `suppressed_until`
-- (a bounce of a notification must never cause another mail to that address).
CREATE TABLE mail_suppressions (
    address    TEXT PRIMARY KEY,
    suppressed_until TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
