//! Typed ids, so that a workshop's id cannot be passed where a user's is
//! expected. Each wraps the row's uuid: on the wire (serde) it is the bare uuid,
//! and in SQL it binds as one (`sqlx(transparent)`). A mechanic is a user: their
//! id is a [`UserId`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub Uuid);

        impl $name {
            /// The uuid inside, for SQL parameters and URLs.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// A user's id (`users.id`): customers, mechanics, workshop members and admins.
    UserId
);
typed_id!(
    /// A workshop's id (`organizations.id`).
    WorkshopId
);
typed_id!(
    /// A diagnostic session's id (`sessions.id`); never a log-in session's.
    SessionId
);
typed_id!(
    /// A session request's id (`session_requests.id`): a paid order waiting for a mechanic.
    RequestId
);
typed_id!(
    /// An order's id (`orders.id`): what a customer bought and paid for.
    OrderId
);
typed_id!(
    /// A payout's id (`payouts.id`): one transfer to a workshop or an independent mechanic.
    PayoutId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_bare_uuid_on_the_wire_and_in_text() {
        let u = Uuid::parse_str("6f1c2a9e-0b7d-4c1e-9a55-3c2d1e0f4b7a").unwrap();
        assert_eq!(serde_json::to_string(&WorkshopId(u)).unwrap(), format!("\"{u}\""));
        assert_eq!(serde_json::from_str::<UserId>(&format!("\"{u}\"")).unwrap(), UserId(u));
        assert_eq!(WorkshopId(u).to_string(), u.to_string());
        assert_eq!(UserId(u).uuid(), u);
        assert_eq!(serde_json::to_string(&OrderId(u)).unwrap(), format!("\"{u}\""));
        assert_eq!(PayoutId(u).to_string(), u.to_string());
    }
}
