//! Earnings pages: the workshop's panel, the mechanic's page, the admin's revenue.

use super::api::{get_mechanic_earnings, get_platform_revenue, get_workshop_earnings};
use super::{DailyPoint, EarningRow, EarningsTotals, WorkshopEarnings};
use crate::auth::pages::RoleGate;
use crate::auth::Role;
use crate::ui::format_money;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// Bars for the last 30 days, drawn on the server as SVG.
#[component]
pub fn DailyChart(points: Vec<DailyPoint>, currency: String, label: &'static str) -> impl IntoView {
    let max = points.iter().map(|p| p.cents.max(0)).max().unwrap_or(0).max(1);
    let n = points.len().max(1) as i64;
    let (w, h) = (600i64, 160i64);
    let bar = w / n;
    let total: i64 = points.iter().map(|p| p.cents).sum();
    let first = points.first().map(|p| p.day.format("%b %-d").to_string()).unwrap_or_default();
    let last = points.last().map(|p| p.day.format("%b %-d").to_string()).unwrap_or_default();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {w} {}", h + 20) role="img" aria-label=format!("{label}: {} over 30 days", format_money(total, &currency))>
                <line x1="0" y1=h.to_string() x2=w.to_string() y2=h.to_string() class="chart-axis" />
                {points.iter().enumerate().map(|(i, p)| {
                    let height = (p.cents.max(0) * (h - 10)) / max;
                    view! {
                        <rect x=(i as i64 * bar + 2).to_string() y=(h - height).to_string() width=(bar - 4).max(1).to_string()
                            height=height.to_string() class="chart-bar">
                            <title>{format!("{}: {}", p.day.format("%Y-%m-%d"), format_money(p.cents, &currency))}</title>
                        </rect>
                    }
                }).collect_view()}
                <text x="0" y=(h + 16).to_string() class="chart-label">{first}</text>
                <text x=w.to_string() y=(h + 16).to_string() text-anchor="end" class="chart-label">{last}</text>
            </svg>
            <figcaption class="muted small">{format!("{label}, last 30 days: {}", format_money(total, &currency))}</figcaption>
        </figure>
    }
}

#[component]
fn Totals(totals: EarningsTotals, currency: String) -> impl IntoView {
    view! {
        <div class="stats" id="earnings-totals">
            <div class="stat"><div class="value" id="pending-total">{format_money(totals.pending_cents, &currency)}</div><div class="label">"Pending payout"</div></div>
            <div class="stat"><div class="value" id="paid-total">{format_money(totals.paid_cents, &currency)}</div><div class="label">"Paid out"</div></div>
            <div class="stat"><div class="value" id="lifetime-total">{format_money(totals.lifetime_cents, &currency)}</div><div class="label">"Lifetime"</div></div>
        </div>
    }
}

/// The rows' total, split as the totals above are: over the whole history it
/// equals them (refunds and reversals are rows too).
#[component]
fn RowSums(rows: Vec<EarningRow>, currency: String, label_cols: u8) -> impl IntoView {
    let (net, pending, paid) = super::row_sums(&rows);
    view! {
        <tfoot id="earnings-row-sums">
            <tr>
                <th scope="row" colspan=label_cols.to_string()>"These rows"</th>
                <td class="num net">{format_money(net, &currency)}</td>
                <td class="small">{format!("{} pending · {} paid out", format_money(pending, &currency), format_money(paid, &currency))}</td>
            </tr>
        </tfoot>
    }
}

fn status_badge(r: &EarningRow) -> impl IntoView {
    let paid = r.payout_status == crate::status::PayoutStatus::Paid;
    let (class, label) = match (r.entry_kind.as_str(), paid) {
        ("transfer_reversal", _) => ("badge", "Recovered from a payout"),
        ("refund", true) => ("badge success", "Netted in a payout"),
        (_, true) => ("badge success", "Paid"),
        (_, false) => ("badge warning", "Pending"),
    };
    let detail = match (&r.paid_at, &r.transfer_id) {
        (Some(at), Some(t)) => format!(" {} · {t}", at.format("%Y-%m-%d")),
        (Some(at), None) => format!(" {}", at.format("%Y-%m-%d")),
        _ => String::new(),
    };
    view! {
        <span class=class>{label}</span>
        <span class="muted small">{detail}</span>
    }
}

// Resources are created where a page starts, never inside gated content (which
// may render more than once on the server), so hydration ids match.

type Loaded<T> = Resource<Result<T, crate::error::AppError>>;

#[component]
pub fn WorkshopEarningsPage() -> impl IntoView {
    // The date range lives in the address (?from=&to=): it works without
    // JavaScript, and a filtered view can be bookmarked.
    let query = use_query_map();
    let range = move || query.with(|q| (q.get("from"), q.get("to")));
    let data = Resource::new(range, |(from, to)| get_workshop_earnings(from, to));
    view! {
        <Title text="Earnings" />
        <RoleGate role=Role::WorkshopMember children=move |_| view! { <WorkshopEarningsPanel data /> } />
    }
}

#[component]
fn WorkshopEarningsPanel(data: Loaded<WorkshopEarnings>) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(d) => view! { <WorkshopEarningsView d error=None /> }.into_any(),
                Err(e @ crate::error::AppError::Invalid(_)) => {
                    let message = e.field_message("from").or(e.field_message("to")).unwrap_or_else(|| e.to_string());
                    view! { <crate::ui::ErrorNotice error=crate::error::AppError::BadRequest(message) />
                            <p><a class="button" href="/workshop/earnings">"Show the last 30 days"</a></p> }.into_any()
                }
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn WorkshopEarningsView(d: WorkshopEarnings, error: Option<crate::error::AppError>) -> impl IntoView {
    let csv = format!("/workshop/earnings.csv?from={}&to={}", d.from, d.to);
    let currency = d.currency.clone();
    view! {
        <header class="page-header">
            <div><h1>"Earnings"</h1><p>{d.workshop_name.clone()}</p></div>
            <div class="row">
                <a class="button" href="/workshop/payouts">"Payout set-up"</a>
                <a class="button" href=csv id="csv-export" download="">"Export CSV"</a>
            </div>
        </header>
        <Totals totals=d.totals.clone() currency=currency.clone() />
        <section class="card">
            <DailyChart points=d.chart.clone() currency=currency.clone() label="Earned" />
        </section>
        <section class="card">
            <Form method="GET" action="" attr:class="row" attr:id="earnings-filter">
                <label for="from">"From"</label>
                <input type="date" id="from" name="from" value=d.from.to_string() />
                <label for="to">"To"</label>
                <input type="date" id="to" name="to" value=d.to.to_string() />
                <button type="submit" class="small">"Show"</button>
            </Form>
            {error.map(|e| view! { <p class="error">{e.to_string()}</p> })}
            {if d.rows.is_empty() {
                view! { <p class="muted" id="no-earnings">"No earnings in this period."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table id="earnings-rows">
                            <thead><tr><th>"Date"</th><th>"Kind"</th><th>"Mechanic"</th><th>"Plan"</th><th class="num">"Gross"</th>
                                <th class="num">"Platform fee"</th><th class="num">"Referral"</th><th class="num">"Net"</th><th>"Status"</th></tr></thead>
                            <tbody>
                                {d.rows.iter().map(|r| view! {
                                    <tr data-kind=r.share_kind.clone()>
                                        <td>{r.created_at.format("%Y-%m-%d").to_string()}</td>
                                        <td>{r.kind_label()}</td>
                                        <td>{r.mechanic_name.clone()}</td>
                                        <td>{r.plan_name.clone()}</td>
                                        <td class="num">{format_money(r.gross_cents, &currency)}</td>
                                        <td class="num">{format_money(r.platform_fee_cents, &currency)}</td>
                                        <td class="num">{if r.share_kind == "referral" { "–".to_string() } else { format_money(r.referral_cents, &currency) }}</td>
                                        <td class="num net">{format_money(r.net_cents, &currency)}</td>
                                        <td>{status_badge(r)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                            <RowSums rows=d.rows.clone() currency=currency.clone() label_cols=7 />
                        </table>
                    </div>
                    {d.more_rows.then(|| view! { <p class="muted small">"More rows in this period: narrow the dates, or export the CSV."</p> })}
                }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn MechanicEarningsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_mechanic_earnings());
    view! {
        <Title text="Your earnings" />
        <RoleGate role=Role::Mechanic children=move |_| view! { <MechanicEarningsView data /> } />
    }
}

#[component]
fn MechanicEarningsView(data: Loaded<super::MechanicEarnings>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(e) => {
                    let currency = e.currency.clone();
                    view! {
                        <header class="page-header">
                            <div><h1>"Your earnings"</h1></div>
                            {e.workshop_name.is_none().then(|| view! { <a class="button" href="/mechanic/payouts">"Payout set-up"</a> })}
                        </header>
                        {e.workshop_name.clone().map(|w| view! {
                            <p class="notice info" id="paid-by-workshop">
                                {format!("You work for {w}: the platform pays your workshop for your sessions, and {w} pays you.")}
                            </p>
                        })}
                        {e.totals.clone().map(|t| view! { <Totals totals=t currency=currency.clone() /> })}
                        {(!e.rows.is_empty()).then(|| view! {
                            <section class="card">
                                <h2>"Your share per session"</h2>
                                <div class="table-wrap">
                                    <table id="mechanic-earnings">
                                        <thead><tr><th>"Date"</th><th>"Plan"</th><th class="num">"Gross"</th><th class="num">"Platform fee"</th>
                                            <th class="num">"Referral"</th><th class="num">"Yours"</th><th>"Status"</th></tr></thead>
                                        <tbody>
                                            {e.rows.iter().map(|r| view! {
                                                <tr>
                                                    <td>{r.created_at.format("%Y-%m-%d").to_string()}</td>
                                                    <td>{match r.kind_label() { "Session" => r.plan_name.clone(), k => format!("{} · {k}", r.plan_name) }}</td>
                                                    <td class="num">{format_money(r.gross_cents, &currency)}</td>
                                                    <td class="num">{format_money(r.platform_fee_cents, &currency)}</td>
                                                    <td class="num">{format_money(r.referral_cents, &currency)}</td>
                                                    <td class="num net">{format_money(r.net_cents, &currency)}</td>
                                                    <td>{status_badge(r)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                        <RowSums rows=e.rows.clone() currency=currency.clone() label_cols=5 />
                                    </table>
                                </div>
                            </section>
                        })}
                        <section class="card">
                            <h2>"Sessions you served"</h2>
                            {if e.served.is_empty() {
                                view! { <p class="muted">"None completed yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="plain-list" id="served-sessions">
                                        {e.served.iter().map(|s| view! {
                                            <li>
                                                {s.ended_at.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()} " · "
                                                {s.plan_name.clone()} " · " {s.customer_name.clone()}
                                                {s.rating.map(|r| format!(" · {r} ★"))}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </section>
                    }.into_any()
                }
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
pub fn AdminRevenuePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_platform_revenue());
    view! {
        <Title text="Admin: revenue" />
        <RoleGate role=Role::Admin children=move |_| view! { <crate::ui::AdminNav /> <AdminRevenue data /> } />
    }
}

#[component]
fn AdminRevenue(data: Loaded<super::PlatformRevenue>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(rev) => {
                    let currency = rev.currency.clone();
                    view! {
                        <header class="page-header"><div><h1>"Platform revenue"</h1>
                            <p id="revenue-30d">{format!("{} in the last 30 days", format_money(rev.total_30d_cents, &currency))}</p></div></header>
                        <section class="card"><DailyChart points=rev.by_day.clone() currency=currency.clone() label="Platform fees" /></section>
                        <section class="card">
                            <h2>"By workshop (last 30 days)"</h2>
                            <div class="table-wrap">
                                <table id="revenue-by-workshop">
                                    <thead><tr><th>"Served by"</th><th class="num">"Sessions"</th><th class="num">"Platform fees"</th></tr></thead>
                                    <tbody>
                                        {rev.by_workshop.iter().map(|w| view! {
                                            <tr>
                                                <td>{w.workshop_name.clone().unwrap_or_else(|| "Independent mechanics".into())}</td>
                                                <td class="num">{w.sessions}</td>
                                                <td class="num">{format_money(w.platform_fee_cents, &currency)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </section>
                    }.into_any()
                }
                Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
            })}
        </Suspense>
    }
}
