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
        sqlx::query(
            "INSERT INTO plans (code, name, description, price_cents, currency, minutes, sort_order)
             VALUES ($1, $2, $3, $4, 'usd', $5, $6)
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(code)
        .bind(name)
        .bind(description)
        .bind(price_cents)
        .bind(minutes)
        .bind(sort_order)
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
    Ok(logins)
}

/// Inserts a demo user unless the email exists; returns its id either way.
async fn upsert_user(
    pool: &PgPool,
    email: &str,
    name: &str,
    role: Role,
    hash: &str,
) -> Result<uuid::Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email
         RETURNING id",
    )
    .bind(email)
    .bind(name)
    .bind(role)
    .bind(hash)
    .fetch_one(pool)
    .await
}
