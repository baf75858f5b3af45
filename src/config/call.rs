//! The session room's settings: the servers browsers use to find each other
//! (STUN) and to relay media when they cannot (TURN, with short-lived
//! credentials from a shared secret, the TURN REST scheme coturn implements),
//! and the session clock.

use super::parse::{check, parse_or, var};
use super::ConfigError;

#[derive(Clone, PartialEq, Eq)]
pub struct CallConfig {
    /// `stun:` URLs (none by default: on one network, host candidates suffice).
    pub stun_urls: Vec<String>,
    /// `turn:`/`turns:` URLs of a relay sharing `turn_secret` (coturn's `static-auth-secret`).
    pub turn_urls: Vec<String>,
    pub turn_secret: Option<String>,
    /// How long a TURN credential lasts.
    pub turn_ttl_secs: i64,
    /// `relay` makes browsers use the TURN relay only (hides their addresses from each other).
    pub relay_only: bool,
    /// A plan minute, in seconds (60; shorter for tests and demos).
    pub seconds_per_minute: u32,
    /// After the plan's time, how long the call may go on before it closes.
    pub grace_secs: u32,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl_secs: 3600,
            relay_only: false,
            seconds_per_minute: 60,
            grace_secs: 120,
        }
    }
}

impl std::fmt::Debug for CallConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallConfig")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &super::redacted(&self.turn_secret))
            .field("turn_ttl_secs", &self.turn_ttl_secs)
            .field("relay_only", &self.relay_only)
            .field("seconds_per_minute", &self.seconds_per_minute)
            .field("grace_secs", &self.grace_secs)
            .finish()
    }
}

fn url_list(name: &'static str, schemes: &[&str]) -> Result<Vec<String>, ConfigError> {
    let urls: Vec<String> = var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect();
    for u in &urls {
        check(
            schemes.iter().any(|s| u.starts_with(s)) && u.len() <= 200,
            name,
            &format!("must be a comma-separated list of {} URLs", schemes.join(" or ")),
        )?;
    }
    Ok(urls)
}

impl CallConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = CallConfig::default();
        let stun_urls = url_list("STUN_URLS", &["stun:", "stuns:"])?;
        let turn_urls = url_list("TURN_URLS", &["turn:", "turns:"])?;
        let turn_secret = var("TURN_SECRET");
        check(turn_urls.is_empty() || turn_secret.is_some(), "TURN_SECRET", "must be set with TURN_URLS")?;
        check(
            turn_secret.as_ref().is_none_or(|s| s.len() >= 16),
            "TURN_SECRET",
            "must be at least 16 characters",
        )?;
        let turn_ttl_secs = parse_or("TURN_TTL_SECS", d.turn_ttl_secs, "a number of seconds")?;
        check((60..=86_400).contains(&turn_ttl_secs), "TURN_TTL_SECS", "must be 60 to 86400")?;
        let relay_only = match var("ICE_TRANSPORT_POLICY").as_deref() {
            None | Some("all") => false,
            Some("relay") => true,
            Some(_) => {
                return Err(ConfigError {
                    var: "ICE_TRANSPORT_POLICY",
                    message: "expected all or relay".into(),
                })
            }
        };
        check(!relay_only || !turn_urls.is_empty(), "ICE_TRANSPORT_POLICY", "relay needs TURN_URLS")?;
        let seconds_per_minute =
            parse_or("SESSION_SECONDS_PER_MINUTE", d.seconds_per_minute, "a number of seconds")?;
        check((1..=60).contains(&seconds_per_minute), "SESSION_SECONDS_PER_MINUTE", "must be 1 to 60")?;
        let grace_secs = parse_or("CALL_GRACE_SECS", d.grace_secs, "a number of seconds")?;
        check(grace_secs <= 3600, "CALL_GRACE_SECS", "must be 0 to 3600")?;
        Ok(CallConfig {
            stun_urls,
            turn_urls,
            turn_secret,
            turn_ttl_secs,
            relay_only,
            seconds_per_minute,
            grace_secs,
        })
    }
}
