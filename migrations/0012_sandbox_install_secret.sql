-- The sandbox's webhook signing secret: one per install, made at random at the
-- first start and kept here, so every app instance on this database agrees and
-- no install shares a secret with another (the old default was published).
CREATE TABLE sandbox_install (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    webhook_secret text NOT NULL CHECK (webhook_secret LIKE 'whsec_%' AND length(webhook_secret) >= 38),
    created_at timestamptz NOT NULL DEFAULT now()
);
