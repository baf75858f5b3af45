//! Finishing a sign-up from the link emailed to the address (issue 16, item
//! 10f; the forms start it in `auth::signup`). `/confirm/{token}` says what the
//! link is for and offers one button, so that a mail scanner that opens links
//! creates nothing; the button creates the account (a customer, an independent
//! mechanic with their application, or a workshop's owner with the workshop)
//! and logs it in. `/check-email` is where every sign-up form sends people.

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
mod accounts;

use serde::{Deserialize, Serialize};

/// What a valid link is for, shown before the person confirms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignUp {
    pub email: String,
    pub name: String,
    pub role: crate::account::Role,
}

impl PendingSignUp {
    pub fn what(&self) -> &'static str {
        match self.role {
            crate::account::Role::Mechanic => "your independent mechanic's account and application",
            crate::account::Role::WorkshopMember => "your workshop and its owner's account",
            _ => "your account",
        }
    }
}

/// The answer to a link that is not (or no longer) valid.
pub const LINK_PROBLEM: &str =
    "This link is not valid: it was already used, it expired, or it was copied incompletely. Sign up again to get a new one.";
