//! Failed log-ins are limited per account and per client address, with delays
//! that double after a few free attempts. The counters live in PostgreSQL so
//! every app instance enforces the same limit.

use crate::error::AppError;
use sqlx::PgPool;

#[derive(Clone, Copy, Debug)]
pub struct ThrottleRules {
    /// Failures allowed per account before delays start.
    pub free_per_account: i32,
    /// Failures allowed per client address before delays start (a shared office
    /// or NAT may have several people mistyping).
    pub free_per_address: i32,
    /// The first delay; each further failure doubles it.
    pub base_delay_secs: i64,
    pub max_delay_secs: i64,
    /// Failures older than this are forgotten.
    pub memory_secs: i64,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        ThrottleRules {
            free_per_account: 5,
            free_per_address: 20,
            base_delay_secs: 2,
            max_delay_secs: 15 * 60,
            memory_secs: 60 * 60,
        }
    }
}

/// Refuses the attempt while either the account or the address is locked.
pub async fn check(pool: &PgPool, email: &str, address: &str) -> Result<(), AppError> {
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM max(locked_until) - now())::float8
           FROM login_throttle
          WHERE ((scope = 'account' AND key = $1) OR (scope = 'address' AND key = $2))
            AND locked_until > now()",
    )
    .bind(email)
    .bind(address)
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
    sqlx::query(
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
    )
    .bind(scope)
    .bind(key)
    .bind(free)
    .bind(rules.memory_secs as f64)
    .bind(rules.base_delay_secs as f64)
    .bind(rules.max_delay_secs as f64)
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
    record(pool, "account", email, rules.free_per_account, rules).await?;
    record(pool, "address", address, rules.free_per_address, rules).await
}

/// A successful log-in clears the account's counter (the address's decays by itself).
pub async fn record_success(pool: &PgPool, email: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM login_throttle WHERE scope = 'account' AND key = $1")
        .bind(email)
        .execute(pool)
        .await?;
    Ok(())
}

pub fn human_duration(secs: u64) -> String {
    match secs {
        0..=1 => "1 second".into(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "1 minute".into(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(30), "30 seconds");
        assert_eq!(human_duration(60), "1 minute");
        assert_eq!(human_duration(121), "3 minutes");
    }
}
