//! Who a person is on the platform: their role and the logged-in user as pages
//! see them. Shared by the server, the pages and the shared components.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a person is on the platform. One account has exactly one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(type_name = "user_role", rename_all = "snake_case"))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Mechanic,
    /// An owner or staff member of a workshop (see `organization_members`).
    WorkshopMember,
    Admin,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Customer => "Customer",
            Role::Mechanic => "Mechanic",
            Role::WorkshopMember => "Workshop",
            Role::Admin => "Platform admin",
        }
    }

    /// Where this role starts after logging in.
    pub fn home_path(self) -> &'static str {
        match self {
            Role::Customer => "/sessions",
            Role::Mechanic => "/mechanic",
            Role::WorkshopMember => "/workshop",
            Role::Admin => "/admin",
        }
    }
}

/// The logged-in person as pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
}
