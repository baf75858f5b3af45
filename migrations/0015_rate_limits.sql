-- Per-hour counters of costly actions (sign-ups, applications, workshop
-- registrations, invites, checkouts), per client address and per account, so
-- that every app instance enforces the same limits.
CREATE TABLE rate_limits (
    bucket       text NOT NULL,
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (bucket, key)
);
