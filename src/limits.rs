//! Limits on how often one client address, or one account, may start something
//! costly: a sign-up or application (a password hash, an email), a workshop
//! registration, an invite (an email to a stranger), a checkout (a call to the
//! payment provider). Counted per hour in PostgreSQL (`rate_limits`), so several
//! instances agree; past a limit the answer is 429 with `Retry-After`.
//!
//! Failed log-ins have limits of their own (`auth::throttle`).

use crate::error::AppError;
use sqlx::PgPool;

/// What is limited, and how often per hour: (per client address, per account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    SignUp,
    ApplyAsMechanic,
    RegisterWorkshop,
    SendInvite,
    StartCheckout,
}

impl Action {
    fn bucket(self) -> &'static str {
        match self {
            Action::SignUp => "sign_up",
            Action::ApplyAsMechanic => "apply_as_mechanic",
            Action::RegisterWorkshop => "register_workshop",
            Action::SendInvite => "send_invite",
            Action::StartCheckout => "start_checkout",
        }
    }

    /// Per hour: (per client address, per account or email).
    pub fn per_hour(self) -> (u32, u32) {
        match self {
            Action::SignUp => (10, 3),
            Action::ApplyAsMechanic => (5, 3),
            Action::RegisterWorkshop => (5, 3),
            Action::SendInvite => (60, 30),
            Action::StartCheckout => (60, 20),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Action::SignUp => "sign-ups",
            Action::ApplyAsMechanic => "applications",
            Action::RegisterWorkshop => "workshop registrations",
            Action::SendInvite => "invites",
            Action::StartCheckout => "checkouts",
        }
    }
}

const WINDOW_SECS: f64 = 3600.0;

/// Counts one `action` by `client` (an address) for `account` (a user id or an
/// email), refusing it past either limit. `scale` multiplies the limits
/// (`RATE_LIMIT_SCALE`; tests that sign up many accounts from one address).
pub async fn check(
    pool: &PgPool,
    scale: u32,
    action: Action,
    client: &str,
    account: &str,
) -> Result<(), AppError> {
    let (per_client, per_account) = action.per_hour();
    for (key, limit) in
        [(format!("client {client}"), per_client), (format!("account {account}"), per_account)]
    {
        let row = sqlx::query!(
            r#"INSERT INTO rate_limits AS r (bucket, key, window_start, count) VALUES ($1, $2, now(), 1)
             ON CONFLICT (bucket, key) DO UPDATE SET
                 count = CASE WHEN r.window_start <= now() - make_interval(secs => $3) THEN 1 ELSE r.count + 1 END,
                 window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $3) THEN now() ELSE r.window_start END
             RETURNING count, EXTRACT(EPOCH FROM r.window_start + make_interval(secs => $3) - now())::float8 AS "wait!""#,
            action.bucket(),
            key,
            WINDOW_SECS
        )
        .fetch_one(pool)
        .await?;
        let (count, wait) = (row.count, row.wait);
        if count as u64 > u64::from(limit) * u64::from(scale.max(1)) {
            let secs = wait.ceil().max(1.0) as u64;
            return Err(AppError::TooManyRequests {
                message: format!(
                    "Too many {} from here in the last hour. Please wait {} and try again.",
                    action.what(),
                    human_duration(secs)
                ),
                retry_after_secs: secs,
            });
        }
    }
    Ok(())
}

/// A wait in words: "1 second", "30 seconds", "3 minutes".
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
