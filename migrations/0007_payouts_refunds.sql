-- Connect onboarding state, payout runs and payouts, refund reversals, and the
-- scheduler's job table.

-- account.updated events can arrive out of order: only a newer one is applied.
ALTER TABLE organizations ADD COLUMN stripe_account_synced_at timestamptz;
ALTER TABLE mechanics ADD COLUMN stripe_account_synced_at timestamptz;

CREATE TABLE payout_runs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trigger      text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    requested_by uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

CREATE TABLE payouts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id             uuid NOT NULL REFERENCES payout_runs (id),
    ledger_account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
    organization_id    uuid REFERENCES organizations (id),
    mechanic_id        uuid REFERENCES users (id),
    destination        text,
    amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
    currency           text NOT NULL DEFAULT 'usd',
    -- pending: to transfer; paid: transferred and in the ledger; failed: waiting
    -- for a retry (reason below); skipped: the payee cannot receive payouts yet.
    status             text NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'skipped')),
    -- Derived from the run and the payee: a retry, even after a crash, reuses it.
    idempotency_key    text NOT NULL UNIQUE,
    -- The last posting the amount covers (the balance was read with the account locked).
    through_posting_id bigint NOT NULL,
    transfer_id        text UNIQUE,
    failure_reason     text,
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    paid_at            timestamptz,
    CHECK ((organization_id IS NULL) <> (mechanic_id IS NULL)),
    CHECK ((status = 'paid') = (transfer_id IS NOT NULL AND paid_at IS NOT NULL))
);
CREATE INDEX payouts_due_idx ON payouts (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX payouts_run_idx ON payouts (run_id);
-- One open payout per payee: a new run never pays what an unfinished one covers.
CREATE UNIQUE INDEX payouts_one_open_per_account ON payouts (ledger_account_id) WHERE status IN ('pending', 'failed');

ALTER TABLE payout_allocations ADD CONSTRAINT payout_allocations_payout_fk FOREIGN KEY (payout_id) REFERENCES payouts (id);

-- A share already paid out is recovered from the payee by a transfer reversal;
-- when that fails it stays as a negative balance on their next payout.
CREATE TABLE transfer_reversals (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    refund_id           uuid NOT NULL REFERENCES refunds (id),
    payout_id           uuid NOT NULL REFERENCES payouts (id),
    ledger_account_id   bigint NOT NULL REFERENCES ledger_accounts (id),
    amount_cents        bigint NOT NULL CHECK (amount_cents > 0),
    idempotency_key     text NOT NULL UNIQUE,
    status              text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    gateway_reversal_id text UNIQUE,
    failure_reason      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz
);

ALTER TABLE refunds ADD COLUMN session_id uuid REFERENCES sessions (id);
ALTER TABLE refunds ADD COLUMN ledger_posted boolean NOT NULL DEFAULT false;

-- Recurring work, claimed with FOR UPDATE SKIP LOCKED so one instance runs it.
CREATE TABLE scheduled_jobs (
    name        text PRIMARY KEY,
    next_run_at timestamptz NOT NULL,
    last_run_at timestamptz
);
INSERT INTO scheduled_jobs (name, next_run_at)
VALUES ('payouts', date_trunc('week', now()) + interval '7 days' + interval '6 hours');
