-- Sign-ups that the owner of the address confirms. A sign-up form (customer,
-- independent mechanic, workshop) answers the same whether or not the address
-- already has an account: a new address gets a link that creates the account
-- (this row, until then), a taken one gets a notice instead. Only the link's
-- SHA-256 is kept; the password is kept only as its argon2id hash.
CREATE TABLE pending_signups (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash    bytea NOT NULL UNIQUE,
    email         text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
    name          text NOT NULL,
    role          user_role NOT NULL CHECK (role IN ('customer', 'mechanic', 'workshop_member')),
    password_hash text NOT NULL,
    -- The mechanic's application or the workshop's registration, as typed.
    details       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX pending_signups_email_idx ON pending_signups (email);
