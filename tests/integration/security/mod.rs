//! The reliability and security suite (tests only): who may call what, what
//! hostile input does, and what a long run of bookings with replayed webhooks
//! leaves behind. The crash tests are end-to-end (`end2end/tests/faults.test.mjs`),
//! because a crash needs a real process to kill.
//!
//! Each suite runs on its own fresh database through the real router.

mod authz_db_tests;
mod hostile_db_tests;
mod lifecycle_db_tests;
mod lifecycle_model;
mod revocation_db_tests;
mod soak_db_tests;

use crate::testing::fixtures::{
    completed_session_for, connect, mechanic, owner, paid_request, plan, workshop,
};
use crate::testing::{create_user, TestApp, TestClient, TEST_PASSWORD};
use autodoctor::auth::Role;
use autodoctor::dispatch::RoutingType;
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

/// The people the suites act as. Workshop A and B are active; every object in
/// the world belongs to the customer, to workshop A or to its mechanic, so the
/// second customer, workshop B and its people are "someone else".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    Anon,
    Cust,
    Cust2,
    MechA,
    MechB,
    Indie,
    OwnerA,
    OwnerB,
    Admin,
}

pub const EVERYONE: [Who; 9] = [
    Who::Anon,
    Who::Cust,
    Who::Cust2,
    Who::MechA,
    Who::MechB,
    Who::Indie,
    Who::OwnerA,
    Who::OwnerB,
    Who::Admin,
];

impl Who {
    pub fn email(self) -> Option<&'static str> {
        Some(match self {
            Who::Anon => return None,
            Who::Cust => "cust@example.com",
            Who::Cust2 => "cust2@example.com",
            Who::MechA => "mech.a@example.com",
            Who::MechB => "mech.b@example.com",
            Who::Indie => "indie@example.com",
            Who::OwnerA => "owner.a@example.com",
            Who::OwnerB => "owner.b@example.com",
            Who::Admin => "admin@example.com",
        })
    }
}

/// A world with one object of every kind, and a logged-in client per person.
/// The customer books any available mechanic through the booking form's server
/// function; returns the id of the sandbox checkout session it answers with.
pub async fn start_checkout(customer: &mut TestClient) -> String {
    let key = Uuid::new_v4().to_string();
    let res = customer
        .call(
            "/api/booking/checkout",
            &[
                ("request_key", key.as_str()),
                ("plan_code", "video15"),
                ("vehicle_make", "Toyota"),
                ("vehicle_model", "Corolla"),
                ("vehicle_year", "2016"),
                ("problem_description", "Grinding noise from the front left wheel when braking."),
                ("workshop_id", ""),
                ("routing_type", "broadcast"),
            ],
        )
        .await;
    assert_eq!(res.status, axum::http::StatusCode::OK, "{}", res.body);
    res.json().as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

pub struct World {
    pub app: TestApp,
    /// Named ids and values, substituted for `{name}` in paths and fields.
    pub vars: HashMap<&'static str, String>,
    pub clients: HashMap<Who, TestClient>,
    pub users: HashMap<Who, Uuid>,
}

async fn invite(pool: &PgPool, workshop: Uuid, by: Uuid, email: &str) -> (Uuid, String) {
    let (token, hash) = autodoctor::workshops::invites::token::new_token();
    let id = sqlx::query_scalar(
        "INSERT INTO mechanic_invites (organization_id, email, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, now() + interval '7 days') RETURNING id",
    )
    .bind(workshop)
    .bind(email)
    .bind(hash)
    .bind(by)
    .fetch_one(pool)
    .await
    .unwrap();
    (id, token)
}

impl World {
    pub async fn new(pool: PgPool) -> World {
        let app = TestApp::new(pool.clone());
        let pool = &pool;
        plan(pool).await;
        let a = workshop(pool, "Alpha Garage").await;
        let b = workshop(pool, "Beta Motors").await;
        let mut users = HashMap::new();
        users.insert(Who::Cust, create_user(pool, "cust@example.com", Role::Customer).await);
        users.insert(Who::Cust2, create_user(pool, "cust2@example.com", Role::Customer).await);
        users.insert(Who::MechA, mechanic(pool, "mech.a@example.com", Some(a), true).await);
        users.insert(Who::MechB, mechanic(pool, "mech.b@example.com", Some(b), true).await);
        users.insert(Who::Indie, mechanic(pool, "indie@example.com", None, true).await);
        users.insert(Who::OwnerA, owner(pool, "owner.a@example.com", a).await);
        users.insert(Who::OwnerB, owner(pool, "owner.b@example.com", b).await);
        users.insert(Who::Admin, create_user(pool, "admin@example.com", Role::Admin).await);
        let cust = users[&Who::Cust];
        let mech_a = users[&Who::MechA];
        sqlx::query("UPDATE mechanics SET capacity = 10").execute(pool).await.unwrap();

        let mut vars: HashMap<&'static str, String> = HashMap::new();
        vars.insert("workshop_a", a.to_string());
        vars.insert("workshop_b", b.to_string());
        // Workshop A's logo (served to anyone while A is active).
        sqlx::query(
            "INSERT INTO workshop_logos (workshop_id, image, width, height) VALUES ($1, '\\xffd8ffe0', 1, 1)",
        )
        .bind(a)
        .execute(pool)
        .await
        .unwrap();
        // Someone waiting for the admin: a workshop and an independent mechanic.
        let pending_workshop: Uuid = sqlx::query_scalar(
            "INSERT INTO organizations (name, contact_email, city, status)
             VALUES ('Pending Garage', 'p@example.com', 'Nantes', 'pending') RETURNING id",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        owner(pool, "owner.p@example.com", pending_workshop).await;
        vars.insert("workshop_pending", pending_workshop.to_string());
        let pending_mechanic = mechanic(pool, "pending.mech@example.com", None, false).await;
        sqlx::query("UPDATE mechanics SET application_status = 'pending' WHERE user_id = $1")
            .bind(pending_mechanic)
            .execute(pool)
            .await
            .unwrap();
        vars.insert("mechanic_pending", pending_mechanic.to_string());
        vars.insert("mechanic_a2", mechanic(pool, "mech.a2@example.com", Some(a), false).await.to_string());

        // The customer's requests: one waiting for workshop A, one to widen, one to cancel.
        let (_, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
        vars.insert("request_open", request.to_string());
        // Workshop C has none of the people above: its request is offered to none of them.
        let c = workshop(pool, "Gamma Auto").await;
        mechanic(pool, "mech.c@example.com", Some(c), true).await;
        let (_, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(c)).await;
        vars.insert("request_elsewhere", request.to_string());
        // Workshop A did not answer in time: the customer may open the request to others.
        let (order, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
        sqlx::query("UPDATE session_requests SET status = 'expired', closed_at = now() WHERE id = $1")
            .bind(request)
            .execute(pool)
            .await
            .unwrap();
        vars.insert("order_widen", order.to_string());
        let (order, _) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
        crate::testing::fixtures::sandbox_payment(pool, order).await;
        vars.insert("order_cancel", order.to_string());

        // Sessions of the customer with mechanic A: live (chat, room), one to end, one completed.
        let policy = autodoctor::offers::store::RoutingSettings::from_config(&app.state.config).policy;
        for name in ["live", "end"] {
            let (order, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
            let session = autodoctor::offers::accept::accept(
                pool,
                autodoctor::ids::UserId(mech_a),
                autodoctor::ids::RequestId(request),
                chrono::Utc::now(),
                &policy,
            )
            .await
            .unwrap();
            if name == "end" {
                crate::testing::fixtures::write_report(pool, session, mech_a).await;
            }
            vars.insert(if name == "live" { "order_live" } else { "order_end" }, order.to_string());
            vars.insert(if name == "live" { "session_live" } else { "session_end" }, session.to_string());
        }
        // A photo in the live session's chat.
        let live: Uuid = vars["session_live"].parse().unwrap();
        let photo = crate::testing::fixtures::stored_photo(pool, live, cust).await;
        vars.insert("photo_live", photo.to_string());
        let (order, session) =
            completed_session_for(&app, cust, mech_a, RoutingType::WorkshopOnly, Some(a)).await;
        vars.insert("order_done", order.to_string());
        vars.insert("session_done", session.to_string());
        // The customer's share links to its report: one to open, one to revoke.
        let (_, token) = autodoctor::sessions::report::shares::create(
            pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(cust),
        )
        .await
        .unwrap();
        vars.insert("share_token", token);
        let (share, _) = autodoctor::sessions::report::shares::create(
            pool,
            autodoctor::ids::SessionId(session),
            autodoctor::ids::UserId(cust),
        )
        .await
        .unwrap();
        vars.insert("share_revoke", share.to_string());

        // Workshop A's invites: to resend, to revoke, to look at, and one for the independent mechanic.
        let owner_a = users[&Who::OwnerA];
        vars.insert("invite_resend", invite(pool, a, owner_a, "r@example.com").await.0.to_string());
        vars.insert("invite_revoke", invite(pool, a, owner_a, "v@example.com").await.0.to_string());
        vars.insert("invite_token", invite(pool, a, owner_a, "new.mech@example.com").await.1);
        vars.insert("join_token", invite(pool, a, owner_a, "indie@example.com").await.1);
        // A sign-up waiting for its emailed link.
        vars.insert("signup_token", pending_signup(pool, "pending.person@example.com").await);
        // The customer's one-click unsubscribe links: one live, one used already.
        for (name, used) in [("unsub_token", false), ("unsub_used", true)] {
            let (token, hash) = autodoctor::token::new_token();
            sqlx::query(
                "INSERT INTO mail_unsubscribe_tokens (token_hash, user_id, used_at)
                 VALUES ($1, $2, CASE WHEN $3 THEN now() END)",
            )
            .bind(hash)
            .bind(cust)
            .bind(used)
            .execute(pool)
            .await
            .unwrap();
            vars.insert(name, token);
        }
        // A Connect account in the sandbox, as onboarding makes it.
        vars.insert("connect_account", connect(pool, Some(b), None, false).await);

        let mut clients = HashMap::new();
        for who in EVERYONE {
            clients.insert(who, Self::log_in(&app, who).await);
        }
        // A checkout started by the customer: its hosted page in the sandbox.
        vars.insert("checkout", start_checkout(clients.get_mut(&Who::Cust).unwrap()).await);

        World { app, vars, clients, users }
    }

    /// A client logged in as `who` (a new session each time).
    pub async fn log_in(app: &TestApp, who: Who) -> TestClient {
        let mut client = app.client();
        if let Some(email) = who.email() {
            let res = client.log_in(email, TEST_PASSWORD).await;
            assert_eq!(res.status, axum::http::StatusCode::OK, "log in {email}: {}", res.body);
        }
        client
    }

    /// A form's fields with the world's values; `{new_email}` and `{new_key}` are
    /// new on every call, `{fresh_token}` is a new invite to workshop A and
    /// `{fresh_signup}` a new customer's sign-up link.
    pub async fn expand(&self, fields: &[(&str, &str)], counter: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, v) in fields {
            let mut v = self.fill(v).replace("{new_email}", &format!("new{counter}@example.com"));
            v = v.replace("{new_key}", &Uuid::new_v4().to_string());
            if v == "{fresh_signup}" {
                v = pending_signup(self.app.pool(), &format!("confirming{counter}@example.com")).await;
            }
            if v == "{fresh_token}" {
                let workshop = self.vars["workshop_a"].parse().unwrap();
                let email = format!("invited{counter}@example.com");
                v = invite(self.app.pool(), workshop, self.users[&Who::OwnerA], &email).await.1;
            }
            out.push((k.to_string(), v));
        }
        out
    }

    /// Replaces a one-shot object (one that a successful call finishes: an order
    /// cancelled, a session ended or rated, a request accepted, a decision made)
    /// with a new one in the same state, so the next call meets a live object.
    /// Returns false for names that are not one-shot.
    pub async fn renew(&mut self, name: &str, counter: usize) -> bool {
        let pool = self.app.pool().clone();
        let pool = &pool;
        let a: Uuid = self.vars["workshop_a"].parse().unwrap();
        let cust = self.users[&Who::Cust];
        let mech_a = self.users[&Who::MechA];
        let owner_a = self.users[&Who::OwnerA];
        let fresh = Uuid::new_v4().simple().to_string();
        let value = match name {
            "order_widen" => {
                let (order, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
                sqlx::query(
                    "UPDATE session_requests SET status = 'expired', closed_at = now() WHERE id = $1",
                )
                .bind(request)
                .execute(pool)
                .await
                .unwrap();
                order.to_string()
            }
            "order_cancel" => {
                let (order, _) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
                crate::testing::fixtures::sandbox_payment(pool, order).await;
                order.to_string()
            }
            "request_open" => {
                paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await.1.to_string()
            }
            "session_end" => {
                let policy =
                    autodoctor::offers::store::RoutingSettings::from_config(&self.app.state.config).policy;
                let (_, request) = paid_request(pool, cust, RoutingType::WorkshopOnly, Some(a)).await;
                let session = autodoctor::offers::accept::accept(
                    pool,
                    autodoctor::ids::UserId(mech_a),
                    autodoctor::ids::RequestId(request),
                    chrono::Utc::now(),
                    &policy,
                )
                .await
                .unwrap();
                crate::testing::fixtures::write_report(pool, session, mech_a).await;
                session.to_string()
            }
            "session_done" | "order_done" => {
                let (order, session) =
                    completed_session_for(&self.app, cust, mech_a, RoutingType::WorkshopOnly, Some(a)).await;
                self.vars.insert("order_done", order.to_string());
                self.vars.insert("session_done", session.to_string());
                return true;
            }
            "share_revoke" => {
                let session = autodoctor::ids::SessionId(self.vars["session_done"].parse().unwrap());
                autodoctor::sessions::report::shares::create(pool, session, autodoctor::ids::UserId(cust))
                    .await
                    .unwrap()
                    .0
                    .to_string()
            }
            "invite_revoke" => {
                invite(pool, a, owner_a, &format!("v{counter}.{fresh}@example.com")).await.0.to_string()
            }
            "mechanic_a2" => {
                mechanic(pool, &format!("mech.a2.{fresh}@example.com"), Some(a), false).await.to_string()
            }
            "workshop_pending" => {
                let id: Uuid = sqlx::query_scalar(
                    "INSERT INTO organizations (name, contact_email, city, status)
                     VALUES ('Pending Garage', 'p@example.com', 'Nantes', 'pending') RETURNING id",
                )
                .fetch_one(pool)
                .await
                .unwrap();
                owner(pool, &format!("owner.p.{fresh}@example.com"), id).await;
                id.to_string()
            }
            "mechanic_pending" => {
                let id = mechanic(pool, &format!("pending.mech.{fresh}@example.com"), None, false).await;
                sqlx::query("UPDATE mechanics SET application_status = 'pending' WHERE user_id = $1")
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
                id.to_string()
            }
            _ => return false,
        };
        let key = *self.vars.keys().find(|k| **k == name).unwrap();
        self.vars.insert(key, value);
        true
    }

    /// Replaces each `{name}` with the world's value.
    pub fn fill(&self, template: &str) -> String {
        let mut out = template.to_string();
        for (k, v) in &self.vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }
}

/// A customer's sign-up waiting for its link; returns the link's token.
pub async fn pending_signup(pool: &sqlx::PgPool, email: &str) -> String {
    let hash = autodoctor::auth::password::hash(crate::testing::TEST_PASSWORD.to_string()).await.unwrap();
    autodoctor::auth::signup::create_pending(
        pool,
        email,
        "Pending Person",
        autodoctor::auth::Role::Customer,
        &hash,
        &serde_json::json!({}),
    )
    .await
    .unwrap()
}
