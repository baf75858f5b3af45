-- Workshops (organizations), their members, mechanics, invites and the email outbox.

CREATE TYPE organization_status AS ENUM ('pending', 'active', 'rejected', 'suspended');

CREATE TABLE organizations (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                        text NOT NULL CHECK (length(btrim(name)) BETWEEN 2 AND 120),
    contact_email               text NOT NULL CHECK (length(contact_email) BETWEEN 3 AND 254),
    phone                       text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
    city                        text NOT NULL CHECK (length(btrim(city)) BETWEEN 1 AND 80),
    address                     text NOT NULL DEFAULT '' CHECK (length(address) <= 200),
    description                 text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    specialties                 text[] NOT NULL DEFAULT '{}' CHECK (cardinality(specialties) <= 20),
    status                      organization_status NOT NULL DEFAULT 'pending',
    -- Why it was rejected or suspended, shown to the owner.
    status_reason               text CHECK (length(status_reason) <= 500),
    status_changed_at           timestamptz,
    status_changed_by           uuid REFERENCES users (id),
    stripe_connect_account_id   text UNIQUE,
    stripe_onboarding_completed boolean NOT NULL DEFAULT false,
    stripe_payouts_enabled      boolean NOT NULL DEFAULT false,
    -- The fee agreement in force now; bookings freeze it (organization_fee_terms keeps history).
    platform_fee_bps            integer NOT NULL DEFAULT 2000 CHECK (platform_fee_bps BETWEEN 0 AND 10000),
    custom_fee_agreement        text CHECK (length(custom_fee_agreement) <= 500),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organizations_status_idx ON organizations (status);

-- Every fee agreement a workshop has had, so a booking uses the terms in force when it was made.
CREATE TABLE organization_fee_terms (
    id               bigserial PRIMARY KEY,
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    platform_fee_bps integer NOT NULL CHECK (platform_fee_bps BETWEEN 0 AND 10000),
    note             text CHECK (length(note) <= 500),
    effective_from   timestamptz NOT NULL DEFAULT clock_timestamp(),
    set_by           uuid REFERENCES users (id)
);
CREATE INDEX organization_fee_terms_lookup_idx ON organization_fee_terms (organization_id, effective_from DESC);

CREATE TYPE member_role AS ENUM ('owner', 'staff');

CREATE TABLE organization_members (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- A person belongs to at most one workshop.
    user_id         uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    role            member_role NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);

CREATE TYPE mechanic_account_type AS ENUM ('independent', 'workshop');
CREATE TYPE application_status AS ENUM ('pending', 'approved', 'rejected');

CREATE TABLE mechanics (
    user_id                     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    account_type                mechanic_account_type NOT NULL,
    workshop_id                 uuid REFERENCES organizations (id),
    invited_by                  uuid REFERENCES users (id),
    invite_accepted_at          timestamptz,
    auto_approved               boolean NOT NULL DEFAULT false,
    application_status          application_status NOT NULL DEFAULT 'pending',
    rejection_reason            text CHECK (length(rejection_reason) <= 500),
    reviewed_at                 timestamptz,
    reviewed_by                 uuid REFERENCES users (id),
    specialties                 text[] NOT NULL DEFAULT '{}' CHECK (cardinality(specialties) <= 20),
    years_experience            integer NOT NULL CHECK (years_experience BETWEEN 0 AND 70),
    certifications              text NOT NULL DEFAULT '' CHECK (length(certifications) <= 500),
    is_online                   boolean NOT NULL DEFAULT false,
    online_since                timestamptz,
    -- How many sessions the mechanic takes at once, and how many are running.
    capacity                    integer NOT NULL DEFAULT 1 CHECK (capacity BETWEEN 1 AND 10),
    active_sessions             integer NOT NULL DEFAULT 0 CHECK (active_sessions >= 0),
    stripe_connect_account_id   text UNIQUE,
    stripe_onboarding_completed boolean NOT NULL DEFAULT false,
    stripe_payouts_enabled      boolean NOT NULL DEFAULT false,
    -- Statistics kept up to date by the transactions that complete and rate sessions.
    sessions_completed          bigint NOT NULL DEFAULT 0,
    rating_sum                  bigint NOT NULL DEFAULT 0,
    rating_count                bigint NOT NULL DEFAULT 0,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK ((account_type = 'workshop') = (workshop_id IS NOT NULL)),
    -- Only approved mechanics can be online (and so be offered requests).
    CHECK (NOT is_online OR application_status = 'approved')
);
CREATE INDEX mechanics_workshop_idx ON mechanics (workshop_id);
CREATE INDEX mechanics_online_idx ON mechanics (workshop_id) WHERE is_online;
CREATE INDEX mechanics_pending_idx ON mechanics (created_at) WHERE application_status = 'pending';

CREATE TABLE mechanic_invites (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (email = lower(btrim(email))),
    -- SHA-256 of the random token in the link; the token itself is never stored.
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by      uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    last_sent_at    timestamptz NOT NULL DEFAULT now(),
    send_count      integer NOT NULL DEFAULT 1,
    accepted_at     timestamptz,
    accepted_by     uuid REFERENCES users (id),
    revoked_at      timestamptz,
    CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
-- At most one open invite per workshop and address: inviting again resends it.
CREATE UNIQUE INDEX mechanic_invites_open_idx ON mechanic_invites (organization_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Outgoing email. A sender delivers it over SMTP when configured; the admin
-- mailbox page shows it either way.
CREATE TABLE email_outbox (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    to_email    text NOT NULL,
    subject     text NOT NULL,
    body_text   text NOT NULL,
    kind        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    send_after  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX email_outbox_unsent_idx ON email_outbox (send_after) WHERE sent_at IS NULL;
CREATE INDEX email_outbox_created_idx ON email_outbox (created_at DESC);
