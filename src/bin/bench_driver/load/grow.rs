//! Growing the data set: completed sessions with their orders, requests, reports,
//! ratings and ledger entries, inserted in batches with triggers off; then the
//! derived tables are recomputed (`recompute`).

use super::recompute::recompute;
use super::{exec, Shape};
use crate::progress::Bar;
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Instant;

const BATCH: i64 = 25_000;

pub async fn session_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let v: Option<String> = sqlx::query_scalar("SELECT value FROM bench.meta WHERE key = 'sessions'")
        .fetch_optional(pool)
        .await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Adds completed sessions (with orders, requests, ratings and ledger entries)
/// until there are `target`, then recomputes the derived tables.
pub async fn grow(pool: &PgPool, shape: &Shape, target: i64) -> Result<(), crate::measure::Error> {
    let have = session_count(pool).await?;
    if have >= target {
        return Ok(());
    }
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    let ids: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT id FROM ledger_accounts WHERE kind = 'gateway_cash'),
                (SELECT id FROM ledger_accounts WHERE kind = 'payment_clearing'),
                (SELECT id FROM ledger_accounts WHERE kind = 'platform_revenue')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut bar = Bar::new("sessions", (target - have) as u64, "sessions");
    let mut next = have;
    while next < target {
        let end = (next + BATCH).min(target);
        insert_batch(&mut conn, shape, next, end, ids).await?;
        bar.inc((end - next) as u64);
        next = end;
    }
    bar.finish(&format!(
        "{} sessions added in {:.1} s ({} in all)",
        target - have,
        started.elapsed().as_secs_f64(),
        target
    ));
    recompute(&mut conn).await?;
    Ok(())
}

async fn insert_batch(
    conn: &mut PgConnection,
    shape: &Shape,
    from: i64,
    to: i64,
    (cash, clearing, platform): (i64, i64, i64),
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    exec(&mut tx, "SET LOCAL session_replication_role = replica").await?;
    // Random choices first, materialised once per row.
    sqlx::query(
        "CREATE TEMP TABLE b1 ON COMMIT DROP AS
         SELECT g,
                CASE WHEN g % $3 = 0 THEN 0
                     WHEN g % 10 = 5 THEN -1
                     ELSE 1 + floor(random() * ($4 - 1))::int END AS wn,
                random() AS r_mech, random() AS r_route, random() AS r_rating, random() AS r_comment,
                floor(random() * 3)::int AS plan_i,
                floor(random() * $5)::int AS cust_n,
                (3 + floor(random() * random() * 900))::int AS wait_secs,
                now() - random() * ($6 * interval '1 day') AS t
           FROM generate_series($1, $2 - 1) g",
    )
    .bind(from)
    .bind(to)
    .bind(shape.big_every)
    .bind(shape.workshops)
    .bind(shape.customers)
    .bind(shape.history_days as f64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "CREATE TEMP TABLE b ON COMMIT DROP AS
         SELECT b1.g, b1.t, b1.wait_secs,
                gen_random_uuid() AS order_id, gen_random_uuid() AS request_id, gen_random_uuid() AS session_id,
                nextval('journal_entries_id_seq') AS pay_entry, nextval('journal_entries_id_seq') AS rev_entry,
                cu.id AS customer_id, s.user_id AS mechanic_id, s.account_id AS payee_account, w.id AS workshop_id,
                CASE WHEN b1.wn < 0 OR b1.r_route < 0.6 THEN 'broadcast'
                     WHEN b1.r_route < 0.9 THEN 'hybrid' ELSE 'workshop_only' END::routing_type AS routing,
                CASE WHEN b1.wn >= 0 AND b1.r_route >= 0.6 THEN w.id END AS preferred_id,
                (ARRAY['chat10','video15','video30'])[1 + b1.plan_i] AS plan_code,
                (ARRAY['Quick chat','Video diagnosis','In-depth session'])[1 + b1.plan_i] AS plan_name,
                (ARRAY[10, 15, 30])[1 + b1.plan_i] AS minutes,
                (ARRAY[1500, 2900, 4900])[1 + b1.plan_i]::bigint AS amount,
                CASE WHEN b1.r_rating < 0.8 THEN
                     CASE WHEN b1.r_rating < 0.03 THEN 1 WHEN b1.r_rating < 0.07 THEN 2 WHEN b1.r_rating < 0.17 THEN 3
                          WHEN b1.r_rating < 0.42 THEN 4 ELSE 5 END END::smallint AS rating,
                b1.r_comment < 0.2 AS commented,
                (ARRAY['Toyota','Ford','Honda','Volkswagen','BMW','Chevrolet','Nissan','Subaru'])[1 + b1.g % 8] AS make,
                (ARRAY['Corolla','Focus','Civic','Golf','3 Series','Malibu','Leaf','Outback'])[1 + b1.g % 8] AS model,
                (1998 + b1.g % 27)::int AS year
           FROM b1
           JOIN bench.slot_count c ON c.workshop_n = b1.wn
           JOIN bench.slot s ON s.workshop_n = b1.wn AND s.k = floor(b1.r_mech * c.cnt)::int
           JOIN bench.customer cu ON cu.n = b1.cust_n
           LEFT JOIN bench.workshop w ON w.n = b1.wn",
    )
    .execute(&mut *tx)
    .await?;
    exec(
        &mut tx,
        "INSERT INTO orders (id, customer_id, request_key, plan_code, plan_name, plan_minutes, amount_cents, currency,
                             vehicle_make, vehicle_model, vehicle_year, problem_description, preferred_workshop_id,
                             routing_type, platform_fee_bps, referral_fee_bps, preferred_workshop_fee_bps, fee_terms_at,
                             status, amount_paid_cents, checkout_session_id, payment_intent_id, created_at, updated_at, paid_at)
         SELECT order_id, customer_id, gen_random_uuid(), plan_code, plan_name, minutes, amount, 'usd',
                make, model, year, 'The engine light is on and it makes a noise when braking.', preferred_id,
                routing, 2000, 1000, CASE WHEN preferred_id IS NOT NULL THEN 2000 END, t - interval '2 minutes',
                'paid', amount, 'cs_bench_' || g, 'pi_bench_' || g, t - interval '2 minutes', t, t
           FROM b;
         INSERT INTO session_requests (id, order_id, customer_id, plan_code, preferred_workshop_id, routing_type, status,
                                       mechanic_id, workshop_id, created_at, accepted_at)
         SELECT request_id, order_id, customer_id, plan_code, preferred_id, routing, 'accepted', mechanic_id, workshop_id,
                t, t + wait_secs * interval '1 second'
           FROM b;
         INSERT INTO sessions (id, request_id, order_id, customer_id, mechanic_id, workshop_id, preferred_workshop_id,
                               routing_type, plan_code, status, created_at, started_at, ended_at, rating, rating_comment, rated_at)
         SELECT session_id, request_id, order_id, customer_id, mechanic_id, workshop_id, preferred_id, routing, plan_code,
                'completed', t + wait_secs * interval '1 second', t + (wait_secs + 30) * interval '1 second',
                t + (wait_secs + 30 + minutes * 60) * interval '1 second', rating,
                CASE WHEN rating IS NOT NULL AND commented THEN 'Clear explanation, thank you.' END,
                CASE WHEN rating IS NOT NULL THEN t + (wait_secs + 330 + minutes * 60) * interval '1 second' END
           FROM b;
         -- Every completed session has its diagnosis report (ending needs one), mailed as it ended.
         INSERT INTO session_reports (session_id, summary, likely_causes, safe_to_drive, created_at, updated_at, emailed_at)
         SELECT session_id, 'Worn front brake pads.', 'Mileage.', 'with_care',
                t + (wait_secs + 30 + minutes * 60) * interval '1 second',
                t + (wait_secs + 30 + minutes * 60) * interval '1 second',
                t + (wait_secs + 30 + minutes * 60) * interval '1 second'
           FROM b;
         INSERT INTO session_report_repairs (session_id, position, description, urgency, cost_min_cents, cost_max_cents)
         SELECT session_id, 1, 'Replace the front brake pads', 'soon', 12000, 18000 FROM b;
         INSERT INTO journal_entries (id, kind, idempotency_key, order_id, session_id, memo, created_at)
         SELECT pay_entry, 'payment', 'payment:' || order_id, order_id, NULL, 'Customer payment', t FROM b
         UNION ALL
         SELECT rev_entry, 'session_revenue', 'session:' || session_id, order_id, session_id,
                CASE WHEN workshop_id IS NULL THEN 'Independent split' ELSE 'OwnWorkshop split' END,
                t + (wait_secs + 30 + minutes * 60) * interval '1 second'
           FROM b;",
    )
    .await?;
    // Payment: cash in, held in clearing. Completion: clearing out, to the platform
    // (20%, the standard agreement and the independents' rate) and the payee.
    sqlx::query(
        "INSERT INTO postings (entry_id, account_id, amount_cents, share_kind, session_id, created_at)
         SELECT e.entry_id, e.account_id, e.amount, e.share_kind, e.session_id, e.at
           FROM b, LATERAL (VALUES
                (b.pay_entry, $1::bigint, b.amount, NULL::text, NULL::uuid, b.t),
                (b.pay_entry, $2::bigint, -b.amount, NULL, NULL, b.t),
                (b.rev_entry, $2::bigint, b.amount, NULL, b.session_id, b.t + (b.wait_secs + 30 + b.minutes * 60) * interval '1 second'),
                (b.rev_entry, $3::bigint, -(b.amount * 2000 / 10000), 'platform_fee', b.session_id,
                 b.t + (b.wait_secs + 30 + b.minutes * 60) * interval '1 second'),
                (b.rev_entry, b.payee_account, -(b.amount - b.amount * 2000 / 10000),
                 CASE WHEN b.workshop_id IS NULL THEN 'mechanic_service' ELSE 'workshop_service' END, b.session_id,
                 b.t + (b.wait_secs + 30 + b.minutes * 60) * interval '1 second')
           ) AS e(entry_id, account_id, amount, share_kind, session_id, at)",
    )
    .bind(cash)
    .bind(clearing)
    .bind(platform)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE bench.meta SET value = $1::text WHERE key = 'sessions'")
        .bind(to)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
