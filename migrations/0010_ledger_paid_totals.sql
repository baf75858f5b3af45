-- What each ledger account has had paid out (payout entries, net of transfer
-- reversals), kept up to date by a trigger like ledger_accounts.balance_cents,
-- so the earnings panels read it without summing the account's whole history
-- (a workshop with 100,000 sessions has 100,000 postings on its payable).

CREATE TABLE ledger_account_paid (
    account_id bigint PRIMARY KEY REFERENCES ledger_accounts (id),
    paid_cents bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION ledger_track_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM journal_entries e
                WHERE e.id = NEW.entry_id AND e.kind IN ('payout', 'transfer_reversal')) THEN
        INSERT INTO ledger_account_paid (account_id, paid_cents) VALUES (NEW.account_id, NEW.amount_cents)
        ON CONFLICT (account_id) DO UPDATE SET paid_cents = ledger_account_paid.paid_cents + EXCLUDED.paid_cents;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_track_paid AFTER INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_track_paid();

INSERT INTO ledger_account_paid (account_id, paid_cents)
SELECT p.account_id, sum(p.amount_cents)::bigint
  FROM postings p JOIN journal_entries e ON e.id = p.entry_id
 WHERE e.kind IN ('payout', 'transfer_reversal')
 GROUP BY p.account_id;
