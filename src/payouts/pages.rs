//! Payout set-up for workshops and independent mechanics; the admin's payouts,
//! refunds and reconciliation pages.

use super::api::{
    admin_orders, get_payout_setup, get_payouts_overview, refresh_payout_setup, AdminOrder, RefundOrder,
    RunPayoutsNow, RunReconciliation, StartPayoutSetup,
};
use super::{OnboardingState, PayoutLine, PayoutSetup, PayoutsOverview};
use crate::auth::pages::{hard_navigate, RequireLogin, RoleGate};
use crate::auth::{CurrentUser, Role};
use crate::error::AppError;
use crate::ui::{action_error, format_money, FormError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

type Loaded<T> = Resource<Result<T, AppError>>;

fn payout_rows(lines: Vec<PayoutLine>, with_payee: bool) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="payouts">
                <thead><tr>
                    <th>"Created"</th>
                    {with_payee.then(|| view! { <th>"Payee"</th> })}
                    <th class="num">"Amount"</th><th>"Status"</th><th>"Transfer"</th><th>"Paid"</th>
                </tr></thead>
                <tbody>
                    {lines.into_iter().map(|p| {
                        let badge = p.status.badge();
                        view! {
                            <tr data-status=p.status.as_str()>
                                <td>{p.created_at.format("%Y-%m-%d %H:%M").to_string()}</td>
                                {with_payee.then(|| view! { <td>{p.payee_name.clone()}</td> })}
                                <td class="num">{format_money(p.amount_cents, "usd")}</td>
                                <td>
                                    <span class=badge>{p.status.as_str()}</span>
                                    {p.failure_reason.clone().map(|r| view! { <br/><span class="muted small">{r}</span> })}
                                </td>
                                <td class="mono small">{p.transfer_id.clone().unwrap_or_default()}</td>
                                <td>{p.paid_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `/workshop/payouts` and `/mechanic/payouts`: the payee's payout set-up.
#[component]
pub fn PayoutSetupPage() -> impl IntoView {
    let query = use_query_map();
    let returning = query.with_untracked(|q| q.get("onboarding")).is_some();
    let start = ServerAction::<StartPayoutSetup>::new();
    let setup: Loaded<PayoutSetup> = Resource::new(
        || (),
        move |_| async move {
            // Back from onboarding: read the account's state from the provider first.
            if returning {
                let _ = refresh_payout_setup().await;
            }
            get_payout_setup().await
        },
    );
    Effect::new(move |_| {
        if let Some(Ok(url)) = start.value().get() {
            hard_navigate(&url);
        }
    });
    view! {
        <Title text="Payouts" />
        <RequireLogin children=move |_: CurrentUser| view! { <PayoutSetupView setup start /> } />
    }
}

#[component]
fn PayoutSetupView(setup: Loaded<PayoutSetup>, start: ServerAction<StartPayoutSetup>) -> impl IntoView {
    let error = action_error(start);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || setup.get().map(|r| match r {
                Ok(s) => view! {
                    <header class="page-header">
                        <div><h1>"Payouts"</h1><p>{s.payee_name.clone()}</p></div>
                        <span class=s.state.badge() id="onboarding-state">{s.state.label()}</span>
                    </header>
                    <section class="card">
                        <p>{s.state.explanation()}</p>
                        <p>"Pending now: " <strong id="payout-pending">{format_money(s.pending_cents, "usd")}</strong></p>
                        {(s.state != OnboardingState::PayoutsEnabled).then(|| view! {
                            <ActionForm action=start attr:id="payout-setup-form">
                                <button type="submit" class="primary">
                                    {if s.state == OnboardingState::NotStarted { "Set up payouts" } else { "Continue set-up" }}
                                </button>
                            </ActionForm>
                        })}
                        <FormError error />
                    </section>
                    <section class="card">
                        <h2>"Payouts"</h2>
                        {if s.last_payouts.is_empty() {
                            view! { <p class="muted">"No payouts yet."</p> }.into_any()
                        } else {
                            payout_rows(s.last_payouts.clone(), false).into_any()
                        }}
                    </section>
                }.into_any(),
                Err(e) => view! { <section class="card narrow"><crate::ui::ErrorNotice error=e /></section> }.into_any(),
            })}
        </Suspense>
    }
}

// ---------------------------------------------------------------- admin

#[component]
pub fn AdminPayoutsPage() -> impl IntoView {
    let first: Loaded<PayoutsOverview> = Resource::new(|| (), |_| get_payouts_overview());
    view! {
        <Title text="Admin: payouts" />
        <RoleGate role=Role::Admin children=move |_| view! {
            <crate::ui::AdminNav />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || first.get().map(|r| match r {
                    Ok(first) => view! { <AdminPayouts first /> }.into_any(),
                    Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                })}
            </Suspense>
        } />
    }
}

/// An island: a run's outcome shows in place and the balances reload after it.
#[island]
fn AdminPayouts(first: PayoutsOverview) -> impl IntoView {
    let run = ServerAction::<RunPayoutsNow>::new();
    let overview = crate::ui::reload::reload_after(first, move || run.version().get(), get_payouts_overview);
    let error = action_error(run);
    view! {
        <header class="page-header">
            <div><h1>"Payouts"</h1><p>"Each run pays every payee with payouts enabled their whole pending balance, in one transfer."</p></div>
            <ActionForm action=run attr:id="run-payouts-form">
                <button type="submit" class="primary" disabled=move || run.pending().get()>"Pay out now"</button>
            </ActionForm>
        </header>
        <FormError error />
        {move || run.value().get().and_then(|r| r.ok()).map(|msg| view! { <p class="notice success" id="payout-result">{msg}</p> })}

            {move || overview.get().map(|r| match r {
                Ok(o) => view! {
                    <p class="muted small">
                        {match o.next_scheduled_run {
                            Some(t) => format!("Next scheduled run: {}", t.format("%Y-%m-%d %H:%M UTC")),
                            None => "The payout schedule is off (PAYOUT_INTERVAL_HOURS=0).".to_string(),
                        }}
                    </p>
                    <section class="card">
                        <h2>"Balances"</h2>
                        {if o.balances.is_empty() {
                            view! { <p class="muted">"Nobody is owed anything."</p> }.into_any()
                        } else {
                            view! {
                                <div class="table-wrap"><table id="payout-balances">
                                    <thead><tr><th>"Payee"</th><th>"Kind"</th><th class="num">"Owed"</th><th>"Payouts"</th></tr></thead>
                                    <tbody>
                                        {o.balances.iter().map(|b| view! {
                                            <tr>
                                                <td>{b.payee_name.clone()}</td>
                                                <td>{b.kind.payee_label()}</td>
                                                <td class="num">{format_money(b.owed_cents, "usd")}</td>
                                                <td>{if b.payouts_enabled {
                                                    view! { <span class="badge success">"Enabled"</span> }.into_any()
                                                } else {
                                                    view! { <span class="badge warning">"Not set up: stays pending"</span> }.into_any()
                                                }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table></div>
                            }.into_any()
                        }}
                    </section>
                    <section class="card">
                        <h2>"Recent payouts"</h2>
                        {payout_rows(o.recent.clone(), true)}
                    </section>
                }.into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}

    }
}

#[component]
pub fn AdminOrdersPage() -> impl IntoView {
    let first: Loaded<Vec<AdminOrder>> = Resource::new(|| (), |_| admin_orders());
    view! {
        <Title text="Admin: orders and refunds" />
        <RoleGate role=Role::Admin children=move |_| view! {
            <crate::ui::AdminNav />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || first.get().map(|r| match r {
                    Ok(first) => view! { <AdminOrders first /> }.into_any(),
                    Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                })}
            </Suspense>
        } />
    }
}

/// An island: a refund's outcome shows in place and the orders reload after it.
#[island]
fn AdminOrders(first: Vec<AdminOrder>) -> impl IntoView {
    let refund = ServerAction::<RefundOrder>::new();
    let orders = crate::ui::reload::reload_after(first, move || refund.version().get(), admin_orders);
    let error = action_error(refund);
    view! {
        <header class="page-header"><div><h1>"Orders and refunds"</h1>
            <p>"A refund reverses every party's share in proportion; shares already paid out are recovered from the payee."</p></div></header>
        <FormError error />
        {move || refund.value().get().and_then(|r| r.ok()).map(|msg| view! { <p class="notice success" id="refund-result">{msg}</p> })}

            {move || orders.get().map(|r| match r {
                Ok(list) => view! {
                    <div class="table-wrap card"><table id="admin-orders">
                        <thead><tr><th>"Paid"</th><th>"Customer"</th><th>"Plan"</th><th>"Served by"</th><th class="num">"Paid"</th>
                            <th class="num">"Refunded"</th><th>"Refund"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|o| {
                                let held = o.held_reason.clone();
                                let refundable = if held.is_some() { 0 } else { o.amount_paid_cents - o.amount_refunded_cents };
                                let id = o.order_id.to_string();
                                let row_id = id.clone();
                                view! {
                                    <tr data-order-id=row_id>
                                        <td>{o.paid_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()}</td>
                                        <td>{o.customer_email.clone()}</td>
                                        <td>{o.plan_name.clone()} <br/>{match held {
                                            Some(reason) => view! { <span class="badge warning">"Held"</span> " " <span class="small held-reason">{reason}</span> }.into_any(),
                                            None => view! { <span class="muted small">{o.session_status.map_or("no session", |s| s.as_str())}</span> }.into_any(),
                                        }}</td>
                                        <td>{o.served_by.clone().unwrap_or_default()}
                                            {o.session_started_at.map(|start| view! {
                                                <br/><span class="small muted session-times">
                                                    {start.format("%Y-%m-%d %H:%M").to_string()}
                                                    {o.session_ended_at.map(|end| format!(" to {}", end.format("%H:%M")))}
                                                    {o.session_seconds.map(|secs| format!(" · ran {}", crate::sessions::clock::human_length(secs)))}
                                                </span>
                                            })}
                                        </td>
                                        <td class="num">{format_money(o.amount_paid_cents, &o.currency)}</td>
                                        <td class="num">{format_money(o.amount_refunded_cents, &o.currency)}</td>
                                        <td>
                                            {(refundable > 0).then(|| view! {
                                                <ActionForm action=refund attr:class="inline-form refund-form">
                                                    <input type="hidden" name="order_id" value=id />
                                                    <input type="text" name="amount" inputmode="decimal" aria-label="Amount" class="fee-input"
                                                        value=format!("{}.{:02}", refundable / 100, refundable % 100) />
                                                    <input type="text" name="reason" placeholder="Reason" aria-label="Reason" maxlength="500" />
                                                    <button type="submit" class="small danger">"Refund"</button>
                                                </ActionForm>
                                            })}
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any(),
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}

    }
}

#[component]
pub fn AdminReconciliationPage() -> impl IntoView {
    view! {
        <Title text="Admin: reconciliation" />
        <RoleGate role=Role::Admin children=move |_| view! { <crate::ui::AdminNav /> <Reconciliation /> } />
    }
}

/// An island: the report of a run shows in place.
#[island]
fn Reconciliation() -> impl IntoView {
    let run = ServerAction::<RunReconciliation>::new();
    let error = action_error(run);
    view! {
        <header class="page-header">
            <div><h1>"Reconciliation"</h1>
                <p>"Compares the ledger with the payment provider's charges, transfers and refunds of the last 90 days. Also: " <code>"autodoctor reconcile"</code></p></div>
            <ActionForm action=run attr:id="reconcile-form">
                <button type="submit" class="primary" disabled=move || run.pending().get()>"Run reconciliation"</button>
            </ActionForm>
        </header>
        <FormError error />
        {move || run.value().get().and_then(|r| r.ok()).map(|report| view! {
            <section class="card" id="reconciliation-report">
                <p class="muted small">{format!(
                    "Checked {} orders, {} payouts and {} refunds at {}.",
                    report.checked_orders, report.checked_transfers, report.checked_refunds,
                    report.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
                )}</p>
                {if report.discrepancies.is_empty() {
                    view! { <p class="notice success" id="no-differences">"No differences: the ledger and the payment provider agree."</p> }.into_any()
                } else {
                    view! {
                        <ul class="plain-list" id="differences">
                            {report.discrepancies.into_iter().map(|d| view! {
                                <li><span class="badge danger">{d.area}</span> " " <strong>{d.reference}</strong> ": " {d.detail}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        })}
    }
}
