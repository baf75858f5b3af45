//! Email invites from a workshop owner to a mechanic: creating, resending and
//! revoking them, and accepting one (a new account, or an existing independent
//! mechanic joining).

pub mod api;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub use crate::token;

use serde::{Deserialize, Serialize};

/// What an invite link leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteLinkState {
    /// Usable now.
    Valid,
    /// No invite has this token (mistyped or truncated link).
    Invalid,
    Expired,
    /// Already used to create or link an account.
    Used,
    Revoked,
    /// The workshop is not active (suspended or not approved).
    WorkshopUnavailable,
}

impl InviteLinkState {
    /// A sentence for the person holding the link: what happened and what to do.
    pub fn explanation(self) -> &'static str {
        match self {
            InviteLinkState::Valid => "",
            InviteLinkState::Invalid => {
                "This invite link is not valid. Check that you copied the whole link from the email, \
                 or ask the workshop to send you a new invite."
            }
            InviteLinkState::Expired => {
                "This invite has expired. Ask the workshop to resend it: you will get a new link by email."
            }
            InviteLinkState::Used => {
                "This invite has already been used. If it was you, log in with the email it was sent to."
            }
            InviteLinkState::Revoked => {
                "The workshop has withdrawn this invite. Contact them if you think this is a mistake."
            }
            InviteLinkState::WorkshopUnavailable => {
                "This workshop is not taking on mechanics on autodoctor at the moment. Contact the workshop, \
                 or apply as an independent mechanic."
            }
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            InviteLinkState::Valid => "Join the workshop",
            InviteLinkState::Invalid => "Invite link not valid",
            InviteLinkState::Expired => "Invite expired",
            InviteLinkState::Used => "Invite already used",
            InviteLinkState::Revoked => "Invite withdrawn",
            InviteLinkState::WorkshopUnavailable => "Workshop unavailable",
        }
    }
}

/// How the person looking at a valid invite relates to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteViewer {
    /// Not logged in, and no account uses the invited email: sign up here.
    NewMechanic,
    /// Not logged in, but the invited email has an account: log in to join.
    ExistingAccount,
    /// Logged in as the invited, independent mechanic: one click to join.
    CanJoin,
    /// Logged in as someone else (another email, or not an independent mechanic).
    OtherAccount { email: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteDetails {
    pub state: InviteLinkState,
    pub workshop_name: Option<String>,
    pub email: Option<String>,
    pub viewer: Option<InviteViewer>,
}
