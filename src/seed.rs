//! Demo data for a fresh installation. Safe to run any number of times: rows
//! that already exist are left as they are (an admin's edits are kept).

use crate::auth::{password, Role};
use sqlx::PgPool;

/// The password of every demo account: demo data is for trying the app locally.
pub const DEMO_PASSWORD: &str = "demo-password";

pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

/// Loads the demo data and returns the logins to print.
pub async fn load_demo_data(pool: &PgPool) -> Result<Vec<DemoLogin>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let plans: [(&str, &str, &str, i64, i32, i32); 3] = [
        (
            "chat10",
            "Quick chat",
            "Ten minutes of text chat: a first opinion on a warning light or a noise.",
            1500,
            10,
            1,
        ),
        (
            "video15",
            "Video diagnosis",
            "Fifteen minutes on video: show the mechanic the problem and get a diagnosis.",
            2900,
            15,
            2,
        ),
        (
            "video30",
            "In-depth session",
            "Thirty minutes on video for a tricky fault, with a repair plan you can take to any garage.",
            4900,
            30,
            3,
        ),
    ];
    for (code, name, description, price_cents, minutes, sort_order) in plans {
        // The chat plan is chat and photos; the video plans add the call.
        let includes_call = code != "chat10";
        sqlx::query!(
            "INSERT INTO plans (code, name, description, price_cents, currency, minutes, sort_order, includes_call)
             VALUES ($1, $2, $3, $4, 'usd', $5, $6, $7)
             ON CONFLICT (code) DO NOTHING",
            code,
            name,
            description,
            price_cents,
            minutes,
            sort_order,
            includes_call,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    let hash = password::hash(DEMO_PASSWORD.to_string())
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("hashing the demo password: {e}")))?;
    let mut logins = Vec::new();
    for (role, label, email, name) in [
        (Role::Admin, "platform admin", "admin@autodoctor.test", "Ada Admin"),
        (Role::Customer, "customer", "customer@autodoctor.test", "Casey Customer"),
    ] {
        upsert_user(pool, email, name, role, &hash).await?;
        logins.push(DemoLogin { role: label, email, password: DEMO_PASSWORD });
    }
    logins.extend(load_workshops(pool, &hash).await?);
    Ok(logins)
}

struct DemoWorkshop {
    id: uuid::Uuid,
    name: &'static str,
    city: &'static str,
    status: &'static str,
    specialties: &'static [&'static str],
    description: &'static str,
    owner: (&'static str, &'static str),
    mechanics: &'static [(&'static str, &'static str, bool)],
}

/// Two active workshops with mechanics who joined through invites, one workshop
/// waiting for approval, and independent mechanics (one approved, one waiting).
async fn load_workshops(pool: &PgPool, hash: &str) -> Result<Vec<DemoLogin>, sqlx::Error> {
    let workshops = [
        DemoWorkshop {
            id: uuid::Uuid::from_u128(0x0a0a_0001),
            name: "Northside Auto Clinic",
            city: "Portland",
            status: "active",
            specialties: &["Diagnostics", "Brakes", "Hybrids"],
            description: "Family-run workshop since 1998. We diagnose the tricky ones.",
            owner: ("owner@northside.test", "Nora Northside"),
            mechanics: &[
                ("mia@northside.test", "Mia Mechanic", true),
                ("leo@northside.test", "Leo Lopez", false),
            ],
        },
        DemoWorkshop {
            id: uuid::Uuid::from_u128(0x0a0a_0002),
            name: "Harbor Motors",
            city: "Seattle",
            status: "active",
            specialties: &["Electrical", "European cars"],
            description: "Specialists in European cars and electrical faults.",
            owner: ("owner@harbor.test", "Hank Harbor"),
            mechanics: &[("sam@harbor.test", "Sam Sato", true)],
        },
        DemoWorkshop {
            id: uuid::Uuid::from_u128(0x0a0a_0003),
            name: "Pine Street Garage",
            city: "Boise",
            status: "pending",
            specialties: &["Trucks"],
            description: "Pickup and light truck repairs.",
            owner: ("owner@pinestreet.test", "Pat Pine"),
            mechanics: &[],
        },
    ];
    for w in &workshops {
        let owner = upsert_user(pool, w.owner.0, w.owner.1, Role::WorkshopMember, hash).await?;
        let specialties: Vec<String> = w.specialties.iter().map(|s| s.to_string()).collect();
        let created = sqlx::query!(
            "INSERT INTO organizations (id, name, contact_email, phone, city, address, description, specialties, status,
                                        status_changed_at)
             VALUES ($1, $2, $3, '+1 555 0100', $4, '1 Main Street', $5, $6, $7::text::organization_status,
                     CASE WHEN $7::text = 'active' THEN now() END)
             ON CONFLICT (id) DO NOTHING",
            w.id,
            w.name,
            w.owner.0,
            w.city,
            w.description,
            &specialties,
            w.status
        )
        .execute(pool)
        .await?
        .rows_affected();
        if created == 1 {
            sqlx::query!(
                "INSERT INTO organization_fee_terms (organization_id, platform_fee_bps, note) VALUES ($1, 2000, 'Standard terms')",
                w.id
            )
            .execute(pool)
            .await?;
        }
        sqlx::query!(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES ($1, $2, 'owner')
             ON CONFLICT DO NOTHING",
            w.id,
            owner
        )
        .execute(pool)
        .await?;
        for (email, name, online) in w.mechanics {
            let mechanic = upsert_user(pool, email, name, Role::Mechanic, hash).await?;
            let inserted = sqlx::query!(
                "INSERT INTO mechanics (user_id, account_type, workshop_id, invited_by, invite_accepted_at, auto_approved,
                                        application_status, reviewed_at, specialties, years_experience, certifications,
                                        is_online, online_since)
                 VALUES ($1, 'workshop', $2, $3, now(), true, 'approved', now(), $4, 8, 'ASE certified', $5,
                         CASE WHEN $5 THEN now() END)
                 ON CONFLICT (user_id) DO NOTHING",
                mechanic,
                w.id,
                owner,
                &specialties,
                *online
            )
            .execute(pool)
            .await?
            .rows_affected();
            if inserted == 1 {
                // The invite they joined through, already used.
                let (_, token_hash) = crate::workshops::invites::token::new_token();
                sqlx::query!(
                    "INSERT INTO mechanic_invites (organization_id, email, token_hash, invited_by, expires_at,
                                                   accepted_at, accepted_by)
                     VALUES ($1, $2, $3, $4, now() + interval '7 days', now(), $5)",
                    w.id,
                    email,
                    token_hash,
                    owner,
                    mechanic
                )
                .execute(pool)
                .await?;
            }
        }
    }

    for (email, name, status, online) in [
        ("ivy@independent.test", "Ivy Independent", "approved", true),
        ("noah@independent.test", "Noah Newcomer", "pending", false),
    ] {
        let mechanic = upsert_user(pool, email, name, Role::Mechanic, hash).await?;
        sqlx::query!(
            "INSERT INTO mechanics (user_id, account_type, application_status, reviewed_at, specialties,
                                    years_experience, certifications, is_online, online_since)
             VALUES ($1, 'independent', $2::text::application_status, CASE WHEN $2::text = 'approved' THEN now() END,
                     ARRAY['Diagnostics', 'Engines'], 12, '', $3, CASE WHEN $3 THEN now() END)
             ON CONFLICT (user_id) DO NOTHING",
            mechanic,
            status,
            online
        )
        .execute(pool)
        .await?;
    }

    Ok(vec![
        DemoLogin { role: "workshop owner", email: "owner@northside.test", password: DEMO_PASSWORD },
        DemoLogin { role: "workshop mechanic", email: "mia@northside.test", password: DEMO_PASSWORD },
        DemoLogin { role: "independent mechanic", email: "ivy@independent.test", password: DEMO_PASSWORD },
        DemoLogin { role: "applicant (pending)", email: "noah@independent.test", password: DEMO_PASSWORD },
        DemoLogin { role: "pending workshop owner", email: "owner@pinestreet.test", password: DEMO_PASSWORD },
    ])
}

/// Inserts a demo user unless the email exists; returns its id either way.
async fn upsert_user(
    pool: &PgPool,
    email: &str,
    name: &str,
    role: Role,
    hash: &str,
) -> Result<uuid::Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
         RETURNING id",
        email,
        name,
        role as Role,
        hash
    )
    .fetch_one(pool)
    .await
}
