//! The consistency query suite: invariants that must hold after anything, a crash
//! included. Used by `autodoctor check`, the reconciliation report and the fault
//! and soak tests. Each problem is a sentence; an empty list means consistent.

use sqlx::PgPool;

/// Defines `check` from the table below: each entry is (what is wrong, a query
/// returning one text row per offending record), compile-checked and run in
/// order; an entry marked `runtime` is run unchecked (its reason is beside it).
macro_rules! checks {
    ($(($what:literal, $sql:literal $(, $kind:ident)? $(,)?)),* $(,)?) => {
        /// Runs every check; answers the problems found (empty: consistent).
        pub async fn check(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
            let mut problems = crate::ledger::check_consistency(pool).await?;
            $(
                let offenders: Vec<String> = offenders!(pool, $sql $(, $kind)?);
                report(&mut problems, $what, &offenders);
            )*
            Ok(problems)
        }
    };
}

/// The ids one check finds.
macro_rules! offenders {
    // The ids are never null (`id::text` of a key), though the type says Option.
    ($pool:ident, $sql:literal) => {
        sqlx::query_scalar!($sql).fetch_all($pool).await?.into_iter().flatten().collect()
    };
    ($pool:ident, $sql:literal, runtime) => {
        sqlx::query_scalar($sql).fetch_all($pool).await?
    };
}

/// At most 20 offenders of one check by id, then how many more.
fn report(problems: &mut Vec<String>, what: &str, offenders: &[String]) {
    for id in offenders.iter().take(20) {
        problems.push(format!("{what}: {id}"));
    }
    if offenders.len() > 20 {
        problems.push(format!("{what}: and {} more", offenders.len() - 20));
    }
}

checks! {
    (
        "paid order whose payment differs from the price of what was bought",
        "SELECT o.id::text FROM orders o
          WHERE o.status IN ('paid', 'refunded', 'partially_refunded')
            AND (o.amount_paid_cents IS DISTINCT FROM o.amount_cents)",
    ),
    (
        "held order (payment did not match) with a session request or a ledger entry, or without its reason",
        "SELECT o.id::text FROM orders o
          WHERE o.status = 'held'
            AND (EXISTS (SELECT 1 FROM session_requests r WHERE r.order_id = o.id)
                 OR EXISTS (SELECT 1 FROM journal_entries e WHERE e.order_id = o.id)
                 OR o.held_reason IS NULL)",
    ),
    (
        "order never paid with a payment recorded or in the ledger",
        "SELECT o.id::text FROM orders o
          WHERE o.status IN ('awaiting_payment', 'cancelled')
            AND (o.amount_paid_cents IS NOT NULL
                 OR EXISTS (SELECT 1 FROM journal_entries e WHERE e.order_id = o.id))",
    ),
    (
        // A refund in full withdraws an unserved request (an expired one could be
        // widened again) and is refused while a session is under way.
        "fully refunded order with a live request or an open session",
        "SELECT o.id::text FROM orders o
          WHERE o.status = 'refunded'
            AND (EXISTS (SELECT 1 FROM session_requests r WHERE r.order_id = o.id AND r.status IN ('pending', 'expired'))
                 OR EXISTS (SELECT 1 FROM sessions s WHERE s.order_id = o.id AND s.status IN ('accepted', 'active')))",
    ),
    (
        // Ending a session needs its report. Sessions that ended before the reports
        // existed (migration 19) have none, and are not counted.
        "completed session without its diagnosis report",
        "SELECT s.id::text FROM sessions s
          WHERE s.status = 'completed'
            AND NOT EXISTS (SELECT 1 FROM session_reports r WHERE r.session_id = s.id)
            AND s.ended_at >= coalesce((SELECT installed_on FROM _sqlx_migrations WHERE version = 19), '-infinity')",
        // Runtime SQL: `_sqlx_migrations` is made by the migrator at start-up, not
        // by migrations/, so the offline data cannot see it.
        runtime
    ),
    (
        // Every open stream confirms its log-in at least every 10 s (migration 27),
        // and ends when the log-in does; a row not confirmed for 45 s is a dead
        // instance's. So a live row with its log-in gone must not have been
        // confirmed after the log-in ended (2 s allows for a confirmation racing
        // the end), nor be left 20 s after its last confirmation: by then the
        // stream should have re-checked and closed. The log-in is judged here
        // from the tables, not by the code the streams ask.
        "live stream whose log-in has ended",
        "SELECT ls.stream_id::text FROM live_streams ls
           JOIN users u ON u.id = ls.user_id
           LEFT JOIN user_sessions us ON us.session_id = ls.login_id AND us.user_id = ls.user_id
           LEFT JOIN tower_sessions.session ts ON ts.id = ls.login_id
          CROSS JOIN LATERAL (SELECT least(ls.login_ended_at, u.disabled_at,
                                           CASE WHEN ts.expiry_date <= now() THEN ts.expiry_date END) AS at) ended
          WHERE (us.session_id IS NULL OR ts.id IS NULL OR ts.expiry_date <= now() OR u.disabled_at IS NOT NULL)
            AND ls.confirmed_at > now() - interval '45 seconds'
            AND (ls.confirmed_at > ended.at + interval '2 seconds' OR ls.confirmed_at < now() - interval '20 seconds')",
        // Runtime SQL: `tower_sessions.session` is made by the session store at
        // start-up, not by migrations/, so the offline data cannot see it.
        runtime
    ),
    (
        // The earnings panels' rows (payable_lines, migration 20) add up to the
        // totals above them: pending to the balance, paid to what was paid out.
        "payee whose earnings rows do not add up to their pending or paid-out total",
        "SELECT a.id::text FROM ledger_accounts a
          WHERE a.kind IN ('workshop_payable', 'mechanic_payable')
            AND ((SELECT coalesce(sum(l.pending_cents), 0) FROM payable_lines l WHERE l.account_id = a.id) <> -a.balance_cents
                 OR (SELECT coalesce(sum(l.paid_cents), 0) FROM payable_lines l WHERE l.account_id = a.id)
                    <> coalesce((SELECT t.paid_cents FROM ledger_account_paid t WHERE t.account_id = a.id), 0))",
    ),
    (
        "paid order without exactly one session request",
        "SELECT o.id::text FROM orders o
          WHERE o.status IN ('paid', 'refunded', 'partially_refunded') AND coalesce(o.amount_paid_cents, 0) > 0
            AND (SELECT count(*) FROM session_requests r WHERE r.order_id = o.id) <> 1",
    ),
    (
        "session request of an order that was never paid",
        "SELECT r.id::text FROM session_requests r JOIN orders o ON o.id = r.order_id
          WHERE o.status NOT IN ('paid', 'refunded', 'partially_refunded')",
    ),
    (
        "accepted request without exactly one session",
        "SELECT r.id::text FROM session_requests r
          WHERE r.status = 'accepted' AND (SELECT count(*) FROM sessions s WHERE s.request_id = r.id) <> 1",
    ),
    (
        "session whose request is not accepted, or whose mechanic differs",
        "SELECT s.id::text FROM sessions s JOIN session_requests r ON r.id = s.request_id
          WHERE r.status <> 'accepted' OR r.mechanic_id <> s.mechanic_id
             OR r.workshop_id IS DISTINCT FROM s.workshop_id",
    ),
    (
        "paid order whose payment is not in the ledger exactly once, with the paid amount",
        "SELECT o.id::text FROM orders o
          WHERE coalesce(o.amount_paid_cents, 0) > 0 AND o.status IN ('paid', 'refunded', 'partially_refunded')
            AND coalesce((SELECT sum(p.amount_cents) FROM journal_entries e JOIN postings p ON p.entry_id = e.id
                           JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'gateway_cash'
                          WHERE e.idempotency_key = 'payment:' || o.id), 0) <> o.amount_paid_cents",
    ),
    (
        "completed session without its revenue split in the ledger",
        "SELECT s.id::text FROM sessions s JOIN orders o ON o.id = s.order_id
          WHERE s.status = 'completed'
            AND coalesce(o.amount_paid_cents, 0) - o.amount_refunded_cents > 0
            AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.session_id = s.id AND e.kind = 'session_revenue')
            AND NOT EXISTS (SELECT 1 FROM refunds f WHERE f.order_id = o.id AND f.session_id IS NULL AND f.status = 'succeeded')",
    ),
    (
        "revenue split of a session that is not completed",
        "SELECT e.id::text FROM journal_entries e JOIN sessions s ON s.id = e.session_id
          WHERE e.kind = 'session_revenue' AND s.status <> 'completed'",
    ),
    (
        "order whose refunded total differs from its succeeded refunds",
        "SELECT o.id::text FROM orders o
          WHERE o.amount_refunded_cents <> coalesce((SELECT sum(f.amount_cents) FROM refunds f
                                                      WHERE f.order_id = o.id AND f.status = 'succeeded'), 0)",
    ),
    (
        "succeeded refund without exactly one ledger entry",
        "SELECT f.id::text FROM refunds f
          WHERE f.status = 'succeeded'
            AND (SELECT count(*) FROM journal_entries e WHERE e.idempotency_key = 'refund:' || f.id) <> 1",
    ),
    (
        "paid payout without exactly one ledger entry of its amount",
        "SELECT po.id::text FROM payouts po
          WHERE po.status = 'paid'
            AND coalesce((SELECT sum(p.amount_cents) FROM journal_entries e JOIN postings p ON p.entry_id = e.id
                           JOIN ledger_accounts a ON a.id = p.account_id AND a.kind = 'gateway_cash'
                          WHERE e.idempotency_key = 'payout:' || po.id), 0) <> -po.amount_cents",
    ),
    (
        "unpaid payout with a ledger entry",
        "SELECT po.id::text FROM payouts po
          WHERE po.status <> 'paid' AND EXISTS (SELECT 1 FROM journal_entries e WHERE e.idempotency_key = 'payout:' || po.id)",
    ),
    (
        "mechanic whose count of open sessions is wrong",
        "SELECT m.user_id::text FROM mechanics m
          WHERE m.active_sessions <> (SELECT count(*) FROM sessions s
                                       WHERE s.mechanic_id = m.user_id AND s.status IN ('accepted', 'active'))",
    ),
    (
        "workshop whose mechanics counters are wrong",
        "SELECT s.workshop_id::text FROM workshop_stats s
          WHERE s.mechanics_total <> (SELECT count(*) FROM mechanics m
                                       WHERE m.workshop_id = s.workshop_id AND m.application_status = 'approved')
             OR s.mechanics_online <> (SELECT count(*) FROM mechanics m WHERE m.workshop_id = s.workshop_id
                                         AND m.application_status = 'approved' AND m.is_online)",
    ),
    (
        "workshop whose session or rating statistics are wrong",
        "SELECT st.workshop_id::text FROM workshop_stats st
          WHERE st.sessions_completed <> (SELECT count(*) FROM sessions s
                                            WHERE s.workshop_id = st.workshop_id AND s.status = 'completed')
             OR st.rating_count <> (SELECT count(*) FROM sessions s WHERE s.workshop_id = st.workshop_id AND s.rating IS NOT NULL)
             OR st.rating_sum <> (SELECT coalesce(sum(s.rating), 0) FROM sessions s WHERE s.workshop_id = st.workshop_id)
             OR st.requests_served <> (SELECT count(*) FROM session_requests r
                                         WHERE r.workshop_id = st.workshop_id AND r.status = 'accepted')",
    ),
    (
        "mechanic whose session or rating statistics are wrong",
        "SELECT m.user_id::text FROM mechanics m
          WHERE m.sessions_completed <> (SELECT count(*) FROM sessions s WHERE s.mechanic_id = m.user_id AND s.status = 'completed')
             OR m.rating_count <> (SELECT count(*) FROM sessions s WHERE s.mechanic_id = m.user_id AND s.rating IS NOT NULL)",
    ),
}
