//! The diagnostic session: the room its customer and mechanic share, with chat,
//! the mechanic ending the session, and the customer's rating; and the
//! mechanic's list of their sessions.

pub mod api;
pub mod call;
pub mod clock;
pub mod clock_view;
pub mod pages;
pub mod photos;
pub mod report;

#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod room;

pub use crate::status::SessionStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ChatLine {
    pub id: i64,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// A photo sent with the message (the body is then its caption, maybe empty).
    pub photo_id: Option<Uuid>,
}

/// Everything the session room shows; the same for both participants, with
/// `viewer_is_mechanic` telling which one is looking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionRoom {
    pub session_id: Uuid,
    pub order_id: Uuid,
    pub status: SessionStatus,
    pub viewer_is_mechanic: bool,
    pub customer_name: String,
    pub mechanic_name: String,
    pub workshop_name: Option<String>,
    pub plan_name: String,
    pub minutes: i32,
    pub vehicle: String,
    pub problem: String,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the plan includes the video call (the chat plan does not).
    pub includes_call: bool,
    /// The session clock, once started.
    pub clock: Option<clock::ClockTimes>,
    pub rating: Option<i16>,
    pub rating_comment: Option<String>,
    pub messages: Vec<ChatLine>,
    /// The mechanic's written diagnosis, once saved.
    pub report: Option<report::Report>,
}

/// One of the mechanic's sessions on their dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MechanicSession {
    pub session_id: Uuid,
    pub customer_name: String,
    pub plan_name: String,
    pub vehicle: String,
    pub status: SessionStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub const CHAT_MAX_CHARS: usize = 2000;
pub const RATING_COMMENT_MAX_CHARS: usize = 1000;
