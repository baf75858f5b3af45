-- Notifications and editable profiles.
--
-- Each notification is written to the outbox under a key naming its kind, its
-- event and its recipient: a retried webhook, a second instance or a replayed
-- job inserts nothing the second time (ON CONFLICT DO NOTHING). Messages carry
-- an HTML part beside the text, and the one-click unsubscribe link of their
-- recipient (its address goes into the List-Unsubscribe header).
ALTER TABLE email_outbox
    ADD COLUMN dedupe_key      text CHECK (length(dedupe_key) <= 300),
    ADD COLUMN body_html       text,
    ADD COLUMN unsubscribe_url text CHECK (length(unsubscribe_url) <= 500);
CREATE UNIQUE INDEX email_outbox_dedupe_key_idx ON email_outbox (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- Whether the person accepts non-essential mail (receipts and account mail always go).
ALTER TABLE users ADD COLUMN optional_mail boolean NOT NULL DEFAULT true;

-- One-click unsubscribe links: 256 random bits in the link, only their SHA-256
-- here; each link works once.
CREATE TABLE mail_unsubscribe_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at    timestamptz
);
CREATE INDEX mail_unsubscribe_tokens_user_idx ON mail_unsubscribe_tokens (user_id);

-- The mechanic's own words on their profile.
ALTER TABLE mechanics ADD COLUMN bio text NOT NULL DEFAULT '' CHECK (length(bio) <= 1000);
