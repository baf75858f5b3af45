-- A one-time secret in an email's body (an invite's link token) is kept beside
-- it, with its hash, so that it can be removed from the stored copy once it is
-- of no more use: after SMTP delivery, or once the invite is used, revoked or
-- replaced (in mailbox mode the admin mailbox is the delivery).
ALTER TABLE email_outbox ADD COLUMN secret text, ADD COLUMN secret_hash bytea;
CREATE INDEX email_outbox_secret_hash_idx ON email_outbox (secret_hash) WHERE secret_hash IS NOT NULL;
