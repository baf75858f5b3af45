//! The authorization matrix: every route and server function the app registers,
//! called by each kind of person with ids that belong to someone else. The
//! expected outcomes are the table below; any difference fails the test, and so
//! does a registered endpoint the table does not list.
//!
//! Outcomes: `ok` a 2xx answer, `see` a redirect elsewhere than the log-in page,
//! `login` a redirect to the log-in page, or an exact status (`400`, `401`,
//! `403`, `404`, `409`, `415`). Every answer that is not `ok`/`see` must leave every
//! application table unchanged.
//!
//! Calls run in table order. Within a row, everyone the table refuses goes first,
//! while the row's object is still live (so a refusal of someone else is not just
//! "that object is finished"); then those who may act, left to right; then the
//! `409`s, so a row can show that a one-time action succeeds once (`ok`) and then
//! conflicts.

use super::{World, EVERYONE};
use crate::testing::{ChangeWatch, ORIGIN};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use sqlx::PgPool;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A server function (form POST from this origin).
    Call,
    /// A server function that logs in, out or creates an account: each person
    /// calls it on a fresh log-in of their own, after all the other rows.
    Fresh,
    /// A page rendered by Leptos.
    Page,
    /// A plain GET route.
    Get,
    /// A plain form POST route (from this origin).
    Post,
    /// A plain POST of a JSON body with no session (the webhook), unsigned.
    Json,
    /// The webhook, with an event signed with the install's secret (an
    /// `account.updated` for an account no one has): its credential is the
    /// signature, whoever's cookie comes with it.
    SignedJson,
    /// A live stream: only the status is read.
    Stream,
    /// A JSON POST from this origin: a call signalling message.
    Signal,
}

pub(super) struct Case {
    pub kind: Kind,
    /// The route as registered (`/orders/{id}`); for server functions, its path.
    pub route: &'static str,
    /// What is requested, with `{name}` placeholders from the world.
    pub uri: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
    /// Outcomes for Anon Cust Cust2 MechA MechB Indie OwnerA OwnerB Admin.
    pub expect: &'static str,
}

const fn call(
    route: &'static str,
    fields: &'static [(&'static str, &'static str)],
    expect: &'static str,
) -> Case {
    Case { kind: Kind::Call, route, uri: route, fields, expect }
}
const fn fresh(
    route: &'static str,
    fields: &'static [(&'static str, &'static str)],
    expect: &'static str,
) -> Case {
    Case { kind: Kind::Fresh, route, uri: route, fields, expect }
}
const fn page(route: &'static str, uri: &'static str, expect: &'static str) -> Case {
    Case { kind: Kind::Page, route, uri, fields: &[], expect }
}
const fn plain(
    kind: Kind,
    route: &'static str,
    uri: &'static str,
    fields: &'static [(&'static str, &'static str)],
    expect: &'static str,
) -> Case {
    Case { kind, route, uri, fields, expect }
}

const CHECKOUT: &[(&str, &str)] = &[
    ("request_key", "{new_key}"),
    ("plan_code", "video15"),
    ("vehicle_make", "Toyota"),
    ("vehicle_model", "Corolla"),
    ("vehicle_year", "2016"),
    ("problem_description", "Grinding noise from the front left wheel when braking."),
    ("workshop_id", "{workshop_a}"),
    ("routing_type", "hybrid"),
];
const MECHANIC_FORM: &[(&str, &str)] = &[
    ("name", "New Mechanic"),
    ("email", "{new_email}"),
    ("password", "a long password"),
    ("specialties", "Brakes"),
    ("years_experience", "4"),
    ("certifications", "ASE"),
];
const REPORT_FORM: &[(&str, &str)] = &[
    ("session_id", "{session_live}"),
    ("summary", "Worn front brake pads."),
    ("likely_causes", "Mileage."),
    ("safe_to_drive", "with_care"),
    ("follow_ups", "Check the discs at the next service."),
    ("repairs[0][description]", "Replace the front brake pads"),
    ("repairs[0][urgency]", "soon"),
    ("repairs[0][cost_min]", "$120"),
    ("repairs[0][cost_max]", "180.50"),
];
const INVITE_FORM: &[(&str, &str)] = &[
    ("token", "{fresh_token}"),
    ("name", "Invited Mechanic"),
    ("password", "a long password"),
    ("specialties", "Brakes"),
    ("years_experience", "4"),
    ("certifications", "ASE"),
];
const WORKSHOP_PROFILE_FORM: &[(&str, &str)] = &[
    ("name", "Renamed Garage"),
    ("city", "Lille"),
    ("address", "2 rue de la Gare"),
    ("description", "Brakes and diagnostics."),
    ("specialties", "Brakes"),
];
const MECHANIC_BIO_FORM: &[(&str, &str)] =
    &[("bio", "Ten years on French cars."), ("specialties", "Brakes"), ("years_experience", "10")];
const WORKSHOP_FORM: &[(&str, &str)] = &[
    ("owner_name", "New Owner"),
    ("email", "{new_email}"),
    ("password", "a long password"),
    ("workshop_name", "New Garage {new_key}"),
    ("contact_email", "garage@example.com"),
    ("phone", "+33 1 23 45 67 89"),
    ("city", "Lille"),
    ("address", "1 rue de la Gare"),
    ("description", "Brakes and diagnostics."),
    ("specialties", "Brakes"),
];

#[rustfmt::skip]
pub(super) const TABLE: &[Case] = &[
    //                                                                                   Anon  Cust  Cus2  MchA  MchB  Indi  OwnA  OwnB  Admn
    // Public reads.
    call("/api/public/plans", &[],                                                      "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/public/me", &[],                                                         "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/public/directory", &[("q", "garage"), ("limit", "10"), ("offset", "0")], "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/public/invites/details", &[("token", "{invite_token}")],                 "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/public/auth/pending", &[("token", "{signup_token}")],                    "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/public/workshops/page", &[("workshop_id", "{workshop_a}"), ("page", "1")], "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    // Anyone's own account.
    call("/api/account/name", &[("name", "Test Person")],                               "401   ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/account/password", &[("current_password", "not the password"),
        ("new_password", "another secret"), ("confirm_password", "another secret")],     "401   400   400   400   400   400   400   400   400"),
    call("/api/account/mail", &[],                                                      "401   ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/account/mail/save", &[("optional_mail", "off")],                         "401   ok    ok    ok    ok    ok    ok    ok    ok"),
    // Customers: booking and their own orders.
    call("/api/booking/options", &[("workshop", "{workshop_a}")],                       "401   ok    ok    403   403   403   403   403   403"),
    call("/api/booking/checkout", CHECKOUT,                                             "401   ok    ok    403   403   403   403   403   403"),
    call("/api/booking/mine", &[],                                                      "401   ok    ok    403   403   403   403   403   403"),
    call("/api/booking/order", &[("order_id", "{order_live}")],                         "401   ok    404   403   403   403   403   403   403"),
    call("/api/booking/widen", &[("order_id", "{order_widen}"),
        ("routing_type", "broadcast")],                                                  "401   ok    404   403   403   403   403   403   403"),
    call("/api/booking/cancel", &[("order_id", "{order_cancel}")],                      "401   ok    404   403   403   403   403   403   403"),
    // Mechanics: offers, accepting, their dashboard.
    call("/api/mechanic/offers", &[],                                                   "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/accept", &[("request_id", "{request_elsewhere}")],              "401   403   403   403   403   403   403   403   403"),
    call("/api/mechanic/accept", &[("request_id", "{request_open}")],                   "401   403   403   ok    409   409   403   403   403"),
    call("/api/mechanic/dashboard", &[],                                                "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/profile", &[],                                                  "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/earnings", &[],                                                 "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/online", &[("online", "true")],                                 "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/capacity", &[("capacity", "3")],                                "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/bio", &[],                                                      "401   403   403   ok    ok    ok    403   403   403"),
    call("/api/mechanic/bio/save", MECHANIC_BIO_FORM,                                   "401   403   403   ok    ok    ok    403   403   403"),
    // A session belongs to its customer and its mechanic.
    call("/api/session/room", &[("session_id", "{session_live}")],                      "401   ok    404   ok    404   404   404   404   404"),
    call("/api/session/chat", &[("session_id", "{session_live}"), ("body", "Hello")],   "401   ok    404   ok    404   404   404   404   404"),
    call("/api/session/report/save", REPORT_FORM,                                       "401   403   403   ok    404   404   403   403   403"),
    call("/api/session/report", &[("session_id", "{session_done}")],                    "401   ok    404   ok    404   404   404   404   ok"),
    call("/api/session/report/share", &[("session_id", "{session_done}")],              "401   ok    404   403   403   403   403   403   403"),
    call("/api/session/report/share/revoke", &[("share_id", "{share_revoke}")],         "401   ok    404   403   403   403   403   403   403"),
    call("/api/public/report", &[("token", "{share_token}")],                           "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    call("/api/session/end", &[("session_id", "{session_end}")],                        "401   403   403   ok    404   404   403   403   403"),
    call("/api/session/start-clock", &[("session_id", "{session_live}")],               "401   403   403   ok    404   404   403   403   403"),
    call("/api/session/rate", &[("session_id", "{session_done}"), ("rating", "5"),
        ("comment", "Clear and quick.")],                                                "401   ok    404   403   403   403   403   403   403"),
    // Workshop owners: their workshop, invites and mechanics.
    call("/api/workshop/dashboard", &[],                                                "401   403   403   403   403   403   ok    ok    403"),
    call("/api/workshop/earnings", &[("from", "2026-01-01"), ("to", "2026-12-31")],      "401   403   403   403   403   403   ok    ok    403"),
    call("/api/workshop/analytics", &[],                                                "401   403   403   403   403   403   ok    ok    403"),
    call("/api/workshop/logo", &[],                                                     "401   403   403   403   403   403   ok    ok    403"),
    call("/api/workshop/invite", &[("email", "{new_email}")],                           "401   403   403   403   403   403   ok    ok    403"),
    call("/api/workshop/invite/resend", &[("invite_id", "{invite_resend}")],            "401   403   403   403   403   403   ok    404   403"),
    call("/api/workshop/invite/revoke", &[("invite_id", "{invite_revoke}")],            "401   403   403   403   403   403   ok    404   403"),
    call("/api/workshop/remove-mechanic", &[("mechanic_id", "{mechanic_a2}")],          "401   403   403   403   403   403   ok    404   403"),
    call("/api/workshop/profile", &[],                                                  "401   403   403   403   403   403   ok    ok    403"),
    call("/api/workshop/profile/save", WORKSHOP_PROFILE_FORM,                           "401   403   403   403   403   403   ok    ok    403"),
    // Payout set-up: workshops and independent mechanics are paid.
    // (a workshop's mechanics are paid by their workshop: nothing to set up).
    call("/api/payouts/setup", &[],                                                     "401   403   403   403   403   ok    ok    ok    403"),
    call("/api/payouts/start", &[],                                                     "401   403   403   403   403   ok    ok    ok    403"),
    call("/api/payouts/refresh", &[],                                                   "401   403   403   403   403   ok    ok    ok    403"),
    // The platform admin.
    call("/api/admin/queues", &[],                                                      "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/workshops", &[],                                                   "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/workshop/decide", &[("workshop_id", "{workshop_pending}"),
        ("decision", "approve"), ("reason", "")],                                        "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/mechanic/decide", &[("mechanic_id", "{mechanic_pending}"),
        ("decision", "approve"), ("reason", "")],                                        "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/workshop/fee", &[("workshop_id", "{workshop_b}"),
        ("fee_percent", "17.5"), ("note", "Volume deal")],                               "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/mailbox", &[],                                                     "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/requests", &[],                                                    "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/request-audit", &[("request_id", "{request_open}")],               "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/analytics", &[],                                                   "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/revenue", &[],                                                     "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/orders", &[],                                                      "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/refund", &[("order_id", "{order_done}"), ("amount", "1.00"),
        ("reason", "Goodwill")],                                                         "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/payouts", &[],                                                     "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/payouts/run", &[],                                                 "401   403   403   403   403   403   403   403   ok"),
    call("/api/admin/reconcile", &[],                                                   "401   403   403   403   403   403   403   403   ok"),

    // Pages.
    page("/", "/",                                                                      "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/signup", "/signup",                                                          "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/login", "/login",                                                            "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/check-email", "/check-email",                                                "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    // A sign-up's emailed link: the unguessable token is the credential.
    page("/confirm/{token}", "/confirm/{signup_token}",                                 "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/workshops", "/workshops",                                                    "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/workshops/join", "/workshops/join",                                          "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/workshops/{id}", "/workshops/{workshop_a}",                                  "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/mechanics/apply", "/mechanics/apply",                                        "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/invite/{token}", "/invite/{invite_token}",                                   "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/account", "/account",                                                        "login ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/book", "/book",                                                              "login ok    ok    403   403   403   403   403   403"),
    page("/sessions", "/sessions",                                                      "login ok    ok    403   403   403   403   403   403"),
    page("/checkout/return", "/checkout/return?order={order_live}",                     "login ok    404   403   403   403   403   403   403"),
    page("/orders/{id}", "/orders/{order_live}",                                        "login ok    404   403   403   403   403   403   403"),
    page("/session/{id}", "/session/{session_live}",                                    "login ok    404   ok    404   404   404   404   404"),
    page("/session/{id}/report", "/session/{session_done}/report",                      "login ok    404   ok    404   404   404   404   ok"),
    page("/report/{token}", "/report/{share_token}",                                    "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    page("/mechanic", "/mechanic",                                                      "login 403   403   ok    ok    ok    403   403   403"),
    page("/mechanic/earnings", "/mechanic/earnings",                                    "login 403   403   ok    ok    ok    403   403   403"),
    page("/mechanic/payouts", "/mechanic/payouts",                                      "login 403   403   403   403   ok    ok    ok    403"),
    page("/workshop", "/workshop",                                                      "login 403   403   403   403   403   ok    ok    403"),
    page("/workshop/earnings", "/workshop/earnings",                                    "login 403   403   403   403   403   ok    ok    403"),
    page("/workshop/payouts", "/workshop/payouts",                                      "login 403   403   403   403   ok    ok    ok    403"),
    page("/workshop/profile", "/workshop/profile",                                      "login 403   403   403   403   403   ok    ok    403"),
    page("/mechanic/profile", "/mechanic/profile",                                      "login 403   403   ok    ok    ok    403   403   403"),
    page("/admin", "/admin",                                                            "login 403   403   403   403   403   403   403   ok"),
    page("/admin/workshops", "/admin/workshops",                                        "login 403   403   403   403   403   403   403   ok"),
    page("/admin/mailbox", "/admin/mailbox",                                            "login 403   403   403   403   403   403   403   ok"),
    page("/admin/requests", "/admin/requests",                                          "login 403   403   403   403   403   403   403   ok"),
    page("/admin/revenue", "/admin/revenue",                                            "login 403   403   403   403   403   403   403   ok"),
    page("/admin/payouts", "/admin/payouts",                                            "login 403   403   403   403   403   403   403   ok"),
    page("/admin/orders", "/admin/orders",                                              "login 403   403   403   403   403   403   403   ok"),
    page("/admin/reconciliation", "/admin/reconciliation",                              "login 403   403   403   403   403   403   403   ok"),

    // Plain routes.
    plain(Kind::Get, "/healthz", "/healthz", &[],                                       "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    plain(Kind::Get, "/api/workshops/directory", "/api/workshops/directory?q=garage", &[],
                                                                                         "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    // The webhook: refused unsigned and accepted signed, whoever sends it (audit L5:
    // the unsigned row alone is a 400 that does not depend on anyone).
    plain(Kind::Json, "/api/stripe/webhook", "/api/stripe/webhook", &[],                "400   400   400   400   400   400   400   400   400"),
    plain(Kind::SignedJson, "/api/stripe/webhook", "/api/stripe/webhook", &[],          "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    plain(Kind::Stream, "/api/live/offers", "/api/live/offers", &[],                    "401   403   403   ok    ok    ok    403   403   403"),
    // The directory's live counts and the workshops' logos: public, like the directory.
    plain(Kind::Stream, "/api/live/directory", "/api/live/directory?ids={workshop_a},{workshop_b}", &[],
                                                                                         "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    plain(Kind::Get, "/api/workshops/{workshop_id}/logo", "/api/workshops/{workshop_a}/logo?v=1", &[],
                                                                                         "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    // The logo upload: owners only (a form that is not a file upload: 415).
    plain(Kind::Post, "/workshop/logo", "/workshop/logo", &[],                          "401   403   403   403   403   403   415   415   403"),
    plain(Kind::Stream, "/api/live/order/{order_id}", "/api/live/order/{order_live}", &[],
                                                                                         "401   ok    404   403   403   403   403   403   403"),
    plain(Kind::Stream, "/api/live/session/{session_id}", "/api/live/session/{session_live}", &[],
                                                                                         "401   ok    404   ok    404   404   404   404   404"),
    // The call: its two participants only.
    plain(Kind::Stream, "/api/live/session/{session_id}/call", "/api/live/session/{session_live}/call", &[],
                                                                                         "401   ok    404   ok    404   404   404   404   404"),
    plain(Kind::Signal, "/api/session/{session_id}/call/signals", "/api/session/{session_live}/call/signals", &[],
                                                                                         "401   ok    404   ok    404   404   404   404   404"),
    plain(Kind::Get, "/api/session/{session_id}/call/ice", "/api/session/{session_live}/call/ice", &[],
                                                                                         "401   ok    404   ok    404   404   404   404   404"),
    // Chat photos: the participants post (a form that is not a file upload: 415) and
    // fetch; the admin fetches too.
    plain(Kind::Post, "/api/session/{session_id}/photos", "/api/session/{session_live}/photos", &[],
                                                                                         "401   415   404   415   404   404   404   404   404"),
    plain(Kind::Get, "/api/session/{session_id}/photos/{photo_id}", "/api/session/{session_live}/photos/{photo_live}", &[],
                                                                                         "401   ok    404   ok    404   404   404   404   ok"),
    plain(Kind::Get, "/api/session/{session_id}/photos/{photo_id}/thumb", "/api/session/{session_live}/photos/{photo_live}/thumb", &[],
                                                                                         "401   ok    404   ok    404   404   404   404   ok"),
    plain(Kind::Get, "/workshop/earnings.csv", "/workshop/earnings.csv", &[],           "401   403   403   403   403   403   ok    ok    403"),
    // One-click unsubscribe: the link's token is the credential, no log-in needed;
    // a used link is refused (410) whoever posts it.
    plain(Kind::Get, "/unsubscribe/{token}", "/unsubscribe/{unsub_token}", &[],         "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    plain(Kind::Post, "/unsubscribe/{token}", "/unsubscribe/{unsub_used}", &[],         "410   410   410   410   410   410   410   410   410"),
    plain(Kind::Get, "/workshop/analytics.csv", "/workshop/analytics.csv", &[],         "401   403   403   403   403   403   ok    ok    403"),
    // The sandbox's hosted pages stand in for Stripe's: the unguessable id in the
    // link is the credential, as it is at Stripe.
    plain(Kind::Get, "/sandbox/checkout/{id}", "/sandbox/checkout/{checkout}", &[],     "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    plain(Kind::Post, "/sandbox/checkout/{id}/pay", "/sandbox/checkout/{checkout}/pay", &[("card_number", "4242 4242 4242 4242")],
                                                                                         "see   see   see   see   see   see   see   see   see"),
    plain(Kind::Get, "/sandbox/connect/{account}", "/sandbox/connect/{connect_account}", &[],
                                                                                         "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    plain(Kind::Post, "/sandbox/connect/{account}", "/sandbox/connect/{connect_account}", &[("legal_name", "Beta Motors"),
        ("routing_number", "110000000"), ("account_number", "000123456789")],            "see   see   see   see   see   see   see   see   see"),

    // Logging in and out and creating accounts, each on a fresh log-in.
    fresh("/api/public/auth/sign-up", &[("name", "New Person"), ("email", "{new_email}"),
        ("password", "a long password")],                                                "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    fresh("/api/public/workshops/register", WORKSHOP_FORM,                              "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    fresh("/api/public/mechanics/apply", MECHANIC_FORM,                                 "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    fresh("/api/public/invites/accept", INVITE_FORM,                                    "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    fresh("/api/public/auth/confirm", &[("token", "{fresh_signup}")],                   "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    fresh("/api/public/auth/log-in", &[("email", "cust2@example.com"),
        ("password", "password123"), ("next", "/sessions")],                             "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    fresh("/api/public/auth/log-out", &[],                                              "ok    ok    ok    ok    ok    ok    ok    ok    ok"),
    // Joining a workshop with an invite meant for the independent mechanic's email
    // (last: it turns that mechanic into a workshop mechanic).
    fresh("/api/invites/join", &[("token", "{join_token}")],                            "401   403   403   403   403   ok    403   403   403"),
];

/// The people who own nothing in the world: no answer to them may show a
/// private id (the independent mechanic joins workshop A only in the last row).
const STRANGERS: [super::Who; 4] =
    [super::Who::Cust2, super::Who::MechB, super::Who::Indie, super::Who::OwnerB];

/// World objects of the customer, workshop A and its mechanics.
const PRIVATE: &[&str] = &[
    "order_live",
    "order_widen",
    "order_cancel",
    "order_end",
    "order_done",
    "session_live",
    "session_end",
    "session_done",
    "request_open",
    "photo_live",
    "invite_resend",
    "invite_revoke",
    "share_revoke",
    "mechanic_a2",
];

/// Positive controls: the owner's own answer does show the id (route, who, name).
const SHOWN_TO_OWNER: &[(&str, super::Who, &str)] = &[
    ("/api/booking/mine", super::Who::Cust, "order_live"),
    ("/api/workshop/dashboard", super::Who::OwnerA, "mechanic_a2"),
    ("/api/mechanic/earnings", super::Who::MechA, "session_done"),
    ("/api/admin/orders", super::Who::Admin, "order_done"),
];

/// What a request answered, in the table's words.
fn outcome(status: StatusCode, location: Option<&str>) -> String {
    if status.is_success() {
        "ok".into()
    } else if status.is_redirection() {
        if location.is_some_and(|l| l.starts_with("/login")) {
            "login".into()
        } else {
            "see".into()
        }
    } else {
        status.as_u16().to_string()
    }
}

pub(super) fn request(kind: Kind, uri: &str, body: String) -> Request<Body> {
    let builder = Request::builder().uri(uri);
    match kind {
        // A browser asks for HTML (which is what makes a log-in redirect a real 302).
        Kind::Page => builder.header(header::ACCEPT, "text/html,application/xhtml+xml").body(Body::empty()),
        Kind::Get => builder.body(Body::empty()),
        Kind::Stream => builder.header(header::ACCEPT, "text/event-stream").body(Body::empty()),
        Kind::Json | Kind::SignedJson => builder
            .method(Method::POST)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{}}}"#)),
        Kind::Signal => builder
            .method(Method::POST)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ORIGIN, ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(r#"{"kind":"hello","payload":{"from":"matrix"}}"#)),
        Kind::Call | Kind::Fresh | Kind::Post => builder
            .method(Method::POST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body)),
    }
    .unwrap()
}

/// Every endpoint the router serves: server functions, Leptos pages and plain routes.
fn registered_endpoints() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        all.insert(format!("{method} {path}"));
    }
    for listing in leptos_axum::generate_route_list(autodoctor::app::App) {
        all.insert(format!("GET {}", listing.path()));
    }
    for route in autodoctor::server::plain_routes(true) {
        all.insert(format!("{} {}", route.method, route.path));
    }
    all
}

fn method_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Page | Kind::Get | Kind::Stream => "GET",
        _ => "POST",
    }
}

/// The order a row's people are tried in: everyone refused first (so someone else
/// meets the object while it is still live), then those who may act, left to
/// right, then the conflicts (`409`) that only a finished object gives.
fn column_order(case: &Case) -> Vec<(super::Who, &'static str)> {
    let rank = |e: &str| match e {
        "ok" | "see" => 1,
        "409" => 2,
        _ => 0,
    };
    let mut columns: Vec<_> = EVERYONE.into_iter().zip(case.expect.split_whitespace()).collect();
    columns.sort_by_key(|(_, e)| rank(e));
    columns
}

/// One-shot rows: each refusal of someone else comes before the owner finishes the object.
#[test]
fn strangers_meet_one_shot_objects_while_they_are_live() {
    for route in ["/api/booking/cancel", "/api/booking/widen", "/api/session/end", "/api/mechanic/accept"] {
        for case in TABLE.iter().filter(|c| c.route == route) {
            let order = column_order(case);
            let first_ok = order.iter().position(|(_, e)| *e == "ok");
            for (i, (who, e)) in order.iter().enumerate() {
                if !matches!(*e, "ok" | "409") {
                    assert!(
                        first_ok.is_none_or(|ok| i < ok),
                        "{route}: {who:?} ({e}) runs after the owner's call"
                    );
                }
            }
        }
    }
    // And the table's own order is kept where it matters: the accept row's 409s follow its ok.
    let accept = TABLE.iter().find(|c| c.fields.iter().any(|(_, v)| *v == "{request_open}")).unwrap();
    let order: Vec<_> = column_order(accept).into_iter().map(|(_, e)| e).collect();
    assert_eq!(order, ["401", "403", "403", "403", "403", "403", "ok", "409", "409"]);
}

#[tokio::test]
async fn the_table_lists_every_registered_endpoint_exactly() {
    let listed: BTreeSet<String> =
        TABLE.iter().map(|c| format!("{} {}", method_of(c.kind), c.route)).collect();
    let registered = registered_endpoints();
    let missing: Vec<_> = registered.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&registered).collect();
    assert!(missing.is_empty(), "endpoints without a row in the authorization table: {missing:?}");
    assert!(unknown.is_empty(), "rows for endpoints the app does not register: {unknown:?}");
    for case in TABLE {
        assert_eq!(case.expect.split_whitespace().count(), EVERYONE.len(), "{}", case.route);
        // What a row requests is its route: the listed route is not just a label.
        assert!(uri_matches_route(case.uri, case.route), "{}: requests {}", case.route, case.uri);
    }
    // The matcher itself: a wrong segment, one too many or too few, an empty one.
    assert!(uri_matches_route("/orders/{order_live}?x=1", "/orders/{id}"));
    assert!(!uri_matches_route("/order/{order_live}", "/orders/{id}"));
    assert!(!uri_matches_route("/orders/{order_live}/x", "/orders/{id}"));
    assert!(!uri_matches_route("/orders", "/orders/{id}"));
    assert!(!uri_matches_route("/orders/", "/orders/{id}"));
}

/// Whether a row's uri (with `{name}` placeholders, and a query) is a request for
/// the route template: the same literal segments, one non-empty segment per `{param}`.
fn uri_matches_route(uri: &str, route: &str) -> bool {
    let path = uri.split('?').next().unwrap();
    let (got, want): (Vec<_>, Vec<_>) = (path.split('/').collect(), route.split('/').collect());
    got.len() == want.len()
        && got.iter().zip(&want).all(|(g, w)| {
            if w.starts_with('{') && w.ends_with('}') {
                !g.is_empty()
            } else {
                g == w
            }
        })
}

#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn everyone_gets_exactly_what_the_table_says(pool: PgPool) {
    let mut world = World::new(pool.clone()).await;
    let mut watch = ChangeWatch::install(&pool).await;
    let mut differences = Vec::new();
    let mut unexpected_changes = Vec::new();
    let mut counter = 0;
    let mut leaks = Vec::new();
    let mut shown_to_owner = 0;
    // The ids of objects that belong to the customer, workshop A or its people.
    let mut private: Vec<(String, String)> =
        PRIVATE.iter().map(|name| (name.to_string(), world.fill(&format!("{{{name}}}")))).collect();
    for who in [super::Who::Cust, super::Who::MechA, super::Who::OwnerA] {
        private.push((format!("{who:?}'s user id"), world.users[&who].to_string()));
    }

    let ordered =
        TABLE.iter().filter(|c| c.kind != Kind::Fresh).chain(TABLE.iter().filter(|c| c.kind == Kind::Fresh));
    for case in ordered {
        for (who, expected) in column_order(case) {
            counter += 1;
            let fields = world.expand(case.fields, counter).await;
            let body = crate::testing::form_body(
                &fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
            );
            let uri = world.fill(case.uri);
            let mut req = request(case.kind, &uri, body);
            if case.kind == Kind::SignedJson {
                let (_, payload) =
                    autodoctor::payments::sandbox::account_event("acct_nobody", true, true, true);
                let secret = &world.app.state.config.stripe_webhook_secret;
                assert!(!secret.is_empty(), "the test install has a webhook secret");
                let signature = autodoctor::payments::signing::signature_header(
                    secret,
                    chrono::Utc::now().timestamp(),
                    &payload,
                );
                req = Request::builder()
                    .method(Method::POST)
                    .uri(&uri)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("stripe-signature", signature)
                    .body(Body::from(payload))
                    .unwrap();
            }

            // A fresh log-in first: logging in is not part of what is measured.
            let mut fresh_client =
                if case.kind == Kind::Fresh { Some(World::log_in(&world.app, who).await) } else { None };
            watch.settle().await;
            let (status, location, text) = if case.kind == Kind::Stream {
                // A live stream's first event (the snapshot it starts with) is read too.
                let res = world.clients.get_mut(&who).unwrap().first_event(req).await;
                (res.status, res.header("location").map(str::to_string), res.body)
            } else if let Some(client) = fresh_client.as_mut() {
                let res = client.send(req).await;
                (res.status, res.header("location").map(str::to_string), res.body)
            } else {
                let res = world.clients.get_mut(&who).unwrap().send(req).await;
                (res.status, res.header("location").map(str::to_string), res.body)
            };
            let got = outcome(status, location.as_deref());
            // What an answer shows: someone else's objects never, on any list or stream.
            if got == "ok" && STRANGERS.contains(&who) {
                for (name, id) in &private {
                    if text.contains(id.as_str()) {
                        leaks.push(format!("{uri} as {who:?} shows {name} ({id}) of someone else"));
                    }
                }
            }
            if let Some((_, _, name)) =
                SHOWN_TO_OWNER.iter().find(|(route, owner, _)| *route == case.route && *owner == who)
            {
                shown_to_owner += 1;
                let id = &private.iter().find(|(n, _)| n == name).unwrap().1;
                if !text.contains(id.as_str()) {
                    leaks.push(format!(
                        "{uri} as {who:?} does not show its own {name} ({id}): the check is blind"
                    ));
                }
            }
            if case.kind == Kind::SignedJson && got == "ok" && !text.contains("account_unknown_or_stale") {
                differences.push(format!("{uri} as {who:?}: the signed event was not handled: {text}"));
            }
            if got != expected {
                let excerpt: String = text.chars().take(160).collect();
                differences.push(format!(
                    "{:<6} {who:?}: expected {expected}, got {got} ({uri}) {excerpt}",
                    method_of(case.kind)
                ));
            }
            if !matches!(got.as_str(), "ok" | "see") {
                let changed = watch.changes().await;
                if !changed.is_empty() {
                    unexpected_changes
                        .push(format!("{uri} as {who:?} answered {got} but changed {changed:?}"));
                }
            }
            if status.is_server_error() {
                differences.push(format!("{uri} as {who:?}: server error {status}: {text}"));
            }
        }
    }
    assert_eq!(shown_to_owner, SHOWN_TO_OWNER.len(), "every positive control ran");
    assert!(
        leaks.is_empty(),
        "{} answer(s) showing what they should not:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(
        differences.is_empty() && unexpected_changes.is_empty(),
        "{} difference(s) from the table:\n{}\n{} refused call(s) that changed data:\n{}",
        differences.len(),
        differences.join("\n"),
        unexpected_changes.len(),
        unexpected_changes.join("\n")
    );
}

/// The watch the matrix and the hostile run rely on sees someone logged out (and
/// a session that is gone), not only the application's own tables; a refused
/// log-in's throttling is not a change.
#[sqlx::test(migrator = "autodoctor::db::MIGRATOR")]
async fn the_change_watch_sees_log_ins_and_log_outs(pool: PgPool) {
    let world = World::new(pool.clone()).await;
    let mut watch = ChangeWatch::install(&pool).await;
    let mut client = World::log_in(&world.app, super::Who::Cust).await;
    let changed = watch.changes().await;
    assert!(
        changed.contains(&"user_sessions".to_string())
            && changed.contains(&"tower_sessions.session (ids)".to_string()),
        "a log-in: {changed:?}"
    );
    // A request on the session saves it again (its expiry moves): not a change.
    assert_eq!(client.whoami().await.as_deref(), Some("cust@example.com"));
    assert_eq!(watch.changes().await, Vec::<String>::new(), "a request on a session");
    let res = client.call("/api/public/auth/log-out", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let changed = watch.changes().await;
    assert!(
        changed.contains(&"user_sessions".to_string())
            && changed.contains(&"tower_sessions.session (ids)".to_string()),
        "a log-out: {changed:?}"
    );
    // Someone else's session deleted behind their back (what a refused call must never do).
    sqlx::query("DELETE FROM tower_sessions.session WHERE id IN (SELECT session_id FROM user_sessions WHERE user_id = $1)")
        .bind(world.users[&super::Who::MechA])
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(watch.changes().await, vec!["tower_sessions.session (ids)".to_string()]);
    // A refused log-in counts against the throttle only.
    let mut stranger = world.app.client();
    let res = stranger.log_in("cust@example.com", "not the password").await;
    assert!(res.status.is_client_error(), "{} {}", res.status, res.body);
    assert_eq!(watch.changes().await, Vec::<String>::new(), "a refused log-in");
}
