//! Failed log-ins are limited, with delays that double after a few free
//! attempts, on three counters (OWASP's guidance on lock-out):
//! - the account and client together (`pair`): strict, a few free attempts;
//! - the client address (`address`): a shared office or NAT may mistype more;
//! - the account from anywhere (`account`): soft, ten times the pair's, and a
//!   client that logged in to the account successfully in the last 30 days is
//!   exempt, so failing someone's password from elsewhere never locks the owner
//!   out on their own device.
//!
//! The counters live in PostgreSQL so every app instance enforces the same limit.

pub use crate::config::ThrottleRules;
use crate::error::AppError;
use crate::limits::human_duration;
use sqlx::PgPool;

/// The strict counter's key: the account and the client together.
fn pair_key(email: &str, address: &str) -> String {
    format!("{email} {address}")
}

/// Refuses the attempt while the pair, the address or (for a client new to
/// this account) the account is locked.
pub async fn check(pool: &PgPool, email: &str, address: &str) -> Result<(), AppError> {
    let key = pair_key(email, address);
    let wait = sqlx::query_scalar!(
        "SELECT EXTRACT(EPOCH FROM max(locked_until) - now())::float8
           FROM login_throttle
          WHERE ((scope = 'pair' AND key = $3) OR (scope = 'address' AND key = $2)
                 OR (scope = 'account' AND key = $1
                     AND NOT EXISTS (SELECT 1 FROM login_known_clients k
                                      WHERE k.email = $1 AND k.address = $2
                                        AND k.last_success_at > now() - interval '30 days')))
            AND locked_until > now()",
        email,
        address,
        key
    )
    .fetch_one(pool)
    .await?;
    match wait {
        Some(secs) if secs > 0.0 => {
            let secs = secs.ceil() as u64;
            Err(AppError::TooManyRequests {
                message: format!(
                    "Too many failed log-in attempts. Please wait {} and try again.",
                    human_duration(secs)
                ),
                retry_after_secs: secs,
            })
        }
        _ => Ok(()),
    }
}

async fn record(
    pool: &PgPool,
    scope: &str,
    key: &str,
    free: i32,
    rules: &ThrottleRules,
) -> Result<(), AppError> {
    let (memory, base, max) =
        (rules.memory_secs as f64, rules.base_delay_secs as f64, rules.max_delay_secs as f64);
    sqlx::query!(
        "INSERT INTO login_throttle AS t (scope, key, failures, last_failure_at, locked_until)
         VALUES ($1, $2, 1, now(), NULL)
         ON CONFLICT (scope, key) DO UPDATE SET
             failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => $4) THEN 1 ELSE t.failures + 1 END,
             last_failure_at = now(),
             locked_until = CASE
                 WHEN (CASE WHEN t.last_failure_at < now() - make_interval(secs => $4) THEN 1 ELSE t.failures + 1 END) > $3
                 THEN now() + make_interval(secs => LEAST($6::float8, $5::float8 * power(2,
                     (CASE WHEN t.last_failure_at < now() - make_interval(secs => $4) THEN 1 ELSE t.failures + 1 END) - $3 - 1)))
                 ELSE NULL END",
        scope,
        key,
        free,
        memory,
        base,
        max
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn record_failure(
    pool: &PgPool,
    email: &str,
    address: &str,
    rules: &ThrottleRules,
) -> Result<(), AppError> {
    record(pool, "pair", &pair_key(email, address), rules.free_per_account, rules).await?;
    record(pool, "account", email, rules.free_per_account.saturating_mul(10), rules).await?;
    record(pool, "address", address, rules.free_per_address, rules).await
}

/// A successful log-in clears this client's counter for the account and makes
/// the client known to the account (the other counters decay by themselves).
pub async fn record_success(pool: &PgPool, email: &str, address: &str) -> Result<(), AppError> {
    let key = pair_key(email, address);
    sqlx::query!(
        "WITH cleared AS (DELETE FROM login_throttle WHERE scope = 'pair' AND key = $3)
         INSERT INTO login_known_clients (email, address) VALUES ($1, $2)
         ON CONFLICT (email, address) DO UPDATE SET last_success_at = now()",
        email,
        address,
        key
    )
    .execute(pool)
    .await?;
    Ok(())
}
