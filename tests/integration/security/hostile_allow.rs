//! What a hostile call that was accepted may change (audit M1): per row of the
//! authorization table, the tables it may write, with which operations and on
//! whose rows; and the values a row must refuse, where the acceptable ones are
//! known. Everything else a 2xx changes is a problem named with the row, the
//! value, the table and the change. A refused call (4xx) may change nothing but
//! the throttling its row counts on purpose (`on_refusal`).

use super::super::Who;
use crate::testing::RowChange;

/// Whose row a change may touch: the column must hold this value, before and after.
#[derive(Clone, Copy, Debug)]
pub(super) enum Is {
    /// The caller's user id.
    Caller,
    /// The world's object `{name}` (as the call's fields named it).
    Var(&'static str),
    /// This literal value.
    Lit(&'static str),
    /// A value that starts with one of these (a throttle key: the email, the
    /// address, or both).
    Prefix(&'static [&'static str]),
}

/// A table the call may change: the operations (`I`, `U`, `D` letters), and the
/// columns that must name the caller or the call's object (none: any row).
#[derive(Clone, Copy)]
pub(super) struct May {
    pub table: &'static str,
    pub ops: &'static str,
    pub rows: &'static [(&'static str, Is)],
}

const fn may(table: &'static str, ops: &'static str, rows: &'static [(&'static str, Is)]) -> May {
    May { table, ops, rows }
}

pub(super) struct Allow {
    pub route: &'static str,
    /// What an accepted call may change.
    pub changes: &'static [May],
    /// What a refused call may change (throttles that count refusals on purpose).
    pub on_refusal: &'static [May],
}

/// The money a refund or an end of session books: its ledger entries, the cached
/// balances and daily totals, paid-out totals.
macro_rules! ledger {
    () => {
        [
            may("journal_entries", "I", &[]),
            may("postings", "I", &[]),
            may("ledger_accounts", "IU", &[]),
            may("ledger_daily", "IU", &[]),
            may("ledger_account_paid", "IU", &[]),
        ]
    };
}

const ORDER_DONE: &[(&str, Is)] = &[("order_id", Is::Var("order_done"))];
const LEDGER: [May; 5] = ledger!();
const NEW_ACCOUNT: [May; 3] =
    [may("users", "I", &[]), may("user_sessions", "I", &[]), may("tower_sessions.session", "I", &[])];
const RATE: [May; 1] = [may("rate_limits", "IU", &[])];
/// Mail is queued for whoever the call concerns (the other party, the owner, the
/// admin), with its recipient's one-click unsubscribe link.
const MAIL: May = may("email_outbox", "I", &[]);
const UNSUBSCRIBE: May = may("mail_unsubscribe_tokens", "I", &[]);
/// A workshop's cached figures (mechanics online, ratings, sessions served).
const STATS: May = may("workshop_stats", "IU", &[]);

/// Rows not listed change nothing when accepted (the reads).
pub(super) const ALLOWED: &[Allow] = &[
    Allow {
        route: "/api/account/name",
        changes: &[may("users", "U", &[("id", Is::Caller)])],
        on_refusal: &[],
    },
    // A wrong current password counts against the caller's own log-in throttle.
    Allow {
        route: "/api/account/password",
        changes: &[],
        // (the test client has no address: "unknown")
        on_refusal: &[may("login_throttle", "IU", &[("key", Is::Prefix(&["cust@example.com", "unknown"]))])],
    },
    Allow {
        route: "/api/account/mail/save",
        changes: &[may("users", "U", &[("id", Is::Caller)])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/booking/checkout",
        changes: &[
            may("orders", "IU", &[("customer_id", Is::Caller)]),
            may("sandbox_checkout_sessions", "I", &[]),
            RATE[0],
        ],
        on_refusal: &RATE,
    },
    Allow {
        route: "/api/booking/widen",
        changes: &[
            may("orders", "U", &[("id", Is::Var("order_widen"))]),
            may("session_requests", "U", &[("order_id", Is::Var("order_widen"))]),
            may("routing_events", "I", &[]),
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/booking/cancel",
        changes: &[
            may("orders", "U", &[("id", Is::Var("order_cancel"))]),
            may("session_requests", "U", &[("order_id", Is::Var("order_cancel"))]),
            may("refunds", "IU", &[("order_id", Is::Var("order_cancel"))]),
            may("sandbox_refunds", "I", &[]),
            may("routing_events", "I", &[]),
            MAIL,
            LEDGER[0],
            LEDGER[1],
            LEDGER[2],
            LEDGER[3],
            LEDGER[4],
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/mechanic/accept",
        changes: &[
            may("session_requests", "U", &[("id", Is::Var("request_open"))]),
            may("sessions", "I", &[("mechanic_id", Is::Caller), ("request_id", Is::Var("request_open"))]),
            may("routing_events", "I", &[]),
            may("workshop_stats", "IU", &[]),
            may("workshop_accept_histogram", "IU", &[]),
            MAIL,
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/mechanic/online",
        changes: &[may("mechanics", "U", &[("user_id", Is::Caller)]), STATS],
        on_refusal: &[],
    },
    Allow {
        route: "/api/mechanic/capacity",
        changes: &[may("mechanics", "U", &[("user_id", Is::Caller)])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/mechanic/bio/save",
        changes: &[may("mechanics", "U", &[("user_id", Is::Caller)])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/room",
        changes: &[may("sessions", "U", &[("id", Is::Var("session_live"))])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/chat",
        changes: &[may(
            "chat_messages",
            "I",
            &[("session_id", Is::Var("session_live")), ("sender_id", Is::Caller)],
        )],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/report/save",
        changes: &[
            may("session_reports", "IU", &[("session_id", Is::Var("session_live"))]),
            may("session_report_repairs", "IUD", &[("session_id", Is::Var("session_live"))]),
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/report/share",
        changes: &[may(
            "report_shares",
            "I",
            &[("session_id", Is::Var("session_done")), ("created_by", Is::Caller)],
        )],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/report/share/revoke",
        changes: &[may("report_shares", "U", &[("id", Is::Var("share_revoke"))])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/end",
        changes: &[
            may("sessions", "U", &[("id", Is::Var("session_end"))]),
            may("session_requests", "U", &[]),
            may("orders", "U", &[]),
            may("call_signals", "D", &[("session_id", Is::Var("session_end"))]),
            may("workshop_stats", "IU", &[]),
            MAIL,
            LEDGER[0],
            LEDGER[1],
            LEDGER[2],
            LEDGER[3],
            LEDGER[4],
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/start-clock",
        changes: &[may("sessions", "U", &[("id", Is::Var("session_live"))])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/session/rate",
        changes: &[
            may("sessions", "U", &[("id", Is::Var("session_done"))]),
            // The rated mechanic's average.
            may("mechanics", "U", &[("user_id", Is::Var("mech_a_id"))]),
            STATS,
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/workshop/invite",
        changes: &[
            may("mechanic_invites", "I", &[("organization_id", Is::Var("workshop_a"))]),
            MAIL,
            RATE[0],
        ],
        on_refusal: &RATE,
    },
    Allow {
        route: "/api/workshop/invite/resend",
        changes: &[may("mechanic_invites", "U", &[("id", Is::Var("invite_resend"))]), MAIL, RATE[0]],
        on_refusal: &RATE,
    },
    Allow {
        route: "/api/workshop/invite/revoke",
        changes: &[may("mechanic_invites", "UD", &[("id", Is::Var("invite_revoke"))])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/workshop/remove-mechanic",
        changes: &[may("mechanics", "U", &[("user_id", Is::Var("mechanic_a2"))]), MAIL],
        on_refusal: &[],
    },
    Allow {
        route: "/api/workshop/profile/save",
        changes: &[may("organizations", "U", &[("id", Is::Var("workshop_a"))])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/payouts/setup",
        changes: &[may("sandbox_accounts", "IU", &[]), may("mechanics", "U", &[("user_id", Is::Caller)])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/payouts/start",
        changes: &[may("sandbox_accounts", "IU", &[]), may("mechanics", "U", &[("user_id", Is::Caller)])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/payouts/refresh",
        changes: &[may("sandbox_accounts", "IU", &[]), may("mechanics", "U", &[("user_id", Is::Caller)])],
        on_refusal: &[],
    },
    Allow {
        route: "/api/admin/workshop/decide",
        changes: &[may("organizations", "U", &[("id", Is::Var("workshop_pending"))]), MAIL, UNSUBSCRIBE],
        on_refusal: &[],
    },
    Allow {
        route: "/api/admin/mechanic/decide",
        changes: &[may("mechanics", "U", &[("user_id", Is::Var("mechanic_pending"))]), MAIL, UNSUBSCRIBE],
        on_refusal: &[],
    },
    Allow {
        route: "/api/admin/workshop/fee",
        changes: &[
            may("organizations", "U", &[("id", Is::Var("workshop_b"))]),
            may("organization_fee_terms", "IU", &[("organization_id", Is::Var("workshop_b"))]),
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/admin/refund",
        changes: &[
            may("orders", "U", &[("id", Is::Var("order_done"))]),
            may("refunds", "IU", ORDER_DONE),
            may("sandbox_refunds", "I", &[]),
            may("transfer_reversals", "IU", &[]),
            may("sandbox_transfer_reversals", "I", &[]),
            MAIL,
            UNSUBSCRIBE,
            LEDGER[0],
            LEDGER[1],
            LEDGER[2],
            LEDGER[3],
            LEDGER[4],
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/admin/payouts/run",
        changes: &[
            may("payout_runs", "IU", &[]),
            may("payouts", "IU", &[]),
            may("payout_allocations", "I", &[]),
            may("sandbox_transfers", "I", &[]),
            may("scheduled_jobs", "IU", &[]),
            MAIL,
            LEDGER[0],
            LEDGER[1],
            LEDGER[2],
            LEDGER[3],
            LEDGER[4],
        ],
        on_refusal: &[],
    },
    // Logging in, out and creating accounts (fresh clients, as no one).
    Allow {
        route: "/api/public/auth/sign-up",
        changes: &[may("pending_signups", "IU", &[]), MAIL, RATE[0]],
        on_refusal: &RATE,
    },
    Allow {
        route: "/api/public/workshops/register",
        changes: &[
            NEW_ACCOUNT[0],
            NEW_ACCOUNT[1],
            NEW_ACCOUNT[2],
            may("organizations", "I", &[("status", Is::Lit("pending"))]),
            may("organization_members", "I", &[]),
            may("organization_fee_terms", "I", &[]),
            may("pending_signups", "IU", &[]),
            MAIL,
            RATE[0],
        ],
        on_refusal: &RATE,
    },
    Allow {
        route: "/api/public/mechanics/apply",
        changes: &[
            NEW_ACCOUNT[0],
            NEW_ACCOUNT[1],
            NEW_ACCOUNT[2],
            may("mechanics", "I", &[("application_status", Is::Lit("pending"))]),
            may("pending_signups", "IU", &[]),
            MAIL,
            RATE[0],
        ],
        on_refusal: &RATE,
    },
    Allow {
        route: "/api/public/invites/accept",
        changes: &[
            NEW_ACCOUNT[0],
            // (the new account, made and then marked logged in)
            may("users", "U", &[("email", Is::Prefix(&["invited"]))]),
            NEW_ACCOUNT[1],
            NEW_ACCOUNT[2],
            may("mechanics", "I", &[("workshop_id", Is::Var("workshop_a"))]),
            STATS,
            may("mechanic_invites", "U", &[("organization_id", Is::Var("workshop_a"))]),
            MAIL,
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/public/auth/confirm",
        changes: &[NEW_ACCOUNT[0], NEW_ACCOUNT[1], NEW_ACCOUNT[2], may("pending_signups", "UD", &[]), MAIL],
        on_refusal: &[],
    },
    Allow {
        route: "/api/invites/join",
        changes: &[
            may("mechanics", "U", &[("user_id", Is::Caller)]),
            may("mechanic_invites", "U", &[("organization_id", Is::Var("workshop_a"))]),
            MAIL,
        ],
        on_refusal: &[],
    },
    Allow {
        route: "/api/public/auth/log-in",
        changes: &[
            may("user_sessions", "I", &[("user_id", Is::Var("cust2_id"))]),
            may("tower_sessions.session", "I", &[]),
            may("login_known_clients", "IU", &[("email", Is::Lit("cust2@example.com"))]),
            may("login_throttle", "UD", &[]),
        ],
        on_refusal: &[may("login_throttle", "IU", &[])],
    },
];

/// The first broken rule of one change, if any: the table is not the row's, the
/// operation is not one it makes, or the row is someone else's.
pub(super) fn forbidden(
    change: &RowChange,
    allowed: &[May],
    caller: Option<uuid::Uuid>,
    var: impl Fn(&str) -> String,
) -> Option<String> {
    let op = &change.op[..1];
    let Some(rule) = allowed.iter().find(|m| m.table == change.table && m.ops.contains(op)) else {
        return Some(format!("{} may not be changed ({}) by this call", change.table, change.op));
    };
    for (column, is) in rule.rows {
        let want = match is {
            Is::Caller => match caller {
                Some(id) => id.to_string(),
                None => return Some(format!("{}: no caller to own the row", change.table)),
            },
            Is::Var(name) => var(name),
            Is::Lit(v) => v.to_string(),
            Is::Prefix(starts) => starts.join(" or "),
        };
        for got in change.values(column) {
            let fits = got.as_deref().is_some_and(|g| match is {
                Is::Prefix(starts) => starts.iter().any(|s| g.starts_with(s)),
                _ => g == want,
            });
            if !fits {
                return Some(format!(
                    "{} row with {column} = {} (only {column} = {want} may change)",
                    change.table,
                    got.as_deref().unwrap_or("(no such column)")
                ));
            }
        }
    }
    None
}

/// Fields whose value is free text that must not be blank.
const REQUIRED_TEXT: &[&str] = &[
    "name",
    "body",
    "summary",
    "vehicle_make",
    "vehicle_model",
    "problem_description",
    "owner_name",
    "workshop_name",
    "city",
    "password",
    "new_password",
    "repairs[0][description]",
];

/// Why a 2xx for `value` in `field` (None: the field left out) would be wrong,
/// where the row's acceptable values are known: the names of objects (the
/// world's own, for a call that changes data), fresh keys and addresses,
/// choices from a list, numbers in a range, required text. `base` is the field's
/// value in the row's own call.
pub(super) fn must_refuse(
    route: &str,
    template: &str,
    base: &str,
    field: &str,
    value: Option<&str>,
    mutates: bool,
    never_ok: bool,
) -> Option<String> {
    if never_ok {
        return Some("the table says no one's call of this row succeeds".into());
    }
    if !mutates {
        // A read may answer anything it likes to any value, as long as it changes nothing.
        return None;
    }
    let required = |f: &str| REQUIRED_TEXT.contains(&f) || (f == "reason" && route == "/api/admin/refund");
    let Some(value) = value else {
        let optional = [
            "workshop_id",
            "comment",
            "reason",
            "follow_ups",
            "likely_causes",
            "bio",
            "next",
            "certifications",
            "specialties",
            "phone",
            "address",
            "description",
            "note",
            "repairs[0][cost_max]",
        ];
        return (mutates && (required(field) || !optional.contains(&field)))
            .then(|| format!("the required field {field} was left out"));
    };
    let t = value.trim();
    let int_in = |lo: i64, hi: i64| t.parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n));
    let one_of = |set: &[&str]| set.contains(&value);
    if value.chars().count() > 10_000 {
        return Some(format!("{} characters", value.chars().count()));
    }
    let ok = match template {
        "{new_key}" => uuid::Uuid::parse_str(t).is_ok(),
        "{new_email}" => {
            let mut parts = t.split('@');
            let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            parts.next().is_none()
                && !local.is_empty()
                && domain.contains('.')
                && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        // The world's object, in a call that changes data: only that object.
        tpl if tpl.starts_with('{') && mutates => value == base,
        _ => match field {
            "rating" => int_in(1, 5),
            "online" => one_of(&["true", "false"]),
            "optional_mail" => one_of(&["on", "off"]),
            "decision" => one_of(&["approve", "reject"]),
            "routing_type" if route == "/api/booking/widen" => one_of(&["broadcast", "hybrid"]),
            "routing_type" => one_of(&["broadcast", "hybrid", "workshop_only"]),
            "plan_code" => one_of(&["video15", "hundred"]),
            "safe_to_drive" => one_of(&["yes", "with_care", "no"]),
            "capacity" => int_in(1, autodoctor::mechanics::CAPACITY_MAX as i64),
            "vehicle_year" => int_in(1900, 2100),
            "years_experience" => int_in(0, 80),
            // Dollars and cents, at most what is left of order_done ($100).
            "amount" => dollars(t).is_some_and(|c| (1..=10_000).contains(&c)),
            "fee_percent" => {
                let p = t.trim_end_matches('%').trim();
                dollars(p).is_some_and(|bps| bps <= 10_000) && !p.starts_with('$')
            }
            f if required(f) => !t.is_empty(),
            _ => true,
        },
    };
    (!ok).then(|| format!("{field}={value:?} is not an acceptable value"))
}

/// "12", "12.5", "12.50", "$12.50" as cents (an independent reading, not the app's).
fn dollars(s: &str) -> Option<i64> {
    let s = s.strip_prefix('$').unwrap_or(s);
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 9 || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + format!("{frac:0<2}").parse::<i64>().ok()?)
}

/// The user id of someone in the world, as a `{name}` variable (`cust2_id`).
pub(super) fn user_var(name: &str) -> Option<Who> {
    match name {
        "cust2_id" => Some(Who::Cust2),
        "mech_a_id" => Some(Who::MechA),
        _ => None,
    }
}
