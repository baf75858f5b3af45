-- Foundation: the session store used by tower-sessions and the plan catalog.

-- tower-sessions-sqlx-store keeps sessions here (its own migrate() is not used:
-- schema changes happen only through these files).
CREATE SCHEMA IF NOT EXISTS tower_sessions;
CREATE TABLE IF NOT EXISTS tower_sessions.session (
    id text PRIMARY KEY NOT NULL,
    data bytea NOT NULL,
    expiry_date timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS session_expiry_idx ON tower_sessions.session (expiry_date);

CREATE TABLE plans (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z0-9_-]{2,32}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    price_cents bigint NOT NULL CHECK (price_cents > 0 AND price_cents <= 10000000),
    currency    text NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    minutes     integer NOT NULL CHECK (minutes BETWEEN 1 AND 480),
    active      boolean NOT NULL DEFAULT true,
    sort_order  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
