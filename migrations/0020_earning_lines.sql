-- Earnings rows that add up to the totals above them, refunds included.
--
-- payable_lines has one row per posting on a workshop's or independent
-- mechanic's payable, apart from the payouts themselves: the session shares
-- (credits), the refunds taken back from those shares (debits), and the transfer
-- reversals that recovered an already paid-out share. Each row says what it did
-- to the three totals of the earnings panel:
--   net_cents      to the lifetime total (earned net of refunds; a reversal
--                  moves money between paid and pending and nets to 0);
--   pending_cents  to what is owed and not paid out yet (the balance);
--   paid_cents     to what was paid out, net of reversals.
-- A line is covered by the first paid payout of its account whose
-- through_posting_id reaches it: that payout carried it (or netted it) out.
-- So, per account: sum(pending_cents) = -balance_cents,
-- sum(paid_cents) = ledger_account_paid.paid_cents, and
-- sum(net_cents) = their sum (checked by `autodoctor check`).

CREATE INDEX payouts_paid_through_idx ON payouts (ledger_account_id, through_posting_id) WHERE status = 'paid';

CREATE VIEW payable_lines AS
SELECT p.id                                  AS posting_id,
       p.entry_id,
       p.account_id,
       a.kind                                AS account_kind,
       a.organization_id,
       a.mechanic_id                         AS payee_mechanic_id,
       e.kind                                AS entry_kind,
       coalesce(p.share_kind, CASE WHEN e.kind = 'transfer_reversal' THEN 'reversal' END) AS line_kind,
       coalesce(p.session_id, e.session_id)  AS session_id,
       p.created_at,
       CASE WHEN e.kind = 'transfer_reversal' THEN 0 ELSE -p.amount_cents END AS net_cents,
       CASE WHEN cov.id IS NULL THEN -p.amount_cents ELSE 0 END AS pending_cents,
       CASE WHEN cov.id IS NULL THEN 0 ELSE -p.amount_cents END
         + CASE WHEN e.kind = 'transfer_reversal' THEN p.amount_cents ELSE 0 END AS paid_cents,
       cov.id                                AS payout_id,
       cov.paid_at,
       cov.transfer_id
  FROM postings p
  JOIN ledger_accounts a ON a.id = p.account_id AND a.kind IN ('workshop_payable', 'mechanic_payable')
  JOIN journal_entries e ON e.id = p.entry_id AND e.kind <> 'payout'
  LEFT JOIN LATERAL (
       SELECT po.id, po.paid_at, po.transfer_id FROM payouts po
        WHERE po.ledger_account_id = p.account_id AND po.status = 'paid' AND po.through_posting_id >= p.id
        ORDER BY po.through_posting_id LIMIT 1) cov ON true;

-- The seed's earnings views, now from payable_lines: refunds and reversals are
-- rows of their own, and the summaries equal the panel's totals.
DROP VIEW workshop_earnings_summary;
DROP VIEW mechanic_earnings_summary;
DROP VIEW workshop_earnings;
DROP VIEW mechanic_earnings;

CREATE VIEW workshop_earnings AS
SELECT l.posting_id                          AS id,
       l.organization_id                     AS workshop_id,
       l.session_id,
       s.mechanic_id,
       o.plan_code,
       o.plan_name,
       CASE l.entry_kind WHEN 'session_revenue' THEN o.amount_paid_cents
            WHEN 'refund' THEN (SELECT gc.amount_cents FROM postings gc JOIN ledger_accounts ga ON ga.id = gc.account_id
                                 WHERE gc.entry_id = l.entry_id AND ga.kind = 'gateway_cash')
            ELSE 0 END                       AS gross_amount_cents,
       coalesce((SELECT -pf.amount_cents FROM postings pf
                  WHERE pf.entry_id = l.entry_id AND pf.share_kind = 'platform_fee'), 0) AS platform_fee_cents,
       CASE WHEN l.line_kind IN ('referral', 'reversal') THEN 0
            ELSE coalesce((SELECT -rf.amount_cents FROM postings rf
                            WHERE rf.entry_id = l.entry_id AND rf.share_kind = 'referral'), 0) END AS referral_fee_cents,
       l.net_cents                           AS workshop_net_cents,
       l.line_kind                           AS share_kind,
       l.entry_kind,
       CASE WHEN l.payout_id IS NULL THEN 'pending' ELSE 'paid' END AS payout_status,
       l.payout_id,
       l.pending_cents,
       l.paid_cents,
       l.created_at
  FROM payable_lines l
  JOIN sessions s ON s.id = l.session_id
  JOIN orders o ON o.id = s.order_id
 WHERE l.account_kind = 'workshop_payable';

CREATE VIEW mechanic_earnings AS
SELECT l.posting_id                          AS id,
       l.payee_mechanic_id                   AS mechanic_id,
       s.workshop_id,
       l.session_id,
       o.plan_code,
       CASE l.entry_kind WHEN 'session_revenue' THEN o.amount_paid_cents
            WHEN 'refund' THEN (SELECT gc.amount_cents FROM postings gc JOIN ledger_accounts ga ON ga.id = gc.account_id
                                 WHERE gc.entry_id = l.entry_id AND ga.kind = 'gateway_cash')
            ELSE 0 END                       AS gross_amount_cents,
       coalesce((SELECT -pf.amount_cents FROM postings pf
                  WHERE pf.entry_id = l.entry_id AND pf.share_kind = 'platform_fee'), 0) AS platform_fee_cents,
       coalesce((SELECT -rf.amount_cents FROM postings rf
                  WHERE rf.entry_id = l.entry_id AND rf.share_kind = 'referral'), 0) AS workshop_fee_cents,
       l.net_cents                           AS mechanic_net_cents,
       l.line_kind                           AS share_kind,
       l.entry_kind,
       CASE WHEN l.payout_id IS NULL THEN 'pending' ELSE 'paid' END AS payout_status,
       l.payout_id,
       l.pending_cents,
       l.paid_cents,
       l.created_at
  FROM payable_lines l
  JOIN sessions s ON s.id = l.session_id
  JOIN orders o ON o.id = s.order_id
 WHERE l.account_kind = 'mechanic_payable';

CREATE VIEW workshop_earnings_summary AS
SELECT workshop_id,
       count(*) FILTER (WHERE entry_kind = 'session_revenue') AS sessions,
       sum(workshop_net_cents)::bigint                        AS lifetime_cents,
       sum(pending_cents)::bigint                             AS pending_cents,
       sum(paid_cents)::bigint                                AS paid_cents
  FROM workshop_earnings GROUP BY workshop_id;

CREATE VIEW mechanic_earnings_summary AS
SELECT mechanic_id,
       count(*) FILTER (WHERE entry_kind = 'session_revenue') AS sessions,
       sum(mechanic_net_cents)::bigint                        AS lifetime_cents,
       sum(pending_cents)::bigint                             AS pending_cents,
       sum(paid_cents)::bigint                                AS paid_cents
  FROM mechanic_earnings GROUP BY mechanic_id;
