//! ICE servers for a participant's browser, with TURN credentials in the TURN
//! REST scheme that coturn implements (`use-auth-secret`): the username is
//! `<unix expiry>:<session>-<side>` and the password base64(HMAC-SHA1(secret,
//! username)). coturn refuses the credential after the expiry, so a page never
//! holds a lasting password, and its logs tie relayed traffic to a session.

use super::{IceConfig, IceServer};
use crate::config::CallConfig;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};

/// A TURN credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnCredential {
    pub username: String,
    pub credential: String,
    pub expires_at: i64,
}

/// The password coturn expects for `username` under `secret`.
pub fn turn_password(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A credential for one side of one session, valid until `now + ttl`, and
/// never past `not_after` (when the call closes, plus a little for a last
/// reconnect) when the clock has started.
pub fn credential(
    secret: &str,
    session: crate::ids::SessionId,
    is_mechanic: bool,
    now: DateTime<Utc>,
    ttl_secs: i64,
    not_after: Option<DateTime<Utc>>,
) -> TurnCredential {
    let session = session.uuid();
    let mut expires_at = now.timestamp() + ttl_secs;
    if let Some(limit) = not_after {
        expires_at = expires_at.min(limit.timestamp() + 60).max(now.timestamp() + 60);
    }
    let side = if is_mechanic { 'm' } else { 'c' };
    let username = format!("{expires_at}:{}-{side}", session.simple());
    TurnCredential { credential: turn_password(secret, &username), username, expires_at }
}

/// Whether a credential is still good at `now` (what coturn checks, for tests and diagnostics).
pub fn credential_valid(secret: &str, username: &str, password: &str, now: DateTime<Utc>) -> bool {
    let Some((expiry, _)) = username.split_once(':') else { return false };
    let Ok(expiry) = expiry.parse::<i64>() else { return false };
    expiry > now.timestamp() && turn_password(secret, username) == password
}

/// The ICE configuration for one participant.
pub fn ice_config(
    config: &CallConfig,
    session: crate::ids::SessionId,
    is_mechanic: bool,
    now: DateTime<Utc>,
    not_after: Option<DateTime<Utc>>,
) -> IceConfig {
    let session = session.uuid();
    let mut ice_servers = Vec::new();
    if !config.stun_urls.is_empty() {
        ice_servers.push(IceServer { urls: config.stun_urls.clone(), username: None, credential: None });
    }
    let mut expires_at = None;
    if let (false, Some(secret)) = (config.turn_urls.is_empty(), &config.turn_secret) {
        let c = credential(
            secret,
            crate::ids::SessionId(session),
            is_mechanic,
            now,
            config.turn_ttl_secs,
            not_after,
        );
        expires_at = Some(c.expires_at);
        ice_servers.push(IceServer {
            urls: config.turn_urls.clone(),
            username: Some(c.username),
            credential: Some(c.credential),
        });
    }
    IceConfig {
        ice_servers,
        ice_transport_policy: if config.relay_only { "relay" } else { "all" }.into(),
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
    }

    #[test]
    fn the_password_is_coturns_hmac_sha1() {
        // Computed independently: printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 'north-wind-secret' -binary | base64
        assert_eq!(turn_password("north-wind-secret", "1700000000:alice"), "r/l6ttQtMIfbS2lfULS0mDRRNUg=");
    }

    #[test]
    fn credentials_expire_and_are_bound_to_the_session_and_side() {
        let session = Uuid::from_u128(0x1234);
        let c = credential("s3cret-s3cret-s3cret", crate::ids::SessionId(session), false, now(), 600, None);
        assert_eq!(c.expires_at, now().timestamp() + 600);
        assert_eq!(c.username, format!("{}:{}-c", now().timestamp() + 600, session.simple()));
        assert!(credential_valid("s3cret-s3cret-s3cret", &c.username, &c.credential, now()));
        assert!(!credential_valid(
            "s3cret-s3cret-s3cret",
            &c.username,
            &c.credential,
            now() + chrono::Duration::seconds(600)
        ));
        assert!(!credential_valid("another-secret-xx", &c.username, &c.credential, now()));
        // Another session or the other side gets another credential, and one cannot be moved to the other.
        let other = credential(
            "s3cret-s3cret-s3cret",
            crate::ids::SessionId(Uuid::from_u128(0x5678)),
            false,
            now(),
            600,
            None,
        );
        assert_ne!(other.credential, c.credential);
        let forged = format!("{}:{}-c", now().timestamp() + 600, Uuid::from_u128(0x5678).simple());
        assert!(!credential_valid("s3cret-s3cret-s3cret", &forged, &c.credential, now()));
        let mechanic =
            credential("s3cret-s3cret-s3cret", crate::ids::SessionId(session), true, now(), 600, None);
        assert!(mechanic.username.ends_with("-m"));
    }

    #[test]
    fn a_started_clock_caps_the_expiry() {
        let closes = now() + chrono::Duration::seconds(300);
        let c = credential(
            "s3cret-s3cret-s3cret",
            crate::ids::SessionId(Uuid::nil()),
            true,
            now(),
            3600,
            Some(closes),
        );
        assert_eq!(c.expires_at, closes.timestamp() + 60);
        // Past the close, a credential still lives a minute (the server refuses the call by then anyway).
        let late = credential(
            "s3cret-s3cret-s3cret",
            crate::ids::SessionId(Uuid::nil()),
            true,
            now(),
            3600,
            Some(now() - chrono::Duration::hours(1)),
        );
        assert_eq!(late.expires_at, now().timestamp() + 60);
    }

    #[test]
    fn ice_config_lists_stun_and_turn_and_the_policy() {
        let mut config = CallConfig::default();
        let none = ice_config(&config, crate::ids::SessionId(Uuid::nil()), false, now(), None);
        assert!(none.ice_servers.is_empty());
        assert_eq!(none.ice_transport_policy, "all");
        assert_eq!(none.expires_at, None);
        config.stun_urls = vec!["stun:stun.example.org:3478".into()];
        config.turn_urls = vec!["turn:turn.example.org:3478?transport=udp".into()];
        config.turn_secret = Some("s3cret-s3cret-s3cret".into());
        config.relay_only = true;
        let both = ice_config(&config, crate::ids::SessionId(Uuid::nil()), false, now(), None);
        assert_eq!(both.ice_servers.len(), 2);
        assert_eq!(both.ice_servers[0].username, None);
        let turn = &both.ice_servers[1];
        assert!(credential_valid(
            "s3cret-s3cret-s3cret",
            turn.username.as_deref().unwrap(),
            turn.credential.as_deref().unwrap(),
            now()
        ));
        assert_eq!(both.ice_transport_policy, "relay");
        let json = serde_json::to_value(&both).unwrap();
        assert!(json.get("iceServers").is_some() && json.get("iceTransportPolicy").is_some());
    }
}
