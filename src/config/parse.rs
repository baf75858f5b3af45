//! Reading one variable: absent, empty, or a value that must parse; and the
//! error that names the variable when it does not.

use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

/// Reads a variable, treating an empty value like an absent one.
pub(super) fn var(name: &str) -> Option<String> {
    present(std::env::var(name).ok())
}

/// A variable's value, trimmed; an empty one counts as absent.
pub(super) fn present(raw: Option<String>) -> Option<String> {
    raw.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

pub(super) fn parse_or<T: FromStr>(name: &'static str, default: T, what: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    parse_value(name, std::env::var(name).ok(), default, what)
}

/// `parse_or` on a given raw value (what the environment holds for `name`), so
/// tests need not change the process's environment.
pub(super) fn parse_value<T: FromStr>(
    name: &'static str,
    raw: Option<String>,
    default: T,
    what: &str,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match present(raw) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<T>()
            .map_err(|e| ConfigError { var: name, message: format!("expected {what}, got {raw:?} ({e})") }),
    }
}

pub(super) fn check(ok: bool, var: &'static str, message: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError { var, message: message.to_string() })
    }
}
