//! The data set: workshops, mechanics, customers and completed sessions with
//! their ratings and ledger entries, inserted with set-based SQL.
//!
//! Sessions are inserted in batches with `session_replication_role = replica`
//! (no triggers, so neither the ledger's per-posting balance updates nor the
//! deferred balance check run row by row); everything the triggers and the
//! app's transactions would have maintained is then recomputed in bulk
//! (`recompute`), and `verify` checks the result.
//!
//! Helper tables live in the schema `bench` of the benchmark database.

use crate::progress::Bar;
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Instant;

/// The shape of the data set.
#[derive(Clone, Debug)]
pub struct Shape {
    pub workshops: i32,
    pub mechanics: i32,
    /// Of the mechanics, this many are independents (the rest belong to workshops).
    pub independents: i32,
    pub customers: i32,
    /// Mechanics of the one big workshop (workshop 0).
    pub big_workshop_mechanics: i32,
    /// One session in this many goes to the big workshop (10: 100,000 of 1,000,000).
    pub big_every: i64,
    /// One approved mechanic in this many is online.
    pub online_every: i32,
    /// Days of history the sessions are spread over.
    pub history_days: i32,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            workshops: 1000,
            mechanics: 20_000,
            independents: 2000,
            customers: 50_000,
            big_workshop_mechanics: 100,
            big_every: 10,
            online_every: 5,
            history_days: 730,
        }
    }
}

const BATCH: i64 = 25_000;

pub const PASSWORD: &str = "bench-password";

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(&mut *conn).await?;
    Ok(())
}

/// Creates the workshops, mechanics and customers once (a second call does nothing).
pub async fn base(pool: &PgPool, shape: &Shape) -> Result<(), crate::measure::Error> {
    let mut conn = pool.acquire().await?;
    exec(&mut conn, "CREATE SCHEMA IF NOT EXISTS bench").await?;
    exec(&mut conn, "CREATE TABLE IF NOT EXISTS bench.meta (key text PRIMARY KEY, value text NOT NULL)")
        .await?;
    let done: Option<String> = sqlx::query_scalar("SELECT value FROM bench.meta WHERE key = 'base'")
        .fetch_optional(&mut *conn)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    let started = Instant::now();
    // One argon2id hash, reused by every account (hashing 70,000 would take an hour).
    let hash = autodoctor::auth::password::hash(PASSWORD.to_string()).await.map_err(|e| e.to_string())?;
    let total_steps = 6;
    let mut bar = Bar::new("base data", total_steps, "steps");
    let mut tx = conn.begin().await?;
    exec(&mut tx, "SET LOCAL session_replication_role = replica").await?;
    sqlx::raw_sql(
        "INSERT INTO plans (code, name, description, price_cents, currency, minutes, sort_order) VALUES
           ('chat10', 'Quick chat', 'Ten minutes of text chat: a first opinion on a warning light or a noise.', 1500, 'usd', 10, 1),
           ('video15', 'Video diagnosis', 'Fifteen minutes on video: show the mechanic the problem and get a diagnosis.', 2900, 'usd', 15, 2),
           ('video30', 'In-depth session', 'Thirty minutes on video for a tricky fault, with a repair plan you can take to any garage.', 4900, 'usd', 30, 3)
         ON CONFLICT (code) DO NOTHING;
         CREATE TABLE bench.customer (n int PRIMARY KEY, id uuid NOT NULL);
         CREATE TABLE bench.workshop (n int PRIMARY KEY, id uuid NOT NULL, owner_id uuid NOT NULL, account_id bigint);
         CREATE TABLE bench.mech (n int PRIMARY KEY, user_id uuid NOT NULL, workshop_n int, approved bool NOT NULL,
                                  online bool NOT NULL, account_id bigint);
         CREATE TABLE bench.slot (workshop_n int NOT NULL, k int NOT NULL, user_id uuid NOT NULL, account_id bigint,
                                  PRIMARY KEY (workshop_n, k));
         CREATE TABLE bench.slot_count (workshop_n int PRIMARY KEY, cnt int NOT NULL);",
    )
    .execute(&mut *tx)
    .await?;
    bar.inc(1);

    // Customers.
    sqlx::query(
        "INSERT INTO bench.customer (n, id) SELECT n, gen_random_uuid() FROM generate_series(0, $1 - 1) n;
         ",
    )
    .bind(shape.customers)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         SELECT id, 'customer' || n || '@bench.test', 'Customer ' || n, 'customer', $1,
                now() - interval '3 years' + n * interval '1 minute'
           FROM bench.customer",
    )
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    bar.inc(1);

    // Workshops (all active), their owners, fee terms, statistics rows and payables.
    sqlx::query(
        "INSERT INTO bench.workshop (n, id, owner_id) SELECT n, gen_random_uuid(), gen_random_uuid()
           FROM generate_series(0, $1 - 1) n",
    )
    .bind(shape.workshops)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         SELECT owner_id, 'owner' || n || '@bench.test', 'Owner ' || n, 'workshop_member', $1, now() - interval '3 years'
           FROM bench.workshop",
    )
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    exec(
        &mut tx,
        "INSERT INTO organizations (id, name, contact_email, phone, city, address, description, specialties, status,
                                    status_changed_at, created_at, updated_at)
         SELECT w.id,
                CASE WHEN w.n = 0 THEN 'Grand Central Auto Group'
                     ELSE (ARRAY['Northside','Harbor','Pine Street','Riverside','Summit','Oak Hill','Lakeside','Central',
                                 'Westgate','Eastwood','Maple','Granite','Union','Liberty','Sunset','Canyon','Prairie',
                                 'Bayview','Highland','Cedar'])[1 + w.n % 20] || ' ' ||
                          (ARRAY['Auto Clinic','Motors','Garage','Auto Repair','Car Care','Service Center','Automotive',
                                 'Mechanics','Auto Works','Tire & Brake'])[1 + (w.n / 20) % 10] || ' ' || w.n END,
                'owner' || w.n || '@bench.test', '+1 555 ' || lpad((w.n % 10000)::text, 4, '0'),
                (ARRAY['Portland','Seattle','Boise','Denver','Austin','Chicago','Boston','Phoenix','Atlanta','Miami',
                       'Dallas','Houston','Detroit','Columbus','Nashville','Memphis','Raleigh','Omaha','Tulsa','Reno',
                       'Fresno','Tucson','Spokane','Madison','Buffalo','Richmond','Orlando','Tampa','Salem','Eugene'])[1 + (w.n * 7) % 30],
                w.n || ' Main Street', 'A workshop of the benchmark data set.',
                (SELECT array_agg(sp) FROM unnest(ARRAY['Diagnostics','Brakes','Hybrids','Electrical','European cars',
                        'Trucks','Transmissions','Air conditioning','Engines','Suspension','EV','Tires']) WITH ORDINALITY AS t(sp, i)
                  WHERE (w.n * 31 + i * 17) % 12 < 3 OR i = 1 + w.n % 12),
                'active', now() - interval '3 years', now() - interval '3 years', now() - interval '3 years'
           FROM bench.workshop w;
         INSERT INTO organization_members (organization_id, user_id, role, created_at)
         SELECT id, owner_id, 'owner', now() - interval '3 years' FROM bench.workshop;
         INSERT INTO organization_fee_terms (organization_id, platform_fee_bps, note, effective_from)
         SELECT id, 2000, 'Standard terms', now() - interval '3 years' FROM bench.workshop;
         INSERT INTO workshop_stats (workshop_id) SELECT id FROM bench.workshop;
         INSERT INTO ledger_accounts (kind, organization_id) SELECT 'workshop_payable', id FROM bench.workshop;
         UPDATE bench.workshop w SET account_id = a.id FROM ledger_accounts a
          WHERE a.kind = 'workshop_payable' AND a.organization_id = w.id;",
    )
    .await?;
    bar.inc(1);

    // Mechanics: the big workshop's first, then the others' spread over the
    // workshops, then independents. A few are still waiting for approval.
    sqlx::query(
        "INSERT INTO bench.mech (n, user_id, workshop_n, approved, online)
         SELECT n, gen_random_uuid(),
                CASE WHEN n < $2 THEN 0
                     WHEN n < $1 - $3 THEN 1 + (n - $2) % ($4 - 1) END,
                n < $2 OR n % 50 <> 49,
                (n < $2 OR n % 50 <> 49) AND n % $5 = 1
           FROM generate_series(0, $1 - 1) n",
    )
    .bind(shape.mechanics)
    .bind(shape.big_workshop_mechanics)
    .bind(shape.independents)
    .bind(shape.workshops)
    .bind(shape.online_every)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         SELECT user_id, 'mechanic' || n || '@bench.test', 'Mechanic ' || n, 'mechanic', $1, now() - interval '3 years'
           FROM bench.mech",
    )
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    exec(
        &mut tx,
        "INSERT INTO mechanics (user_id, account_type, workshop_id, invited_by, invite_accepted_at, auto_approved,
                                application_status, reviewed_at, specialties, years_experience, certifications,
                                is_online, online_since, capacity, created_at, updated_at)
         SELECT m.user_id, CASE WHEN m.workshop_n IS NULL THEN 'independent' ELSE 'workshop' END::mechanic_account_type,
                w.id, w.owner_id, CASE WHEN w.id IS NOT NULL THEN now() - interval '2 years' END, w.id IS NOT NULL,
                CASE WHEN m.approved THEN 'approved' ELSE 'pending' END::application_status,
                CASE WHEN m.approved THEN now() - interval '2 years' END,
                ARRAY[(ARRAY['Diagnostics','Brakes','Hybrids','Electrical','Engines','Transmissions'])[1 + m.n % 6]],
                m.n % 40, 'ASE certified', m.online, CASE WHEN m.online THEN now() - interval '1 hour' END,
                1 + m.n % 3, now() - interval '2 years', now() - interval '2 years'
           FROM bench.mech m LEFT JOIN bench.workshop w ON w.n = m.workshop_n;
         INSERT INTO ledger_accounts (kind, mechanic_id)
         SELECT 'mechanic_payable', user_id FROM bench.mech WHERE workshop_n IS NULL AND approved;
         UPDATE bench.mech m SET account_id = a.id FROM ledger_accounts a
          WHERE a.kind = 'mechanic_payable' AND a.mechanic_id = m.user_id;
         INSERT INTO bench.slot (workshop_n, k, user_id, account_id)
         SELECT coalesce(m.workshop_n, -1),
                (row_number() OVER (PARTITION BY coalesce(m.workshop_n, -1) ORDER BY m.n) - 1)::int,
                m.user_id, coalesce(w.account_id, m.account_id)
           FROM bench.mech m LEFT JOIN bench.workshop w ON w.n = m.workshop_n WHERE m.approved;
         INSERT INTO bench.slot_count (workshop_n, cnt) SELECT workshop_n, count(*) FROM bench.slot GROUP BY workshop_n;",
    )
    .await?;
    bar.inc(1);
    exec(&mut tx, "INSERT INTO bench.meta (key, value) VALUES ('base', 'done'), ('sessions', '0')").await?;
    tx.commit().await?;
    bar.inc(1);
    exec(&mut conn, "ANALYZE").await?;
    bar.inc(1);
    bar.finish(&format!("base data in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}

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

/// Recomputes, in bulk, what the triggers and the app's transactions maintain:
/// balances, daily totals, workshop and mechanic statistics, the accept-time
/// histogram and the medians. Then vacuums and analyzes.
pub async fn recompute(conn: &mut PgConnection) -> Result<(), crate::measure::Error> {
    let started = Instant::now();
    let steps: [(&str, &str); 11] = [
        (
            "balances",
            "UPDATE ledger_accounts a SET balance_cents = coalesce(s.total, 0)
               FROM ledger_accounts a2
               LEFT JOIN (SELECT account_id, sum(amount_cents)::bigint AS total FROM postings GROUP BY account_id) s
                 ON s.account_id = a2.id
              WHERE a.id = a2.id AND a.balance_cents IS DISTINCT FROM coalesce(s.total, 0)",
        ),
        (
            "paid totals",
            "TRUNCATE ledger_account_paid;
             INSERT INTO ledger_account_paid (account_id, paid_cents)
             SELECT p.account_id, sum(p.amount_cents)::bigint
               FROM postings p JOIN journal_entries e ON e.id = p.entry_id
              WHERE e.kind IN ('payout', 'transfer_reversal') GROUP BY p.account_id",
        ),
        (
            "daily totals",
            "TRUNCATE ledger_daily;
             INSERT INTO ledger_daily (account_id, day, debits_cents, credits_cents)
             SELECT account_id, (created_at AT TIME ZONE 'UTC')::date,
                    sum(greatest(amount_cents, 0))::bigint, sum(greatest(-amount_cents, 0))::bigint
               FROM postings GROUP BY 1, 2",
        ),
        (
            "mechanic counts",
            "UPDATE workshop_stats s SET mechanics_total = c.total, mechanics_online = c.online, updated_at = now()
               FROM (SELECT o.id,
                            count(m.user_id) FILTER (WHERE m.application_status = 'approved') AS total,
                            count(m.user_id) FILTER (WHERE m.application_status = 'approved' AND m.is_online) AS online
                       FROM organizations o LEFT JOIN mechanics m ON m.workshop_id = o.id GROUP BY o.id) c
              WHERE s.workshop_id = c.id",
        ),
        (
            "workshop statistics",
            "UPDATE workshop_stats s SET sessions_completed = coalesce(c.done, 0), rating_sum = coalesce(c.rs, 0),
                    rating_count = coalesce(c.rc, 0), requests_served = coalesce(c.served, 0),
                    preferred_served_by_self = coalesce(c.pref_self, 0),
                    requests_preferred = coalesce(p.preferred, 0), updated_at = now()
               FROM organizations o
               LEFT JOIN (SELECT workshop_id, count(*) FILTER (WHERE status = 'completed') AS done,
                                 sum(rating)::bigint AS rs, count(rating) AS rc, count(*) AS served,
                                 count(*) FILTER (WHERE preferred_workshop_id = workshop_id) AS pref_self
                            FROM sessions WHERE workshop_id IS NOT NULL GROUP BY workshop_id) c ON c.workshop_id = o.id
               LEFT JOIN (SELECT preferred_workshop_id, count(*) AS preferred FROM session_requests
                           WHERE preferred_workshop_id IS NOT NULL GROUP BY preferred_workshop_id) p
                      ON p.preferred_workshop_id = o.id
              WHERE s.workshop_id = o.id",
        ),
        (
            "mechanic statistics",
            "UPDATE mechanics m SET sessions_completed = c.done, rating_sum = c.rs, rating_count = c.rc
               FROM (SELECT mechanic_id, count(*) FILTER (WHERE status = 'completed') AS done,
                            coalesce(sum(rating), 0)::bigint AS rs, count(rating) AS rc
                       FROM sessions GROUP BY mechanic_id) c
              WHERE m.user_id = c.mechanic_id
                AND (m.sessions_completed, m.rating_sum, m.rating_count) IS DISTINCT FROM (c.done, c.rs, c.rc)",
        ),
        (
            "accept histogram",
            "TRUNCATE workshop_accept_histogram;
             INSERT INTO workshop_accept_histogram (workshop_id, day, bucket_secs, count)
             SELECT workshop_id, (accepted_at AT TIME ZONE 'UTC')::date,
                    CASE WHEN w < 60 THEN w WHEN w < 600 THEN w - w % 10 WHEN w < 3600 THEN w - w % 60 ELSE 3600 END,
                    count(*)
               FROM (SELECT workshop_id, accepted_at,
                            greatest(floor(extract(epoch FROM accepted_at - created_at)), 0)::int AS w
                       FROM session_requests WHERE status = 'accepted' AND workshop_id IS NOT NULL) r
              GROUP BY 1, 2, 3",
        ),
        (
            "median accept times",
            "SELECT refresh_workshop_median_accept(id, (now() AT TIME ZONE 'UTC')::date) FROM organizations",
        ),
        ("vacuum", "VACUUM"),
        // Writes out what the bulk load left in shared buffers now, so the measurements
        // do not run beside (and commit behind) the load's checkpoint.
        ("checkpoint", "CHECKPOINT"),
        ("analyze", "ANALYZE"),
    ];
    let mut bar = Bar::new("recompute", steps.len() as u64, "steps");
    for (name, sql) in steps {
        bar.set_message(name);
        if matches!(name, "vacuum" | "checkpoint" | "analyze") {
            exec(conn, sql).await?;
        } else {
            let mut tx = conn.begin().await?;
            exec(&mut tx, "SET LOCAL session_replication_role = replica").await?;
            exec(&mut tx, sql).await?;
            tx.commit().await?;
        }
        bar.inc(1);
    }
    bar.finish(&format!("derived tables recomputed in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}

/// What the data set holds, as checked by `verify`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Census {
    pub workshops_active: i64,
    pub mechanics: i64,
    pub mechanics_online: i64,
    pub independents: i64,
    pub customers: i64,
    pub sessions_completed: i64,
    pub sessions_rated: i64,
    pub big_workshop_sessions: i64,
    pub journal_entries: i64,
    pub postings: i64,
}

/// Runs the app's own consistency suite (`autodoctor::consistency::check`: every
/// journal entry balances, cached balances equal their postings, every paid order
/// has one request and its payment in the ledger once, every completed session its
/// split, statistics and counters equal what they count) plus a check that no entry
/// has fewer than two postings; returns what the set holds.
pub async fn verify(pool: &PgPool) -> Result<Census, crate::measure::Error> {
    let mut bar = Bar::new("verify", 3, "checks");
    bar.set_message("the app's consistency suite");
    let problems = autodoctor::consistency::check(pool).await?;
    if !problems.is_empty() {
        return Err(format!("the data set is inconsistent: {}", problems.join("; ")).into());
    }
    bar.inc(1);
    bar.set_message("postings per entry");
    let short: Option<i64> =
        sqlx::query_scalar("SELECT entry_id FROM postings GROUP BY entry_id HAVING count(*) < 2 LIMIT 1")
            .fetch_optional(pool)
            .await?;
    if let Some(e) = short {
        return Err(format!("journal entry {e} has fewer than two postings").into());
    }
    bar.inc(1);
    bar.set_message("census");
    let c: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM organizations WHERE status = 'active'),
                (SELECT count(*) FROM mechanics),
                (SELECT count(*) FROM mechanics WHERE is_online),
                (SELECT count(*) FROM mechanics WHERE account_type = 'independent'),
                (SELECT count(*) FROM users WHERE role = 'customer'),
                (SELECT count(*) FROM sessions WHERE status = 'completed'),
                (SELECT count(*) FROM sessions WHERE rating IS NOT NULL),
                (SELECT s.sessions_completed FROM workshop_stats s JOIN bench.workshop w ON w.id = s.workshop_id
                  WHERE w.n = 0),
                (SELECT count(*) FROM journal_entries),
                (SELECT count(*) FROM postings)",
    )
    .fetch_one(pool)
    .await?;
    bar.inc(1);
    bar.finish("data set consistent: the app's consistency suite finds nothing");
    Ok(Census {
        workshops_active: c.0,
        mechanics: c.1,
        mechanics_online: c.2,
        independents: c.3,
        customers: c.4,
        sessions_completed: c.5,
        sessions_rated: c.6,
        big_workshop_sessions: c.7,
        journal_entries: c.8,
        postings: c.9,
    })
}
