-- Outlook's conversation index of inbound mail (Thread-Index): a relay to the
-- customer extends the index of the mail it answers.
ALTER TABLE messages ADD COLUMN thread_index TEXT;
