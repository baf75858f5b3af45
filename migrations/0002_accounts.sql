-- Accounts, log-in sessions and log-in throttling.

CREATE TYPE user_role AS ENUM ('customer', 'mechanic', 'workshop_member', 'admin');

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored normalised (trimmed, lower case) by the application; checked here.
    email         text NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    role          user_role NOT NULL,
    -- argon2id PHC string.
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- Bumped on every password change: sessions that logged in before are void.
    auth_version  integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    disabled_at   timestamptz
);
CREATE INDEX users_role_idx ON users (role);

-- Which stored session belongs to whom, so a password change can end the others.
CREATE TABLE user_sessions (
    session_id text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

-- Failed log-ins per account ('account', email) and per client address ('address', ip).
CREATE TABLE login_throttle (
    scope           text NOT NULL CHECK (scope IN ('account', 'address')),
    key             text NOT NULL,
    failures        integer NOT NULL CHECK (failures >= 0),
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz,
    PRIMARY KEY (scope, key)
);
