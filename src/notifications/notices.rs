//! The notifications of each event: who gets what, written in the transaction
//! of the change (each looks up what it tells, and keys itself on its event).

use super::send::{to_user, to_workshop_owners, Content};
use super::Kind;
use crate::ids::{OrderId, PayoutId, RequestId, SessionId, UserId, WorkshopId};
use crate::ui::format_money;
use sqlx::PgConnection;
use uuid::Uuid;

fn link(public_url: &str, path: &str) -> String {
    format!("{}{path}", public_url.trim_end_matches('/'))
}

/// To the customer, once their payment is accepted (the order is paid).
pub async fn payment_receipt(
    conn: &mut PgConnection,
    public_url: &str,
    order: OrderId,
) -> Result<bool, sqlx::Error> {
    let order = order.uuid();
    let o = sqlx::query!(
        r#"SELECT customer_id, plan_name, coalesce(amount_paid_cents, amount_cents) AS "amount!", currency,
                  vehicle_year::text || ' ' || vehicle_make || ' ' || vehicle_model AS "vehicle!",
                  paid_at AS "paid_at: chrono::DateTime<chrono::Utc>"
             FROM orders WHERE id = $1"#,
        order
    )
    .fetch_one(&mut *conn)
    .await?;
    let text = format!(
        "Thank you: we received your payment.\n\nReceipt\nPlan: {}\nVehicle: {}\nAmount paid: {}\nOrder: {order}\nPaid at: {}\n\n\
         We are finding a mechanic for you now. Follow your request here:\n{}",
        o.plan_name,
        o.vehicle,
        format_money(o.amount, &o.currency),
        o.paid_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default(),
        link(public_url, &format!("/orders/{order}"))
    );
    let content = Content { subject: "Your receipt from autodoctor", text: &text, greet: true };
    to_user(conn, public_url, Kind::PaymentReceipt, &order.to_string(), UserId(o.customer_id), &content).await
}

/// To the customer, when a mechanic has taken their request.
pub async fn request_accepted(
    conn: &mut PgConnection,
    public_url: &str,
    session: SessionId,
) -> Result<bool, sqlx::Error> {
    let session = session.uuid();
    let s = sqlx::query!(
        r#"SELECT s.customer_id, s.request_id, u.name AS mechanic_name, w.name AS "workshop_name?"
             FROM sessions s JOIN users u ON u.id = s.mechanic_id
             JOIN mechanics m ON m.user_id = s.mechanic_id
             LEFT JOIN organizations w ON w.id = m.workshop_id
            WHERE s.id = $1"#,
        session
    )
    .fetch_one(&mut *conn)
    .await?;
    let by = match &s.workshop_name {
        Some(w) => format!("{} of {w}", s.mechanic_name),
        None => s.mechanic_name.clone(),
    };
    let text = format!(
        "{by} has taken your request. Your session room is open:\n{}",
        link(public_url, &format!("/session/{session}"))
    );
    let content = Content { subject: "A mechanic has taken your request", text: &text, greet: true };
    to_user(
        conn,
        public_url,
        Kind::RequestAccepted,
        &s.request_id.to_string(),
        UserId(s.customer_id),
        &content,
    )
    .await
}

/// To the customer: the written diagnosis, when the session ends.
pub async fn session_report(
    conn: &mut PgConnection,
    public_url: &str,
    session: SessionId,
    customer: UserId,
    subject: &str,
    body: &str,
) -> Result<bool, sqlx::Error> {
    let content = Content { subject, text: body, greet: false };
    to_user(conn, public_url, Kind::SessionReport, &session.to_string(), customer, &content).await
}

/// To the customer, when a refund has gone through.
pub async fn refund_issued(
    conn: &mut PgConnection,
    public_url: &str,
    refund: Uuid,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "SELECT f.amount_cents, f.order_id, o.customer_id, o.currency, o.plan_name
           FROM refunds f JOIN orders o ON o.id = f.order_id WHERE f.id = $1",
        refund
    )
    .fetch_one(&mut *conn)
    .await?;
    let text = format!(
        "We have refunded {} for your {} (order {}). It reaches your card within a few business days.\n\n\
         Your order: {}",
        format_money(r.amount_cents, &r.currency),
        r.plan_name,
        r.order_id,
        link(public_url, &format!("/orders/{}", r.order_id))
    );
    let content = Content { subject: "Your refund from autodoctor", text: &text, greet: true };
    to_user(conn, public_url, Kind::RefundIssued, &refund.to_string(), UserId(r.customer_id), &content).await
}

/// To the payee (the workshop's owners, or the independent mechanic), once a payout is transferred.
pub async fn payout_sent(
    conn: &mut PgConnection,
    public_url: &str,
    payout: PayoutId,
) -> Result<usize, sqlx::Error> {
    let payout = payout.uuid();
    let p = sqlx::query!(
        "SELECT organization_id, mechanic_id, amount_cents, currency, transfer_id FROM payouts WHERE id = $1",
        payout
    )
    .fetch_one(&mut *conn)
    .await?;
    let (path, event) = if p.organization_id.is_some() {
        ("/workshop/earnings", payout.to_string())
    } else {
        ("/mechanic/earnings", payout.to_string())
    };
    let text = format!(
        "We have sent you a payout of {} (transfer {}).\n\nYour earnings: {}",
        format_money(p.amount_cents, &p.currency),
        p.transfer_id.unwrap_or_default(),
        link(public_url, path)
    );
    let content = Content { subject: "Your payout is on its way", text: &text, greet: true };
    match (p.organization_id, p.mechanic_id) {
        (Some(w), _) => {
            to_workshop_owners(conn, public_url, Kind::PayoutSent, &event, WorkshopId(w), &content).await
        }
        (None, Some(m)) => {
            Ok(to_user(conn, public_url, Kind::PayoutSent, &event, UserId(m), &content).await? as usize)
        }
        (None, None) => Ok(0),
    }
}

/// To the workshop's owners, when the admin approves, rejects or suspends it.
/// `event` names this decision (the workshop and the time of the change).
pub async fn workshop_decision(
    conn: &mut PgConnection,
    public_url: &str,
    workshop: WorkshopId,
    kind: Kind,
    reason: Option<&str>,
    event: &str,
) -> Result<usize, sqlx::Error> {
    let name = sqlx::query_scalar!("SELECT name FROM organizations WHERE id = $1", workshop.uuid())
        .fetch_one(&mut *conn)
        .await?;
    let dashboard = link(public_url, "/workshop");
    let why = reason.map(|r| format!("\n\nThe reason given: {r}")).unwrap_or_default();
    let (subject, text) = match kind {
        Kind::WorkshopApproved => (
            format!("{name} is approved"),
            format!("Your workshop {name} is approved: customers can book it and you can invite your mechanics.\n\n{dashboard}"),
        ),
        Kind::WorkshopRejected => (
            format!("{name} was not approved"),
            format!("Your workshop {name} was not approved.{why}\n\n{dashboard}"),
        ),
        _ => (
            format!("{name} is suspended"),
            format!("Your workshop {name} is suspended: it takes no bookings and its mechanics are offline.{why}\n\n{dashboard}"),
        ),
    };
    let content = Content { subject: &subject, text: &text, greet: true };
    to_workshop_owners(conn, public_url, kind, event, workshop, &content).await
}

/// To an independent mechanic, when the admin decides on their application.
pub async fn application_decision(
    conn: &mut PgConnection,
    public_url: &str,
    mechanic: UserId,
    approved: bool,
    reason: Option<&str>,
    event: &str,
) -> Result<bool, sqlx::Error> {
    let dashboard = link(public_url, "/mechanic");
    let (kind, subject, text) = if approved {
        (
            Kind::ApplicationApproved,
            "Your mechanic application is approved",
            format!("Your application is approved: go online on your dashboard to receive requests.\n\n{dashboard}"),
        )
    } else {
        let why = reason.map(|r| format!("\n\nThe reason given: {r}")).unwrap_or_default();
        (
            Kind::ApplicationRejected,
            "Your mechanic application was not approved",
            format!("Your application was not approved.{why}\n\n{dashboard}"),
        )
    };
    let content = Content { subject, text: &text, greet: true };
    to_user(conn, public_url, kind, event, mechanic, &content).await
}

/// To the owners of the workshop a workshop-only request was for, when nobody
/// of theirs took it in time.
pub async fn workshop_request_waiting(
    conn: &mut PgConnection,
    public_url: &str,
    request: RequestId,
    workshop: WorkshopId,
) -> Result<usize, sqlx::Error> {
    let text = format!(
        "A customer booked your workshop only, and none of your mechanics took the request in time. \
         The customer can now open it to other mechanics or cancel it.\n\n\
         Put more of your mechanics online to take the next one: {}",
        link(public_url, "/workshop")
    );
    let content = Content { subject: "A request for your workshop was not taken", text: &text, greet: true };
    to_workshop_owners(
        conn,
        public_url,
        Kind::WorkshopRequestWaiting,
        &request.to_string(),
        workshop,
        &content,
    )
    .await
}
