//! The customer's booking page, following the booking live: waiting, taken (by
//! whom, which workshop), in session, completed; widen or cancel when nobody
//! took it.

use super::api::{get_order, CancelRequest, WidenRequest};
use super::{CustomerOrder, CustomerState};
use crate::auth::Role;
use crate::ui::live::follow;
use crate::ui::{action_error, format_money, FormError, RoleGate};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

pub type OrderResource = Resource<Result<CustomerOrder, crate::error::AppError>>;

/// The customer's order, for a page to create where it starts.
pub fn order_resource(order_id: Option<Uuid>) -> OrderResource {
    Resource::new(
        move || order_id,
        |id| async move {
            match id {
                Some(id) => get_order(id).await,
                None => Err(crate::error::AppError::not_found("That booking link is not valid.")),
            }
        },
    )
}

/// A customer's booking, following it live: waiting, taken (by whom, which
/// workshop), in session, completed; widen or cancel when nobody took it.
#[component]
pub fn OrderLive(
    order_id: Option<Uuid>,
    order: OrderResource,
    #[prop(optional)] payment_cancelled: bool,
) -> impl IntoView {
    let _ = order_id;
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || order.get().map(|r| match r {
                Ok(first) => view! { <LiveOrder first payment_cancelled /> }.into_any(),
                Err(e) => view! { <section class="card narrow"><crate::ui::ErrorNotice error=e /></section> }.into_any(),
            })}
        </Suspense>
    }
}

/// The booking's card in the browser, redrawn from the live stream.
#[island]
fn LiveOrder(first: CustomerOrder, payment_cancelled: bool) -> impl IntoView {
    let (live, set_live) = signal::<Option<CustomerOrder>>(None);
    follow(format!("/api/live/order/{}", first.order_id), "order", set_live);
    move || {
        let o = live.get().unwrap_or_else(|| first.clone());
        view! { <OrderStatusCard o payment_cancelled /> }
    }
}

#[component]
fn OrderStatusCard(o: CustomerOrder, payment_cancelled: bool) -> impl IntoView {
    let state = o.state();
    let pay_again = (state == CustomerState::AwaitingPayment).then(|| o.checkout_url.clone()).flatten();
    let who = match (&o.mechanic_name, &o.serving_workshop_name) {
        (Some(m), Some(w)) => Some(format!("{m} of {w}")),
        (Some(m), None) => Some(format!("{m}, independent mechanic")),
        _ => None,
    };
    let (title, text) = match state {
        CustomerState::AwaitingPayment => {
            ("Confirming your payment…", "This takes a few seconds; the page updates by itself.")
        }
        CustomerState::WaitingForMechanic => (
            "Waiting for a mechanic",
            "Mechanics are being offered your session now. This page updates by itself.",
        ),
        CustomerState::MechanicAssigned => {
            ("A mechanic has taken your session", "Open the session room to talk to them.")
        }
        CustomerState::InSession => ("In session", "Your mechanic is with you in the session room."),
        CustomerState::Completed => ("Session completed", "Thank you. You can rate the session in its room."),
        CustomerState::NoMechanicFound => (
            "No mechanic of your workshop was available",
            "Open your request to other mechanics, or cancel it for a full refund.",
        ),
        CustomerState::Cancelled => ("Cancelled", "This booking was cancelled."),
        CustomerState::Refunded => ("Refunded", "Your payment was refunded in full."),
        CustomerState::PaymentHeld => (
            "Payment under review",
            "The payment we received does not match this booking. We are looking into it and will refund you or get in touch; nothing more is charged.",
        ),
    };
    let widen = ServerAction::<WidenRequest>::new();
    let cancel = ServerAction::<CancelRequest>::new();
    let error = Signal::derive(move || action_error(widen).get().or_else(|| action_error(cancel).get()));
    let oid = o.order_id.to_string();
    let oid2 = oid.clone();
    let oid3 = oid.clone();
    let can_cancel = matches!(state, CustomerState::WaitingForMechanic | CustomerState::NoMechanicFound);
    let here = format!("/orders/{}", o.order_id);
    view! {
        <section class="card narrow center" id="order-status" data-state=format!("{state:?}")>
            <p><span class=state.badge() id="order-state">{state.label()}</span></p>
            <h1>{title}</h1>
            <p>{text}</p>
            {who.map(|w| view! { <p id="order-mechanic">"Mechanic: " <strong>{w}</strong></p> })}
            <p class="muted small">{o.plan_name.clone()} " · " {o.vehicle.clone()} " · " {format_money(o.amount_cents, &o.currency)}
                {(o.amount_refunded_cents > 0).then(|| format!(" · refunded {}", format_money(o.amount_refunded_cents, &o.currency)))}</p>
            {o.session_id.map(|s| view! {
                <p><a class="button primary" id="open-room" rel="external" href=format!("/session/{s}")>
                    {if state == CustomerState::Completed { "Open the session (rate it)" } else { "Open the session room" }}
                </a></p>
            })}
            {pay_again.filter(|_| payment_cancelled).map(|url| view! {
                <p><a class="button primary" href=url>"Continue to payment"</a></p>
            })}
            {(state == CustomerState::NoMechanicFound).then(|| view! {
                <div class="row" style="justify-content:center">
                    <ActionForm action=widen attr:class="inline-form">
                        <input type="hidden" name="order_id" value=oid.clone() />
                        <input type="hidden" name="routing_type" value="hybrid" />
                        <button type="submit" class="primary">"Open to other mechanics"</button>
                    </ActionForm>
                    <ActionForm action=widen attr:class="inline-form">
                        <input type="hidden" name="order_id" value=oid2.clone() />
                        <input type="hidden" name="routing_type" value="broadcast" />
                        <button type="submit">"Anyone available"</button>
                    </ActionForm>
                </div>
            })}
            {can_cancel.then(|| view! {
                <ActionForm action=cancel attr:class="inline-form" attr:id="cancel-form">
                    <input type="hidden" name="order_id" value=oid3.clone() />
                    <button type="submit" class="danger small">"Cancel and refund"</button>
                </ActionForm>
            })}
            <FormError error=error />
            <p class="row" style="justify-content:center">
                <a class="button" href="/sessions">"My sessions"</a>
                <a class="button" href=here>"Refresh"</a>
            </p>
        </section>
    }
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let order_id = params.with_untracked(|p| p.get("id")).and_then(|s| Uuid::parse_str(&s).ok());
    let order = order_resource(order_id);
    view! {
        <Title text="Your booking" />
        <RoleGate role=Role::Customer children=move |_| view! { <OrderLive order_id order /> } />
    }
}
