//! Accounts, roles, log-in sessions and the authorization helpers every server
//! function and route uses.

#[cfg(feature = "ssr")]
pub mod admin;
pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod login;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod queries;
#[cfg(feature = "ssr")]
pub mod signup;
#[cfg(feature = "ssr")]
pub mod throttle;

pub use crate::account::{CurrentUser, Role};
pub use crate::url::safe_next_path;
pub use crate::validate::{
    email_looks_valid, name_problem, normalize_email, password_problem, EMAIL_MAX, NAME_MAX, PASSWORD_MAX,
    PASSWORD_MIN,
};
