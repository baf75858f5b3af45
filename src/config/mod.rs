//! All configuration, read once from the environment (and an optional `.env`).
//!
//! Every variable is documented in the README's configuration table. A value
//! that does not parse stops start-up with a message naming the variable.

mod call;
pub use call::CallConfig;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

mod photo_storage;
pub use photo_storage::{PhotoStorage, S3Settings};

mod parse;
#[cfg(test)]
use parse::parse_value;
pub use parse::ConfigError;
use parse::{check, parse_or, var};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The configuration. `Debug` prints every setting but the secrets (database
/// URL, SMTP URL, Stripe key, webhook secret, bootstrap password): a log line or
/// a panic message can never carry them.
#[derive(Clone)]
pub struct Config {
    pub database_url: String,
    pub database_max_connections: u32,
    pub database_connect_timeout: Duration,
    pub host: IpAddr,
    pub port: u16,
    /// The address users reach the app at, e.g. `https://autodoctor.example`.
    pub public_url: String,
    pub site_root: String,
    pub log_format: LogFormat,
    /// A session unused for this long ends.
    pub session_idle_timeout: Duration,
    /// How long a stopping server waits for requests and background jobs in progress.
    pub shutdown_grace: Duration,
    /// A session ends this long after log-in, however active.
    pub session_absolute_timeout: Duration,
    /// Use the first `X-Forwarded-For` address as the client's (only behind a proxy you run).
    pub trust_proxy: bool,
    pub login_throttle: ThrottleRules,
    /// Multiplies the per-hour limits of `limits` (`RATE_LIMIT_SCALE`, 1 by default).
    pub rate_limit_scale: u32,
    /// The first admin, created at start-up when no admin exists.
    pub bootstrap_admin: Option<(String, String)>,
    /// How long an invite link works.
    pub invite_ttl: chrono::Duration,
    /// `smtp://` or `smtps://` URL; without it email stays in the outbox (admin mailbox page).
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// With a key, payments go to Stripe; without, to the built-in sandbox.
    pub stripe_secret_key: Option<String>,
    /// Verifies webhook signatures (Stripe's, or the sandbox's own).
    pub stripe_webhook_secret: String,
    /// Another Stripe API base URL (tests point it at a local fake).
    pub stripe_api_base: Option<String>,
    /// Where the sandbox delivers its events: the app's own webhook endpoint.
    pub sandbox_webhook_url: String,
    /// The platform's share for independent mechanics and referrals, in basis points.
    pub platform_fee_bps: i32,
    /// The referring workshop's share when another workshop serves its customer.
    pub referral_fee_bps: i32,
    /// A hybrid request is opened to other mechanics after this long.
    pub routing_escalation_secs: i64,
    /// A workshop-only request nobody takes expires after this long.
    pub workshop_only_expiry_secs: i64,
    /// Offer requests only to mechanics who can be paid out (Stripe payouts enabled).
    pub routing_require_payouts: bool,
    /// A mechanic online with no dashboard open gets at most one mail about
    /// new requests per this many seconds.
    pub offer_mail_interval_secs: i64,
    /// Hours between scheduled payout runs; 0 turns the schedule off.
    pub payout_interval_hours: i64,
    /// The session room: ICE servers (STUN, TURN) and the clock.
    pub call: CallConfig,
    /// Where chat photos are kept (`PHOTO_STORE`).
    pub photo_storage: PhotoStorage,
}

/// Stands in for a secret in `Debug` output.
fn redacted<T>(value: &Option<T>) -> &'static str {
    if value.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &"<redacted>")
            .field("database_max_connections", &self.database_max_connections)
            .field("database_connect_timeout", &self.database_connect_timeout)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("public_url", &self.public_url)
            .field("site_root", &self.site_root)
            .field("log_format", &self.log_format)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("session_absolute_timeout", &self.session_absolute_timeout)
            .field("trust_proxy", &self.trust_proxy)
            .field("login_throttle", &self.login_throttle)
            .field("rate_limit_scale", &self.rate_limit_scale)
            .field("bootstrap_admin", &self.bootstrap_admin.as_ref().map(|(email, _)| (email, "<redacted>")))
            .field("invite_ttl", &self.invite_ttl)
            .field("smtp_url", &redacted(&self.smtp_url))
            .field("mail_from", &self.mail_from)
            .field("stripe_secret_key", &redacted(&self.stripe_secret_key))
            .field("stripe_webhook_secret", &"<redacted>")
            .field("stripe_api_base", &self.stripe_api_base)
            .field("sandbox_webhook_url", &self.sandbox_webhook_url)
            .field("platform_fee_bps", &self.platform_fee_bps)
            .field("referral_fee_bps", &self.referral_fee_bps)
            .field("routing_escalation_secs", &self.routing_escalation_secs)
            .field("workshop_only_expiry_secs", &self.workshop_only_expiry_secs)
            .field("offer_mail_interval_secs", &self.offer_mail_interval_secs)
            .field("routing_require_payouts", &self.routing_require_payouts)
            .field("payout_interval_hours", &self.payout_interval_hours)
            .field("call", &self.call)
            .field("photo_storage", &self.photo_storage)
            .finish()
    }
}

/// The signing secret every sandbox install once shared, published in this
/// source: anyone could sign events with it. Refused as a configured secret; each
/// sandbox install now makes its own (`payments::sandbox::install_webhook_secret`).
pub const PUBLISHED_SANDBOX_WEBHOOK_SECRET: &str = "whsec_autodoctor_sandbox_local_only";

/// The webhook signing secret from `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET`.
/// Empty in sandbox mode without a configured secret: the install's own secret
/// is read from the database at start-up (`AppState::start`).
pub fn webhook_secret(stripe_key: Option<&str>, secret: Option<String>) -> Result<String, ConfigError> {
    let published = |s: &str| s.trim() == PUBLISHED_SANDBOX_WEBHOOK_SECRET;
    match (stripe_key, secret) {
        (Some(key), Some(secret)) => {
            check(
                key.starts_with("sk_") || key.starts_with("rk_"),
                "STRIPE_SECRET_KEY",
                "must start with sk_ or rk_",
            )?;
            check(secret.starts_with("whsec_"), "STRIPE_WEBHOOK_SECRET", "must start with whsec_")?;
            check(
                !published(&secret),
                "STRIPE_WEBHOOK_SECRET",
                "is the sandbox's published secret; use the signing secret of your Stripe webhook endpoint",
            )?;
            Ok(secret)
        }
        (Some(_), None) => Err(ConfigError {
            var: "STRIPE_WEBHOOK_SECRET",
            message: "must be set with STRIPE_SECRET_KEY (the signing secret of your webhook endpoint)"
                .into(),
        }),
        (None, Some(secret)) => {
            check(
                !published(&secret),
                "STRIPE_WEBHOOK_SECRET",
                "is the sandbox's published secret, which anyone can sign with; leave it unset (the sandbox makes its own)",
            )?;
            Ok(secret)
        }
        (None, None) => Ok(String::new()),
    }
}

impl Config {
    /// Loads `.env` (if present) and reads the configuration from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError { var: ".env", message: e.to_string() }),
        }
        Self::from_current_env()
    }

    /// Reads the configuration from the process environment only.
    pub fn from_current_env() -> Result<Self, ConfigError> {
        let database_url = var("DATABASE_URL").ok_or(ConfigError {
            var: "DATABASE_URL",
            message: "is not set (scripts/run sets it for the local cluster)".into(),
        })?;
        check(
            database_url.starts_with("postgres://") || database_url.starts_with("postgresql://"),
            "DATABASE_URL",
            "must be a postgres:// URL",
        )?;
        let database_max_connections =
            parse_or("DATABASE_MAX_CONNECTIONS", 10u32, "a number of connections")?;
        check(
            (1..=500).contains(&database_max_connections),
            "DATABASE_MAX_CONNECTIONS",
            "must be between 1 and 500",
        )?;
        let connect_secs = parse_or("DATABASE_CONNECT_TIMEOUT_SECS", 5u64, "a number of seconds")?;
        check((1..=300).contains(&connect_secs), "DATABASE_CONNECT_TIMEOUT_SECS", "must be 1 to 300")?;

        let host = parse_or("HOST", IpAddr::from([127, 0, 0, 1]), "an IP address")?;
        let port = parse_or("PORT", 3000u16, "a TCP port")?;
        let default_public = format!("http://{}", SocketAddr::new(host, port));
        let public_url = var("PUBLIC_URL").unwrap_or(default_public);
        check(
            public_url.starts_with("http://") || public_url.starts_with("https://"),
            "PUBLIC_URL",
            "must start with http:// or https://",
        )?;
        let public_url = public_url.trim_end_matches('/').to_string();

        let site_root = var("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into());
        let log_format = match var("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    var: "LOG_FORMAT",
                    message: format!("expected text or json, got {other:?}"),
                })
            }
        };

        let idle_minutes = parse_or("SESSION_IDLE_MINUTES", 720u64, "a number of minutes")?;
        check((5..=60 * 24 * 30).contains(&idle_minutes), "SESSION_IDLE_MINUTES", "must be 5 to 43200")?;
        let absolute_hours = parse_or("SESSION_ABSOLUTE_HOURS", 168u64, "a number of hours")?;
        check((1..=24 * 90).contains(&absolute_hours), "SESSION_ABSOLUTE_HOURS", "must be 1 to 2160")?;
        let rate_limit_scale = parse_or("RATE_LIMIT_SCALE", 1u32, "a whole number")?;
        check((1..=100_000).contains(&rate_limit_scale), "RATE_LIMIT_SCALE", "must be 1 to 100000")?;
        let grace_secs = parse_or("SHUTDOWN_GRACE_SECS", 20u64, "a number of seconds")?;
        check((1..=600).contains(&grace_secs), "SHUTDOWN_GRACE_SECS", "must be 1 to 600")?;
        let trust_proxy = parse_or("TRUST_PROXY", false, "true or false")?;
        let mut login_throttle = ThrottleRules::default();
        login_throttle.free_per_account =
            parse_or("LOGIN_FREE_ATTEMPTS", login_throttle.free_per_account, "a number of attempts")?;
        check(
            (1..=100).contains(&login_throttle.free_per_account),
            "LOGIN_FREE_ATTEMPTS",
            "must be 1 to 100",
        )?;
        let bootstrap_admin = match (var("ADMIN_EMAIL"), var("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => {
                let email = crate::validate::normalize_email(&email);
                check(crate::validate::email_looks_valid(&email), "ADMIN_EMAIL", "is not an email address")?;
                if let Some(problem) = crate::validate::password_problem(&password) {
                    return Err(ConfigError { var: "ADMIN_PASSWORD", message: problem });
                }
                Some((email, password))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError {
                    var: "ADMIN_PASSWORD",
                    message: "must be set with ADMIN_EMAIL".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    var: "ADMIN_EMAIL",
                    message: "must be set with ADMIN_PASSWORD".into(),
                })
            }
        };

        let invite_days = parse_or("INVITE_TTL_DAYS", 7i64, "a number of days")?;
        check((1..=90).contains(&invite_days), "INVITE_TTL_DAYS", "must be 1 to 90")?;
        let smtp_url = var("SMTP_URL");
        if let Some(url) = &smtp_url {
            check(
                url.starts_with("smtp://") || url.starts_with("smtps://"),
                "SMTP_URL",
                "must start with smtp:// or smtps://",
            )?;
        }
        let mail_from = var("MAIL_FROM").unwrap_or_else(|| "autodoctor <no-reply@autodoctor.test>".into());

        let stripe_secret_key = var("STRIPE_SECRET_KEY");
        let stripe_webhook_secret = var("STRIPE_WEBHOOK_SECRET");
        let stripe_webhook_secret = webhook_secret(stripe_secret_key.as_deref(), stripe_webhook_secret)?;
        let stripe_api_base = var("STRIPE_API_BASE");
        if let Some(base) = &stripe_api_base {
            check(
                base.starts_with("http") && base.ends_with('/'),
                "STRIPE_API_BASE",
                "must be an http(s) URL ending in /",
            )?;
        }
        let loopback = if host.is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { host };
        let sandbox_webhook_url = var("SANDBOX_WEBHOOK_URL")
            .unwrap_or_else(|| format!("http://{}/api/stripe/webhook", SocketAddr::new(loopback, port)));
        let platform_fee_bps = parse_or("PLATFORM_FEE_BPS", 2000i32, "basis points (2000 = 20%)")?;
        check((0..=10_000).contains(&platform_fee_bps), "PLATFORM_FEE_BPS", "must be 0 to 10000")?;
        let referral_fee_bps = parse_or("REFERRAL_FEE_BPS", 1000i32, "basis points (1000 = 10%)")?;
        check(
            (0..=10_000).contains(&referral_fee_bps) && platform_fee_bps + referral_fee_bps <= 10_000,
            "REFERRAL_FEE_BPS",
            "must be 0 to 10000, and with PLATFORM_FEE_BPS at most 10000",
        )?;

        let routing_escalation_secs = parse_or("ROUTING_ESCALATION_SECS", 60i64, "a number of seconds")?;
        check(
            (1..=86_400).contains(&routing_escalation_secs),
            "ROUTING_ESCALATION_SECS",
            "must be 1 to 86400",
        )?;
        let expiry_minutes = parse_or("WORKSHOP_ONLY_EXPIRY_MINUTES", 10i64, "a number of minutes")?;
        check((1..=1440).contains(&expiry_minutes), "WORKSHOP_ONLY_EXPIRY_MINUTES", "must be 1 to 1440")?;
        let routing_require_payouts = parse_or("ROUTING_REQUIRE_PAYOUTS", false, "true or false")?;
        let offer_mail_interval_secs = parse_or("OFFER_MAIL_INTERVAL_SECS", 300i64, "a number of seconds")?;
        check(
            (10..=86_400).contains(&offer_mail_interval_secs),
            "OFFER_MAIL_INTERVAL_SECS",
            "must be 10 to 86400",
        )?;
        let payout_interval_hours = parse_or("PAYOUT_INTERVAL_HOURS", 168i64, "a number of hours (0 = off)")?;
        check((0..=24 * 90).contains(&payout_interval_hours), "PAYOUT_INTERVAL_HOURS", "must be 0 to 2160")?;

        Ok(Config {
            database_url,
            database_max_connections,
            database_connect_timeout: Duration::from_secs(connect_secs),
            host,
            port,
            public_url,
            site_root,
            log_format,
            session_idle_timeout: Duration::from_secs(idle_minutes * 60),
            shutdown_grace: Duration::from_secs(grace_secs),
            rate_limit_scale,
            session_absolute_timeout: Duration::from_secs(absolute_hours * 3600),
            trust_proxy,
            login_throttle,
            bootstrap_admin,
            invite_ttl: chrono::Duration::days(invite_days),
            smtp_url,
            mail_from,
            stripe_secret_key,
            stripe_webhook_secret,
            stripe_api_base,
            sandbox_webhook_url,
            platform_fee_bps,
            referral_fee_bps,
            routing_escalation_secs,
            workshop_only_expiry_secs: expiry_minutes * 60,
            offer_mail_interval_secs,
            routing_require_payouts,
            payout_interval_hours,
            call: CallConfig::from_env()?,
            photo_storage: photo_storage::from_env()?,
        })
    }

    pub fn site_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Whether cookies must be marked `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of the public URL, for same-origin checks.
    pub fn public_origin(&self) -> &str {
        &self.public_url
    }
}

/// Limits on failed log-ins (see `auth::throttle`).
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

#[cfg(test)]
mod tests {
    use super::*;

    // These tests never change the environment: `set_var` in a multi-threaded test
    // binary races with every other test reading it (audit L10).
    #[test]
    fn parse_or_names_the_variable() {
        let err =
            parse_value::<u16>("AUTODOCTOR_TEST_PORT_VALUE", Some("not-a-port".into()), 1, "a TCP port")
                .unwrap_err();
        assert_eq!(err.var, "AUTODOCTOR_TEST_PORT_VALUE");
        assert!(err.to_string().contains("AUTODOCTOR_TEST_PORT_VALUE"));
        assert!(err.to_string().contains("not-a-port"));
        assert_eq!(parse_value::<u16>("P", Some(" 8080 ".into()), 1, "a TCP port").unwrap(), 8080);
    }

    #[test]
    fn the_published_sandbox_secret_is_refused_in_both_modes() {
        let published = Some(PUBLISHED_SANDBOX_WEBHOOK_SECRET.to_string());
        let stripe = webhook_secret(Some("sk_test_123"), published.clone()).unwrap_err();
        assert_eq!(stripe.var, "STRIPE_WEBHOOK_SECRET");
        assert!(stripe.to_string().contains("published"), "{stripe}");
        assert_eq!(webhook_secret(None, published).unwrap_err().var, "STRIPE_WEBHOOK_SECRET");
        assert_eq!(webhook_secret(Some("sk_test_123"), Some("whsec_real".into())).unwrap(), "whsec_real");
        assert_eq!(webhook_secret(None, Some("whsec_mine".into())).unwrap(), "whsec_mine");
        assert_eq!(
            webhook_secret(None, None).unwrap(),
            "",
            "the install's own secret comes from the database"
        );
        assert_eq!(webhook_secret(Some("sk_test_123"), None).unwrap_err().var, "STRIPE_WEBHOOK_SECRET");
    }

    #[test]
    fn parse_or_uses_default_when_absent_or_empty() {
        assert_eq!(parse_value("AUTODOCTOR_TEST_ABSENT", None, 7u32, "n").unwrap(), 7);
        assert_eq!(parse_value("AUTODOCTOR_TEST_EMPTY", Some("  ".into()), 9u32, "n").unwrap(), 9);
        // And parse_or reads the environment: a variable no one sets gives the default.
        assert_eq!(parse_or("AUTODOCTOR_TEST_NEVER_SET_BY_ANYONE", 5u32, "n").unwrap(), 5);
    }
}
