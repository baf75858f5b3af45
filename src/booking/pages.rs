//! The booking page, "my sessions", and the page customers return to after paying.

use super::api::{get_booking_options, my_orders, StartCheckout};
use super::{BookingOptions, CustomerOrder, CustomerState, OrderStatus};
use crate::auth::pages::{hard_navigate, RoleGate};
use crate::auth::Role;
use crate::dispatch::RoutingType;
use crate::ui::{action_error, format_money, FormError, TextArea, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

// Resources are created where the page starts, never inside the gated content
// (which may render more than once on the server), so hydration ids match.

#[component]
pub fn BookPage() -> impl IntoView {
    let query = use_query_map();
    let workshop = move || query.with(|q| q.get("workshop"));
    let options = Resource::new(workshop, get_booking_options);
    view! {
        <Title text="Book a session" />
        <RoleGate role=Role::Customer children=move |_| view! { <BookingLoader options /> } />
    }
}

#[component]
fn BookingLoader(options: Resource<Result<BookingOptions, crate::error::AppError>>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || options.get().map(|r| match r {
                Ok(o) => view! { <BookingForm o /> }.into_any(),
                Err(e) => view! {
                    <section class="card narrow">
                        <h1>"Book a session"</h1>
                        <crate::ui::ErrorNotice error=e />
                        <p><a class="button" href="/workshops">"Back to the directory"</a></p>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// The booking form: an island, so the review step follows the choices and a
/// refused submission keeps what was typed.
#[island]
fn BookingForm(o: BookingOptions) -> impl IntoView {
    let action = ServerAction::<StartCheckout>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(url)) = action.value().get() {
            hard_navigate(&url);
        }
    });
    let plans = o.plans.clone();
    let default_plan = plans
        .iter()
        .find(|p| p.code == "video15")
        .or(plans.first())
        .map(|p| p.code.clone())
        .unwrap_or_default();
    let (plan, set_plan) = signal(default_plan.clone());
    let default_routing =
        if o.workshop.is_some() { RoutingType::WorkshopOnly } else { RoutingType::Broadcast };
    let (routing, set_routing) = signal(default_routing);
    let workshop = o.workshop.clone();
    let workshop_name = workshop.as_ref().map(|w| w.name.clone());
    let review_plans = plans.clone();
    let review = Memo::new(move |_| {
        let p = review_plans.iter().find(|p| p.code == plan.get());
        let who = match (routing.get(), workshop_name.clone()) {
            (RoutingType::WorkshopOnly, Some(w)) => format!("Only mechanics of {w}"),
            (RoutingType::Hybrid, Some(w)) => format!("{w} first, then any available mechanic"),
            _ => "The first available mechanic".to_string(),
        };
        (
            p.map(|p| format!("{} · {} min", p.name, p.minutes)).unwrap_or_default(),
            who,
            p.map(|p| format_money(p.price_cents, &p.currency)).unwrap_or_default(),
        )
    });
    let pay_label = move || format!("Pay {}", review.get().2);

    view! {
        <header class="page-header">
            <div>
                <h1>"Book a remote diagnosis"</h1>
                <p>"Four short steps. You pay at the end, on a secure payment page."</p>
            </div>
        </header>
        <ActionForm action=action attr:class="stack booking-form" attr:id="booking-form" attr:novalidate="true">
            <input type="hidden" name="request_key" value=o.request_key.to_string() />
            <section class="card stack" aria-labelledby="step-plan">
                <h2 id="step-plan">"1. Choose a plan"</h2>
                <div class="choice-list">
                    {plans.into_iter().map(|p| {
                        let code = p.code.clone();
                        let checked = p.code == default_plan;
                        let id = format!("plan-{}", p.code);
                        let for_id = id.clone();
                        view! {
                            <label class="choice-card" for=for_id>
                                <input type="radio" name="plan_code" id=id value=p.code.clone() checked=checked
                                    on:change=move |_| set_plan.set(code.clone()) />
                                <span>
                                    <strong>{p.name.clone()}</strong>
                                    <span class="muted">{format!(" · {} min", p.minutes)}</span>
                                    <span class="price">{format_money(p.price_cents, &p.currency)}</span>
                                    <span class="muted small block">{p.description.clone()}</span>
                                </span>
                            </label>
                        }
                    }).collect_view()}
                </div>
                <span class="field-error" role="alert">{move || error.get().and_then(|e| e.field_message("plan_code"))}</span>
            </section>

            <section class="card stack" aria-labelledby="step-vehicle">
                <h2 id="step-vehicle">"2. Your vehicle and the problem"</h2>
                <div class="grid three">
                    <TextField label="Make" name="vehicle_make" maxlength=60 error=error />
                    <TextField label="Model" name="vehicle_model" maxlength=60 error=error />
                    <TextField label="Year" name="vehicle_year" input_type="number" error=error />
                </div>
                <TextArea label="What is happening?" name="problem_description" maxlength=2000
                    hint="When does it happen, what do you hear, see or feel? Warning lights? (10 characters at least)" error=error />
            </section>

            <section class="card stack" aria-labelledby="step-who">
                <h2 id="step-who">"3. Who should help"</h2>
                {match workshop {
                    Some(w) => view! {
                        <input type="hidden" name="workshop_id" value=w.id.to_string() />
                        <p>
                            "You chose " <strong id="chosen-workshop">{w.name.clone()}</strong> " in " {w.city.clone()}
                            {format!(" ({} mechanics online now). ", w.mechanics_online)}
                            <a href="/workshops">"Choose another"</a>
                        </p>
                        <div class="choice-list">
                            {[RoutingType::WorkshopOnly, RoutingType::Hybrid, RoutingType::Broadcast].into_iter().map(|r| {
                                let id = format!("routing-{}", r.as_str());
                                let for_id = id.clone();
                                view! {
                                    <label class="choice-card" for=for_id>
                                        <input type="radio" name="routing_type" id=id value=r.as_str() checked=r == default_routing
                                            on:change=move |_| set_routing.set(r) />
                                        <span>
                                            <strong>{r.label()}</strong>
                                            <span class="muted small block">{r.explanation()}</span>
                                        </span>
                                    </label>
                                }
                            }).collect_view()}
                        </div>
                    }.into_any(),
                    None => view! {
                        <input type="hidden" name="routing_type" value="broadcast" />
                        <p><strong>"Any available mechanic."</strong> " " {RoutingType::Broadcast.explanation()}</p>
                        <p class="muted small">"Prefer a particular workshop? " <a href="/workshops">"Choose one in the directory"</a> "."</p>
                    }.into_any(),
                }}
                <span class="field-error" role="alert">
                    {move || error.get().and_then(|e| e.field_message("workshop_id").or_else(|| e.field_message("routing_type")))}
                </span>
            </section>

            <section class="card stack" aria-labelledby="step-review" id="review">
                <h2 id="step-review">"4. Review and pay"</h2>
                <dl class="details">
                    <dt>"Plan"</dt><dd id="review-plan">{move || review.get().0}</dd>
                    <dt>"Mechanic"</dt><dd id="review-who">{move || review.get().1}</dd>
                    <dt>"Total"</dt><dd id="review-total"><strong>{move || review.get().2}</strong></dd>
                </dl>
                <FormError error=error />
                <button type="submit" class="primary" id="pay-button" disabled=move || action.pending().get()>
                    {pay_label}
                </button>
                <p class="muted small">"You will be taken to the payment page. Nothing is charged until you confirm there."</p>
            </section>
        </ActionForm>
    }
}

#[component]
pub fn MySessionsPage() -> impl IntoView {
    let orders = Resource::new(|| (), |_| my_orders());
    view! {
        <Title text="My sessions" />
        <RoleGate role=Role::Customer children=move |_| view! { <MySessions orders /> } />
    }
}

#[component]
fn MySessions(orders: Resource<Result<Vec<CustomerOrder>, crate::error::AppError>>) -> impl IntoView {
    view! {
        <header class="page-header">
            <div><h1>"My sessions"</h1><p>"Your bookings and where they stand."</p></div>
            <a class="button primary" href="/book">"Book a session"</a>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || orders.get().map(|r| match r {
                Ok(list) if list.is_empty() => view! {
                    <section class="card"><p>"No bookings yet. "<a href="/workshops">"Find a workshop"</a>" or "<a href="/book">"book any available mechanic"</a>"."</p></section>
                }.into_any(),
                Ok(list) => view! {
                    <div class="stack" id="orders">
                        {list.into_iter().map(|o| view! { <OrderCard o /> }).collect_view()}
                    </div>
                }.into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn OrderCard(o: CustomerOrder) -> impl IntoView {
    let state = o.state();
    let who = match (&o.mechanic_name, &o.serving_workshop_name, &o.preferred_workshop_name) {
        (Some(m), Some(w), _) => format!("{m} of {w}"),
        (Some(m), None, _) => format!("{m} (independent mechanic)"),
        (None, _, Some(p)) => format!("{} · {p}", o.routing_type.label()),
        (None, _, None) => o.routing_type.label().to_string(),
    };
    let continue_url = (o.status == OrderStatus::AwaitingPayment).then(|| o.checkout_url.clone()).flatten();
    view! {
        <article class="card order" data-order-id=o.order_id.to_string() data-state=format!("{state:?}")>
            <div class="row between">
                <div>
                    <h2 class="order-title">{o.plan_name.clone()} " · " {o.vehicle.clone()}</h2>
                    <p class="muted small">{o.created_at.format("%Y-%m-%d %H:%M UTC").to_string()} " · " {who}</p>
                </div>
                <span class=state.badge() data-role="order-state">{state.label()}</span>
            </div>
            <p>
                {format_money(o.amount_cents, &o.currency)}
                {(o.amount_refunded_cents > 0).then(|| format!(" · refunded {}", format_money(o.amount_refunded_cents, &o.currency)))}
            </p>
            <p class="row">
                {continue_url.map(|url| view! { <a class="button primary small" href=url>"Continue to payment"</a> })}
                {(o.status != OrderStatus::AwaitingPayment).then(|| view! {
                    <a class="button small" href=format!("/orders/{}", o.order_id)>"Follow it"</a>
                })}
                {o.session_id.filter(|_| state == CustomerState::Completed).map(|sid| view! {
                    <a class="button small" href=format!("/session/{sid}/report") data-role="report-link">"Report"</a>
                })}
            </p>
        </article>
    }
}

#[component]
pub fn CheckoutReturnPage() -> impl IntoView {
    let query = use_query_map();
    let order_id = query.with_untracked(|q| q.get("order")).and_then(|o| uuid::Uuid::parse_str(&o).ok());
    let payment_cancelled = query.with_untracked(|q| q.get("cancelled")).is_some();
    let order = super::order_page::order_resource(order_id);
    view! {
        <Title text="Your booking" />
        <RoleGate role=Role::Customer children=move |_| {
            view! { <super::order_page::OrderLive order_id order payment_cancelled /> }
        } />
    }
}
