-- What a person sees in an inbound mail (sender, date, subject, decoded text,
-- attachments): with the Message-ID it recognises a copy a relay re-encoded.
ALTER TABLE messages ADD COLUMN text_hash TEXT;
