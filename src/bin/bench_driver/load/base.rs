//! The base data, once: the plans, the workshops (with their owners, fee terms,
//! statistics rows and payable accounts), the mechanics and the customers, and
//! the helper tables in the schema `bench` that the sessions are drawn from.

use super::{exec, Shape, PASSWORD};
use crate::progress::Bar;
use sqlx::{Connection, PgPool};
use std::time::Instant;

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
