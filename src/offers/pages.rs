//! The mechanic's live offers, with accept buttons.

use super::api::AcceptRequest;
use super::OfferView;
use crate::dispatch::RoutingType;
use crate::ui::gate::hard_navigate;
use crate::ui::live::follow;
use crate::ui::{action_error, FormError};
use leptos::prelude::*;

fn waited(secs: i64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

/// The offers for the logged-in mechanic, live, with accept buttons.
#[island]
pub fn LiveOffers(initial: Vec<OfferView>) -> impl IntoView {
    let (live, set_live) = signal::<Option<Vec<OfferView>>>(None);
    follow("/api/live/offers".to_string(), "offers", set_live);
    let accept = ServerAction::<AcceptRequest>::new();
    let accept_error = action_error(accept);
    Effect::new(move |_| {
        if let Some(Ok(session_id)) = accept.value().get() {
            hard_navigate(&format!("/session/{session_id}"));
        }
    });
    view! {
        <section class="card" id="offers-card">
            <div class="row between">
                <h2>"Requests for you"</h2>
                <span class="muted small">"Updates live"</span>
            </div>
            <FormError error=accept_error />
            {move || {
                let list = live.get().unwrap_or_else(|| initial.clone());
                if list.is_empty() {
                    view! {
                        <p class="muted" id="no-offers">"No requests for you right now. Stay online: new ones appear here by themselves."</p>
                    }.into_any()
                } else {
                    view! {
                        <ul class="offer-list" id="offers">
                            {list.into_iter().map(|o| view! { <OfferCard o accept /> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn OfferCard(o: OfferView, accept: ServerAction<AcceptRequest>) -> impl IntoView {
    let preferred = o.is_preferred();
    let routing = match (&o.routing_type, &o.preferred_workshop_name) {
        (RoutingType::Broadcast, _) => "Any available mechanic".to_string(),
        (r, Some(w)) => format!("{} · {w}", r.label()),
        (r, None) => r.label().to_string(),
    };
    view! {
        <li class=if preferred { "offer preferred" } else { "offer" } data-request-id=o.request_id.to_string() data-priority=o.priority>
            <div class="row between">
                <strong>{o.plan_name.clone()} " · " {format!("{} min", o.minutes)}</strong>
                <span class=if preferred { "badge success" } else { "badge info" }>
                    {if preferred { "Your workshop".to_string() } else { format!("Priority {}", o.priority) }}
                </span>
            </div>
            <p class="muted small">{o.vehicle.clone()} " · waiting " {waited(o.waiting_secs)} " · " {routing}</p>
            <p class="problem">{o.problem.clone()}</p>
            <p class="muted small">{o.reason.clone()}</p>
            <ActionForm action=accept attr:class="inline-form">
                <input type="hidden" name="request_id" value=o.request_id.to_string() />
                <button type="submit" class="primary small" disabled=move || accept.pending().get()>"Accept"</button>
            </ActionForm>
        </li>
    }
}
