//! The analytics over time on the owner's dashboard: five small bar charts
//! drawn on the server as SVG (each with a text summary for screen readers),
//! the same figures as a table (the charts' text alternative), one row per
//! mechanic, and the CSV link. No island: this part is plain HTML.

use super::trends::{human_seconds, MechanicFigures, WeekFigures, WorkshopTrends};
use crate::ui::format_money;
use leptos::prelude::*;

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "–".into())
}

fn rating_text(avg: Option<f64>, count: i64) -> String {
    or_dash(avg.map(|r| format!("{r:.2} ({count})")))
}

/// One metric's bars, one per week; `text` is each bar's figure in words.
#[component]
fn WeeklyChart(
    id: &'static str,
    label: &'static str,
    weeks: Vec<WeekFigures>,
    value: fn(&WeekFigures) -> Option<f64>,
    text: fn(&WeekFigures) -> String,
) -> impl IntoView {
    let values: Vec<Option<f64>> = weeks.iter().map(value).collect();
    let max = values.iter().flatten().cloned().fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let (w, h) = (240i64, 60i64);
    let bar = w / weeks.len().max(1) as i64;
    let latest = weeks.last().map(text).unwrap_or_default();
    let summary = format!(
        "{label} per week, {} to {}: {}",
        weeks.first().map(|w| w.week_start.format("%b %-d").to_string()).unwrap_or_default(),
        weeks.last().map(|w| w.week_start.format("%b %-d").to_string()).unwrap_or_default(),
        weeks.iter().map(text).collect::<Vec<_>>().join(", ")
    );
    view! {
        <figure class="chart trend-chart" id=id>
            <figcaption><strong>{label}</strong> <span class="muted small">{format!(" this week: {latest}")}</span></figcaption>
            <svg viewBox=format!("0 0 {w} {}", h + 2) role="img" aria-label=summary>
                <line x1="0" y1=h.to_string() x2=w.to_string() y2=h.to_string() class="chart-axis" />
                {weeks.iter().zip(values.iter()).enumerate().map(|(i, (wk, v))| {
                    let height = (v.unwrap_or(0.0).max(0.0) / max * (h - 4) as f64).round() as i64;
                    view! {
                        <rect x=(i as i64 * bar + 1).to_string() y=(h - height).to_string() width=(bar - 2).max(1).to_string()
                            height=height.to_string() class="chart-bar">
                            <title>{format!("Week of {}: {}", wk.week_start.format("%Y-%m-%d"), text(wk))}</title>
                        </rect>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

fn sessions_text(w: &WeekFigures) -> String {
    w.sessions.to_string()
}
fn accept_text(w: &WeekFigures) -> String {
    or_dash(w.median_accept_seconds.map(human_seconds))
}
fn rate_text(w: &WeekFigures) -> String {
    or_dash(w.acceptance_rate_percent().map(|p| format!("{p}%")))
}
fn avg_text(w: &WeekFigures) -> String {
    or_dash(w.avg_rating.map(|r| format!("{r:.2}")))
}
fn earnings_text(w: &WeekFigures) -> String {
    format_money(w.earnings_cents, "usd")
}

#[component]
pub fn TrendsPanel(t: WorkshopTrends) -> impl IntoView {
    let currency = t.currency.clone();
    let weeks = t.weeks.clone();
    view! {
        <section class="card" id="workshop-trends" aria-labelledby="trends-heading">
            <header class="row spread">
                <h2 id="trends-heading">"The last 12 weeks"</h2>
                <a class="button small" href="/workshop/analytics.csv" id="trends-csv" download>"Download CSV"</a>
            </header>
            <div class="trend-charts">
                <WeeklyChart id="chart-sessions" label="Sessions" weeks=weeks.clone() value=|w| Some(w.sessions as f64) text=sessions_text />
                <WeeklyChart id="chart-accept" label="Median time to accept" weeks=weeks.clone() value=|w| w.median_accept_seconds.map(|s| s as f64) text=accept_text />
                <WeeklyChart id="chart-rate" label="Acceptance rate" weeks=weeks.clone() value=|w| w.acceptance_rate_percent().map(|p| p as f64) text=rate_text />
                <WeeklyChart id="chart-rating" label="Average rating" weeks=weeks.clone() value=|w| w.avg_rating text=avg_text />
                <WeeklyChart id="chart-earnings" label="Earnings" weeks=weeks.clone() value=|w| Some(w.earnings_cents as f64) text=earnings_text />
            </div>
            <details class="trend-table">
                <summary>"The figures, week by week"</summary>
                <div class="table-wrap">
                    <table id="trends-table">
                        <thead><tr><th scope="col">"Week of"</th><th class="num" scope="col">"Sessions"</th><th class="num" scope="col">"Median to accept"</th>
                            <th class="num" scope="col">"Acceptance"</th><th class="num" scope="col">"Avg. rating"</th><th class="num" scope="col">"Earnings"</th></tr></thead>
                        <tbody>
                            {weeks.iter().map(|w| view! {
                                <tr data-week=w.week_start.to_string()>
                                    <th scope="row">{w.week_start.format("%Y-%m-%d").to_string()}</th>
                                    <td class="num">{sessions_text(w)}</td>
                                    <td class="num">{accept_text(w)}</td>
                                    <td class="num">{rate_text(w)}</td>
                                    <td class="num">{rating_text(w.avg_rating, w.rating_count)}</td>
                                    <td class="num">{format_money(w.earnings_cents, &currency)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
            <h3>"Per mechanic, over the 12 weeks"</h3>
            <MechanicRows rows=t.mechanics.clone() currency=t.currency.clone() />
        </section>
    }
}

#[component]
fn MechanicRows(rows: Vec<MechanicFigures>, currency: String) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No mechanics yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table id="trends-mechanics">
                <thead><tr><th scope="col">"Mechanic"</th><th class="num" scope="col">"Sessions"</th><th class="num" scope="col">"Median to accept"</th>
                    <th class="num" scope="col">"Avg. rating"</th><th class="num" scope="col">"Earnings"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|m| view! {
                        <tr data-mechanic-id=m.mechanic_id.to_string()>
                            <th scope="row">{m.name.clone()}</th>
                            <td class="num">{m.sessions}</td>
                            <td class="num">{or_dash(m.median_accept_seconds.map(human_seconds))}</td>
                            <td class="num">{rating_text(m.avg_rating, m.rating_count)}</td>
                            <td class="num">{format_money(m.earnings_cents, &currency)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
