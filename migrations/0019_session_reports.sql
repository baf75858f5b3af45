-- The mechanic's written diagnosis of a session: a summary, likely causes,
-- whether the car is safe to drive, follow-ups, and one to ten recommended
-- repairs with their urgency and a cost range in integer cents. The customer
-- can share it with any garage through revocable links (only the SHA-256 of
-- each link's random token is kept).

CREATE TYPE repair_urgency AS ENUM ('now', 'soon', 'can_wait');
CREATE TYPE safe_to_drive AS ENUM ('yes', 'with_care', 'no');

CREATE TABLE session_reports (
    session_id    uuid PRIMARY KEY REFERENCES sessions (id),
    summary       text NOT NULL CHECK (length(btrim(summary)) BETWEEN 1 AND 2000),
    likely_causes text NOT NULL DEFAULT '' CHECK (length(likely_causes) <= 2000),
    safe_to_drive safe_to_drive NOT NULL,
    follow_ups    text NOT NULL DEFAULT '' CHECK (length(follow_ups) <= 2000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when the report was mailed to the customer (once, as the session ended).
    emailed_at    timestamptz
);

CREATE TABLE session_report_repairs (
    session_id     uuid NOT NULL REFERENCES session_reports (session_id) ON DELETE CASCADE,
    position       smallint NOT NULL CHECK (position BETWEEN 1 AND 10),
    description    text NOT NULL CHECK (length(btrim(description)) BETWEEN 1 AND 300),
    urgency        repair_urgency NOT NULL,
    cost_min_cents bigint NOT NULL,
    cost_max_cents bigint NOT NULL,
    PRIMARY KEY (session_id, position),
    CHECK (0 <= cost_min_cents AND cost_min_cents <= cost_max_cents AND cost_max_cents <= 10000000)
);

CREATE TABLE report_shares (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id  uuid NOT NULL REFERENCES session_reports (session_id),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX report_shares_session_idx ON report_shares (session_id, created_at DESC);
