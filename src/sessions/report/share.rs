//! `/report/{token}`: a shared report, for anyone with the link and without an
//! account. It shows the plan, the date, the vehicle and the report, and
//! nothing about the people; search engines are asked not to index it.

use super::api::get_shared_report;
use super::view::ReportView;
use super::SharedReport;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

#[component]
pub fn SharedReportPage() -> impl IntoView {
    let params = use_params_map();
    let token = params.with_untracked(|p| p.get("token")).unwrap_or_default();
    let report: Resource<Result<SharedReport, AppError>> =
        Resource::new(move || token.clone(), |token| async move { get_shared_report(token).await });
    view! {
        <Title text="Diagnosis report" />
        <Meta name="robots" content="noindex, nofollow" />
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || report.get().map(|r| match r {
                Ok(s) => view! {
                    <article class="card printable" id="shared-report">
                        <header class="report-header">
                            <p class="brand-line">"autodoctor · diagnosis report"</p>
                            <h1>{s.vehicle.clone()}</h1>
                            <p>{s.plan_name.clone()} " · " {s.session_date.format("%Y-%m-%d").to_string()}</p>
                        </header>
                        <ReportView report=s.report />
                        <p class="muted small">"A remote diagnosis by a mechanic on autodoctor, shared by the car's owner. Costs are estimates; a garage confirms them after its own inspection."</p>
                    </article>
                    <p class="row no-print">
                        <super::print::PrintButton />
                    </p>
                }
                .into_any(),
                Err(e) => view! {
                    <section class="card narrow center" id="shared-report-missing">
                        <h1>"Report not available"</h1>
                        <crate::ui::ErrorNotice error=e />
                        <p><a class="button" href="/">"Go to the home page"</a></p>
                    </section>
                }
                .into_any(),
            })}
        </Suspense>
    }
}
