//! Password hashing with argon2id (OWASP parameters: m=19 MiB, t=2, p=1).
//!
//! Hashing takes tens of milliseconds of CPU, so it runs on the blocking pool,
//! never on the async workers, and at most one hash per core runs at a time:
//! each needs 19 MiB, and a burst of log-ins must not turn into a burst of
//! memory (or starve the cores the rest of the app needs).

use crate::error::AppError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn hasher() -> Argon2<'static> {
    // Spelled out rather than Argon2::default() so that a change of the crate's
    // defaults cannot silently weaken or slow down hashing.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Every password hashed, in tests: they check that a hash is (or is not) computed.
/// Only in test builds (`test-hooks`, which only the dev-dependency turns on).
#[cfg(any(test, feature = "test-hooks"))]
#[doc(hidden)]
pub static HASHED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn hash_blocking(password: &str) -> Result<String, AppError> {
    #[cfg(any(test, feature = "test-hooks"))]
    HASHED.lock().unwrap().push(password.to_string());
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal("password hashing failed", e))
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the email is unknown so
/// that a failed log-in costs the same time whether or not the account exists.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        hash_blocking(&uuid::Uuid::new_v4().to_string()).unwrap_or_else(|_| {
            // Never happens with valid parameters; a fixed PHC string keeps the cost.
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3c2QjTIp4G0P7U1Ol1rX1nY5cZVVrCDSGJc8vA8o7bQ".into()
        })
    })
}

/// Log-ins verify on slots of their own (one per core); new passwords (sign-up,
/// applications, invites, password changes) hash on one slot shared among them,
/// so a flood of sign-ups never queues in front of anyone's log-in.
async fn slot(
    slots: &'static OnceLock<tokio::sync::Semaphore>,
    permits: fn() -> usize,
) -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    slots
        .get_or_init(|| tokio::sync::Semaphore::new(permits()))
        .acquire()
        .await
        .map_err(|e| AppError::internal("password hashing slots closed", e))
}

async fn log_in_slot() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    slot(&SLOTS, || std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).await
}

async fn new_password_slot() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    slot(&SLOTS, || 1).await
}

pub async fn hash(password: String) -> Result<String, AppError> {
    let slot = new_password_slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        hash_blocking(&password)
    })
    .await
    .map_err(|e| AppError::internal("password hashing task failed", e))?
}

/// Verifies `password` against the stored hash, or against a decoy when there is
/// no account, taking the same time either way.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let slot = log_in_slot().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        match stored {
            Some(phc) => verify_blocking(&password, &phc),
            None => {
                let _ = verify_blocking(&password, decoy_hash());
                false
            }
        }
    })
    .await
    .map_err(|e| AppError::internal("password verification task failed", e))
}

/// Warms the decoy hash at start-up so the first unknown-email log-in is not slower.
pub fn warm_up() {
    tokio::task::spawn_blocking(|| {
        let _ = decoy_hash();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery".into(), Some(phc.clone())).await.unwrap());
        assert!(!verify("wrong".into(), Some(phc)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
        assert!(!verify("anything".into(), Some("not a hash".into())).await.unwrap());
    }
}
