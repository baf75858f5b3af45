//! One step of a case: the model predicts the answer, the real call is made
//! through the router, and the two must agree.

use super::{Action, Seen, Sut, Who};
use crate::security::lifecycle_model::{MOrder, Mech, Model, Route, MECHS, PRICE};
use crate::testing::{TestResponse, ORIGIN};
use autodoctor::offers::store::{routing_tick, RoutingSettings};
use autodoctor::payments::signing::signature_header;
use autodoctor::status::{OrderStatus, RequestStatus};
use uuid::Uuid;

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn expect(res: &TestResponse, want: u16, what: &str) -> Result<(), String> {
    if res.status.as_u16() == want {
        Ok(())
    } else {
        Err(format!("{what}: answered {} where the model expects {want}: {}", res.status, res.body))
    }
}

fn expect_outcome(res: &TestResponse, want: &str, what: &str) -> Result<(), String> {
    expect(res, 200, what)?;
    let got = serde_json::from_str::<serde_json::Value>(&res.body).map_err(|e| e.to_string())?["outcome"]
        .as_str()
        .unwrap_or("")
        .to_string();
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: the webhook's outcome is {got:?}, the model expects {want:?}"))
    }
}

/// Posts an event to the webhook, signed now with the install's secret, as
/// Stripe (or the sandbox's deliverer) signs it.
async fn post_event(sut: &mut Sut, payload: &str) -> TestResponse {
    let secret = sut.app.state.config.stripe_webhook_secret.clone();
    let signature = signature_header(&secret, chrono::Utc::now().timestamp(), payload);
    sut.app
        .client()
        .post_raw(
            "/api/stripe/webhook",
            "application/json",
            payload.to_string(),
            &[("stripe-signature", &signature)],
        )
        .await
}

fn db(e: sqlx::Error) -> String {
    format!("database: {e}")
}

pub async fn step(sut: &mut Sut, model: &mut Model, action: &Action, seen: &Seen) -> Result<(), String> {
    let pick = |order: usize, model: &Model| (!model.orders.is_empty()).then(|| order % model.orders.len());
    match *action {
        Action::Book(route) => {
            if model.orders.len() >= 3 {
                return Ok(());
            }
            let (workshop, routing) = match route {
                Route::Only(w) => (sut.tpl.workshops[&w].to_string(), "workshop_only"),
                _ => (String::new(), "broadcast"),
            };
            let key = Uuid::new_v4().to_string();
            let res = sut
                .client(Who::Cust)
                .call(
                    "/api/booking/checkout",
                    &[
                        ("request_key", key.as_str()),
                        ("plan_code", "video15"),
                        ("vehicle_make", "Toyota"),
                        ("vehicle_model", "Corolla"),
                        ("vehicle_year", "2016"),
                        ("problem_description", "Grinding noise from the front left wheel when braking."),
                        ("workshop_id", workshop.as_str()),
                        ("routing_type", routing),
                    ],
                )
                .await;
            expect(&res, 200, "checkout")?;
            let url = res.json().as_str().unwrap_or_default().to_string();
            let checkout = url.rsplit('/').next().unwrap_or_default().to_string();
            let id: Uuid = sqlx::query_scalar("SELECT order_id FROM sandbox_checkout_sessions WHERE id = $1")
                .bind(&checkout)
                .fetch_one(sut.pool())
                .await
                .map_err(db)?;
            model.orders.push(MOrder {
                id,
                checkout,
                booked: route,
                status: OrderStatus::AwaitingPayment,
                paid: None,
                refunded: 0,
                event: None,
                request: None,
                session: None,
            });
        }
        Action::Pay { order, amount } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            // That order, or else the first one still awaiting payment.
            let awaiting = |o: &MOrder| o.status == OrderStatus::AwaitingPayment;
            let i = if awaiting(&model.orders[i]) {
                i
            } else {
                match model.orders.iter().position(awaiting) {
                    Some(i) => i,
                    None => return Ok(()),
                }
            };
            let path = format!("/sandbox/checkout/{}/pay", model.orders[i].checkout);
            let res = sut
                .client(Who::Cust)
                .post_raw(
                    &path,
                    "application/x-www-form-urlencoded",
                    "card_number=4242424242424242".to_string(),
                    &[("origin", ORIGIN)],
                )
                .await;
            expect(&res, 303, "the sandbox's payment page")?;
            // The sandbox's deliverer does not run in the tests: this step delivers
            // its event (or a forged one), as the deliverer would.
            let (delivery, payload): (i64, String) = sqlx::query_as(
                "SELECT id, payload FROM sandbox_webhook_deliveries WHERE delivered_at IS NULL ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(sut.pool())
            .await
            .map_err(db)?;
            sqlx::query("UPDATE sandbox_webhook_deliveries SET delivered_at = now() WHERE id = $1")
                .bind(delivery)
                .execute(sut.pool())
                .await
                .map_err(db)?;
            match amount {
                None => {
                    let res = post_event(sut, &payload).await;
                    expect_outcome(&res, "fulfilled", "the payment's event")?;
                    let request: Uuid =
                        sqlx::query_scalar("SELECT id FROM session_requests WHERE order_id = $1")
                            .bind(model.orders[i].id)
                            .fetch_one(sut.pool())
                            .await
                            .map_err(db)?;
                    model.paid(i, request, payload);
                }
                Some(cents) => {
                    // Correctly signed, with another amount: held, never fulfilled.
                    let mut event: serde_json::Value =
                        serde_json::from_str(&payload).map_err(|e| e.to_string())?;
                    event["data"]["object"]["amount_total"] = cents.into();
                    let forged = event.to_string();
                    let res = post_event(sut, &forged).await;
                    expect_outcome(&res, "held_payment_mismatch", "an event of the wrong amount")?;
                    // The genuine event after it is the same event: recorded already.
                    let res = post_event(sut, &payload).await;
                    expect_outcome(&res, "duplicate", "the genuine event after a forged one")?;
                    let o = &mut model.orders[i];
                    o.status = OrderStatus::Held;
                    o.paid = Some(cents);
                    o.event = Some(forged);
                    Seen::count(&seen.held);
                }
            }
        }
        Action::Replay { order } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let Some(payload) = model.orders[i].event.clone() else { return Ok(()) };
            let res = post_event(sut, &payload).await;
            expect_outcome(&res, "duplicate", "a replayed event")?;
            Seen::count(&seen.replayed);
        }
        Action::Expire => {
            let settings = RoutingSettings::from_config(&sut.app.state.config);
            let later = chrono::Utc::now() + chrono::Duration::minutes(11);
            routing_tick(sut.pool(), later, &settings).await.map_err(db)?;
            model.expire();
        }
        Action::Widen { order, hybrid, stranger } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let id = model.orders[i].id.to_string();
            let want = model.widen(i, hybrid, stranger);
            let who = if stranger { Who::Stranger } else { Who::Cust };
            let routing = if hybrid { "hybrid" } else { "broadcast" };
            let res = sut
                .client(who)
                .call("/api/booking/widen", &[("order_id", &id), ("routing_type", routing)])
                .await;
            expect(&res, want, "widen")?;
            if want == 200 {
                Seen::count(&seen.widened);
            }
        }
        Action::Cancel { order, stranger } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let id = model.orders[i].id.to_string();
            let want = model.cancel(i, stranger);
            let who = if stranger { Who::Stranger } else { Who::Cust };
            let res = sut.client(who).call("/api/booking/cancel", &[("order_id", &id)]).await;
            expect(&res, want, "cancel")?;
        }
        Action::Refund { order, cents } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let o = &model.orders[i];
            let rest = o.refundable();
            let cents = cents.unwrap_or(if rest > 0 { rest } else { PRICE });
            let withdraws = o.session.is_none()
                && cents == rest
                && matches!(
                    o.request.as_ref().map(|r| r.status),
                    Some(RequestStatus::Pending | RequestStatus::Expired)
                );
            let id = o.id.to_string();
            let taken_back: i64 = model.books.reversed.values().sum();
            let carried: i64 = model.books.carried.values().sum();
            let want = model.refund(i, cents);
            let amount = money(cents);
            let res = sut
                .client(Who::Admin)
                .call(
                    "/api/admin/refund",
                    &[("order_id", &id), ("amount", &amount), ("reason", "Lifecycle test")],
                )
                .await;
            expect(&res, want, &format!("refund of {amount}"))?;
            if want == 200 {
                if withdraws && model.orders[i].status == OrderStatus::Refunded {
                    Seen::count(&seen.refunds_withdrawing);
                }
                if cents < rest {
                    Seen::count(&seen.partial_refunds);
                }
                if model.books.reversed.values().sum::<i64>() > taken_back {
                    Seen::count(&seen.reversals);
                }
                if model.books.carried.values().sum::<i64>() > carried {
                    Seen::count(&seen.carried);
                }
            }
        }
        Action::Accept { order, mech } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let mech = mech.unwrap_or_else(|| {
                let offered = |m: &Mech| {
                    model.orders[i].request.as_ref().is_some_and(|r| model.offered(*m).contains(&r.id))
                };
                MECHS.into_iter().find(offered).unwrap_or(Mech::A)
            });
            let want = model.accept_status(i, mech);
            let request = model.orders[i].request.as_ref().map(|r| r.id).unwrap_or_else(Uuid::new_v4);
            let res = sut
                .client(Who::Mech(mech))
                .call("/api/mechanic/accept", &[("request_id", &request.to_string())])
                .await;
            expect(&res, want, &format!("accept by {mech:?}"))?;
            if want == 200 {
                let session: Uuid =
                    res.json().as_str().and_then(|s| s.parse().ok()).ok_or("no session id")?;
                model.accepted(i, mech, session);
                Seen::count(&seen.accepted);
            } else {
                Seen::count(&seen.refused_accepts);
            }
        }
        Action::End { order, mech } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let mech = mech.or(model.orders[i].session.as_ref().map(|s| s.mech)).unwrap_or(Mech::A);
            let want = model.end_status(i, mech);
            let session = model.orders[i].session.as_ref().map(|s| s.id).unwrap_or_else(Uuid::new_v4);
            if want == 200 {
                // Ending needs the mechanic's written diagnosis.
                let m = sut.tpl.users[&Who::Mech(mech)];
                crate::testing::fixtures::write_report(sut.pool(), session, m).await;
            }
            let res = sut
                .client(Who::Mech(mech))
                .call("/api/session/end", &[("session_id", &session.to_string())])
                .await;
            expect(&res, want, &format!("end by {mech:?}"))?;
            if want == 200 {
                model.ended(i);
                Seen::count(&seen.ended);
            }
        }
        Action::Rate { order, stranger } => {
            let Some(i) = pick(order, model) else { return Ok(()) };
            let want = model.rate_status(i, stranger);
            let session = model.orders[i].session.as_ref().map(|s| s.id).unwrap_or_else(Uuid::new_v4);
            let who = if stranger { Who::Stranger } else { Who::Cust };
            let res = sut
                .client(who)
                .call("/api/session/rate", &[("session_id", &session.to_string()), ("rating", "4")])
                .await;
            expect(&res, want, "rate")?;
            if want == 200 {
                model.orders[i].session.as_mut().unwrap().rated = true;
            }
        }
        Action::PayoutRun => {
            let paid = model.payout_run();
            let res = sut.client(Who::Admin).call("/api/admin/payouts/run", &[]).await;
            expect(&res, 200, "payout run")?;
            let summary = res.json().as_str().unwrap_or_default().to_string();
            let want = format!("{} payout(s) made, 0 failed", paid.len());
            if !summary.starts_with(&want) {
                return Err(format!("payout run: {summary:?}, the model expects {want:?} ({paid:?})"));
            }
            for _ in &paid {
                Seen::count(&seen.paid_out);
            }
        }
        Action::RefuseReversals => {
            // The sandbox refuses a reversal of more than what is left of a transfer.
            sqlx::query!("UPDATE sandbox_transfers SET amount_reversed_cents = amount_cents")
                .execute(sut.pool())
                .await
                .map_err(db)?;
            model.refuse_reversals();
        }
    }
    Ok(())
}
