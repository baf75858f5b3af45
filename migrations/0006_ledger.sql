-- A double-entry ledger. Every movement of money is a journal entry whose
-- postings sum to zero (checked at commit); entries are written once (unique
-- idempotency key) and never changed. Amounts are signed cents: debits positive,
-- credits negative. A payable's balance is what is owed to its payee (negated).

CREATE TYPE ledger_account_kind AS ENUM (
    'gateway_cash',       -- asset: money held at the payment provider
    'payment_clearing',   -- liability: paid by customers, not yet earned (session not completed)
    'platform_revenue',   -- income: the platform's fees
    'workshop_payable',   -- liability: owed to one workshop
    'mechanic_payable'    -- liability: owed to one independent mechanic
);

CREATE TABLE ledger_accounts (
    id              bigserial PRIMARY KEY,
    kind            ledger_account_kind NOT NULL,
    organization_id uuid REFERENCES organizations (id),
    mechanic_id     uuid REFERENCES users (id),
    -- Kept equal to the sum of the account's postings by the trigger below, so
    -- balances are read without summing history.
    balance_cents   bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'workshop_payable') = (organization_id IS NOT NULL)),
    CHECK ((kind = 'mechanic_payable') = (mechanic_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_accounts_one_each ON ledger_accounts (kind, organization_id, mechanic_id) NULLS NOT DISTINCT;

INSERT INTO ledger_accounts (kind) VALUES ('gateway_cash'), ('payment_clearing'), ('platform_revenue');

CREATE TABLE journal_entries (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('payment', 'session_revenue', 'payout', 'refund', 'transfer_reversal')),
    -- At most one entry per cause: 'payment:<order>', 'session:<session>', 'payout:<payout>', ...
    idempotency_key text NOT NULL UNIQUE,
    order_id        uuid REFERENCES orders (id),
    session_id      uuid REFERENCES sessions (id),
    memo            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_order_idx ON journal_entries (order_id);

CREATE TABLE postings (
    id           bigserial PRIMARY KEY,
    entry_id     bigint NOT NULL REFERENCES journal_entries (id),
    account_id   bigint NOT NULL REFERENCES ledger_accounts (id),
    amount_cents bigint NOT NULL CHECK (amount_cents <> 0),
    -- For earnings: what this posting is a share of, and which session.
    share_kind   text CHECK (share_kind IN ('platform_fee', 'workshop_service', 'mechanic_service', 'referral')),
    session_id   uuid REFERENCES sessions (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX postings_entry_idx ON postings (entry_id);
CREATE INDEX postings_account_time_idx ON postings (account_id, created_at DESC, id DESC);
CREATE INDEX postings_session_idx ON postings (session_id) WHERE session_id IS NOT NULL;

-- Daily totals per account, for charts and reports that must not scan history.
CREATE TABLE ledger_daily (
    account_id    bigint NOT NULL REFERENCES ledger_accounts (id),
    day           date NOT NULL,
    debits_cents  bigint NOT NULL DEFAULT 0,
    credits_cents bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);

-- Every entry balances: checked when the transaction commits, after all its postings are in.
CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    lines integer;
BEGIN
    SELECT coalesce(sum(amount_cents), 0), count(*) INTO total, lines FROM postings WHERE entry_id = NEW.entry_id;
    IF total <> 0 OR lines < 2 THEN
        RAISE EXCEPTION 'journal entry % is not balanced (sum %, % postings)', NEW.entry_id, total, lines
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();

-- Balances and daily totals follow every posting in the same transaction.
CREATE FUNCTION ledger_apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger_accounts SET balance_cents = balance_cents + NEW.amount_cents WHERE id = NEW.account_id;
    INSERT INTO ledger_daily (account_id, day, debits_cents, credits_cents)
    VALUES (NEW.account_id, (NEW.created_at AT TIME ZONE 'UTC')::date,
            greatest(NEW.amount_cents, 0), greatest(-NEW.amount_cents, 0))
    ON CONFLICT (account_id, day) DO UPDATE SET
        debits_cents = ledger_daily.debits_cents + EXCLUDED.debits_cents,
        credits_cents = ledger_daily.credits_cents + EXCLUDED.credits_cents;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_apply AFTER INSERT ON postings FOR EACH ROW EXECUTE FUNCTION ledger_apply_posting();

-- The ledger is append-only: corrections are new entries.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Which payout paid out which earning (issue: payouts). An earning without a row
-- here is pending.
CREATE TABLE payout_allocations (
    posting_id bigint PRIMARY KEY REFERENCES postings (id),
    payout_id  uuid NOT NULL
);

-- The seed's earnings tables, derived from the ledger: one row per share of a
-- completed session credited to a workshop or an independent mechanic.
CREATE VIEW workshop_earnings AS
SELECT p.id,
       a.organization_id                                   AS workshop_id,
       p.session_id,
       s.mechanic_id,
       o.plan_code,
       o.plan_name,
       o.amount_paid_cents                                 AS gross_amount_cents,
       coalesce((SELECT -pf.amount_cents FROM postings pf
                  WHERE pf.entry_id = p.entry_id AND pf.share_kind = 'platform_fee'), 0) AS platform_fee_cents,
       CASE WHEN p.share_kind = 'referral' THEN 0
            ELSE coalesce((SELECT -rf.amount_cents FROM postings rf
                            WHERE rf.entry_id = p.entry_id AND rf.share_kind = 'referral'), 0) END AS referral_fee_cents,
       -p.amount_cents                                     AS workshop_net_cents,
       p.share_kind,
       CASE WHEN pa.payout_id IS NULL THEN 'pending' ELSE 'paid' END AS payout_status,
       pa.payout_id,
       p.created_at
  FROM postings p
  JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'workshop_payable'
  JOIN journal_entries e ON e.id = p.entry_id AND e.kind = 'session_revenue'
  JOIN sessions s ON s.id = p.session_id
  JOIN orders o ON o.id = e.order_id
  LEFT JOIN payout_allocations pa ON pa.posting_id = p.id;

CREATE VIEW mechanic_earnings AS
SELECT p.id,
       s.mechanic_id,
       s.workshop_id,
       p.session_id,
       o.plan_code,
       o.amount_paid_cents                                 AS gross_amount_cents,
       coalesce((SELECT -pf.amount_cents FROM postings pf
                  WHERE pf.entry_id = p.entry_id AND pf.share_kind = 'platform_fee'), 0) AS platform_fee_cents,
       coalesce((SELECT -rf.amount_cents FROM postings rf
                  WHERE rf.entry_id = p.entry_id AND rf.share_kind = 'referral'), 0) AS workshop_fee_cents,
       -p.amount_cents                                     AS mechanic_net_cents,
       CASE WHEN pa.payout_id IS NULL THEN 'pending' ELSE 'paid' END AS payout_status,
       pa.payout_id,
       p.created_at
  FROM postings p
  JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'mechanic_payable'
  JOIN journal_entries e ON e.id = p.entry_id AND e.kind = 'session_revenue'
  JOIN sessions s ON s.id = p.session_id
  JOIN orders o ON o.id = e.order_id
  LEFT JOIN payout_allocations pa ON pa.posting_id = p.id;

CREATE VIEW workshop_earnings_summary AS
SELECT workshop_id,
       count(*)                                                          AS sessions,
       sum(workshop_net_cents)::bigint                                   AS lifetime_cents,
       (sum(workshop_net_cents) FILTER (WHERE payout_status = 'pending'))::bigint AS pending_cents,
       (sum(workshop_net_cents) FILTER (WHERE payout_status = 'paid'))::bigint AS paid_cents
  FROM workshop_earnings GROUP BY workshop_id;

CREATE VIEW mechanic_earnings_summary AS
SELECT mechanic_id,
       count(*)                                                          AS sessions,
       sum(mechanic_net_cents)::bigint                                   AS lifetime_cents,
       (sum(mechanic_net_cents) FILTER (WHERE payout_status = 'pending'))::bigint AS pending_cents,
       (sum(mechanic_net_cents) FILTER (WHERE payout_status = 'paid'))::bigint AS paid_cents
  FROM mechanic_earnings GROUP BY mechanic_id;
