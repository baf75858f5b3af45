//! The report's components: the read-only report (room, print page, share
//! page), the mechanic's form (a plain `ActionForm` that works without
//! JavaScript, its errors on their fields), and the room's report card.

use super::api::SaveReport;
use super::form::{money_input, repair_field};
use super::{cost_range, Report, SafeToDrive, Urgency, REPAIRS_MAX};
use crate::error::AppError;
use crate::ui::{action_error, FormError};
use leptos::prelude::*;

/// The report as everyone reads it.
#[component]
pub fn ReportView(report: Report) -> impl IntoView {
    let safe_class = match report.safe_to_drive {
        SafeToDrive::Yes => "badge success",
        SafeToDrive::WithCare => "badge warning",
        SafeToDrive::No => "badge danger",
    };
    let currency = report.currency.clone();
    view! {
        <div class="report" id="report-view">
            <section class="report-section">
                <h3>"Summary"</h3>
                <p class="report-text" id="report-summary-text">{report.summary.clone()}</p>
            </section>
            {(!report.likely_causes.is_empty()).then(|| view! {
                <section class="report-section">
                    <h3>"Likely causes"</h3>
                    <p class="report-text">{report.likely_causes.clone()}</p>
                </section>
            })}
            <section class="report-section">
                <h3>"Safe to drive?"</h3>
                <p><span class=safe_class id="report-safe">{report.safe_to_drive.label()}</span></p>
            </section>
            <section class="report-section">
                <h3>"Recommended repairs"</h3>
                <table class="report-repairs" id="report-repairs">
                    <thead><tr><th scope="col">"Repair"</th><th scope="col">"Urgency"</th><th scope="col">"Likely cost"</th></tr></thead>
                    <tbody>
                        {report.repairs.iter().map(|r| view! {
                            <tr data-urgency=r.urgency.code()>
                                <td>{r.description.clone()}</td>
                                <td><span class=urgency_class(r.urgency)>{r.urgency.label()}</span></td>
                                <td class="num">{cost_range(r.cost_min_cents, r.cost_max_cents, &currency)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            {(!report.follow_ups.is_empty()).then(|| view! {
                <section class="report-section">
                    <h3>"Follow-ups"</h3>
                    <p class="report-text">{report.follow_ups.clone()}</p>
                </section>
            })}
            <p class="muted small">"Updated " {report.updated_at.format("%Y-%m-%d %H:%M UTC").to_string()}</p>
        </div>
    }
}

fn urgency_class(u: Urgency) -> &'static str {
    match u {
        Urgency::Now => "badge danger",
        Urgency::Soon => "badge warning",
        Urgency::CanWait => "badge",
    }
}

/// The report card of the session room: the mechanic's form while the session
/// is open, otherwise the report (live for the customer).
#[component]
pub fn RoomReport(
    session_id: String,
    viewer_is_mechanic: bool,
    #[prop(into)] open: Signal<bool>,
    #[prop(into)] report: Signal<Option<Report>>,
) -> impl IntoView {
    let link = format!("/session/{session_id}/report");
    let read_only = move || {
        let link = link.clone();
        match report.get() {
            Some(r) => view! {
                <ReportView report=r />
                <p><a class="button small" href=link id="report-page-link">"Print or share the report"</a></p>
            }
            .into_any(),
            None => view! {
                <p class="muted" id="report-pending">
                    {if viewer_is_mechanic { "No report was written." } else { "Your mechanic writes the diagnosis here during the session." }}
                </p>
            }
            .into_any(),
        }
    };
    view! {
        <section class="card" id="report-card" aria-labelledby="report-heading">
            <h2 id="report-heading">"Diagnosis report"</h2>
            <Show when=move || viewer_is_mechanic && open.get() fallback=read_only>
                <ReportForm session_id=session_id.clone() initial=report.get_untracked() />
            </Show>
        </section>
    }
}

/// The mechanic's form. Saving again replaces the report.
#[component]
pub fn ReportForm(session_id: String, initial: Option<Report>) -> impl IntoView {
    let action = ServerAction::<SaveReport>::new();
    let error = action_error(action);
    let saved = move || matches!(action.value().get(), Some(Ok(())));
    let message = move |name: String| move || error.get().and_then(|e: AppError| e.field_message(&name));
    let r = initial.clone();
    // Written into raw <textarea>s: escaped on the server (`ui::textarea_text`).
    let text = |t: Option<String>| crate::ui::textarea_text(t.unwrap_or_default());
    let summary = text(r.as_ref().map(|r| r.summary.clone()));
    let causes = text(r.as_ref().map(|r| r.likely_causes.clone()));
    let follow = text(r.as_ref().map(|r| r.follow_ups.clone()));
    let safe = r.as_ref().map(|r| r.safe_to_drive);
    let repairs = r.map(|r| r.repairs).unwrap_or_default();
    let rows = (repairs.len() + 2).clamp(3, REPAIRS_MAX);
    view! {
        <ActionForm action attr:id="report-form" attr:class="stack report-form">
            <input type="hidden" name="session_id" value=session_id />
            <p class="muted small">"The customer sees the report once you save it, and gets it by email when you end the session."</p>
            <div class="field">
                <label for="report-summary">"Summary"</label>
                <span class="hint">"What you found, in plain words."</span>
                <textarea id="report-summary" name="summary" maxlength="2000" required rows="4"
                    aria-describedby="report-summary-error">{summary}</textarea>
                <span class="field-error" id="report-summary-error" role="alert">{message("summary".into())}</span>
            </div>
            <div class="field">
                <label for="report-likely-causes">"Likely causes (optional)"</label>
                <textarea id="report-likely-causes" name="likely_causes" maxlength="2000" rows="3"
                    aria-describedby="report-likely-causes-error">{causes}</textarea>
                <span class="field-error" id="report-likely-causes-error" role="alert">{message("likely_causes".into())}</span>
            </div>
            <fieldset class="choices">
                <legend>"Safe to drive?"</legend>
                {SafeToDrive::ALL.into_iter().map(|s| view! {
                    <label>
                        <input type="radio" name="safe_to_drive" value=s.code() id=format!("safe-{}", s.code()) checked={safe == Some(s)} />
                        " " {s.label()}
                    </label>
                }).collect_view()}
                <span class="field-error" role="alert">{message("safe_to_drive".into())}</span>
            </fieldset>
            <fieldset class="repairs">
                <legend>"Recommended repairs"</legend>
                <p class="hint">"One to ten repairs or checks. Costs in dollars, e.g. 120 or 120.50; leave the highest blank for a fixed price. Blank rows are ignored."</p>
                <span class="field-error" role="alert" id="repairs-error">{message("repairs".into())}</span>
                {(0..rows).map(|i| {
                    let r = repairs.get(i).cloned();
                    let urgency = r.as_ref().map(|r| r.urgency).unwrap_or(Urgency::Soon);
                    let id = |f: &str| format!("repair-{i}-{f}");
                    view! {
                        <fieldset class="repair-row" data-row=i.to_string()>
                            <legend>{format!("Repair {}", i + 1)}</legend>
                            <div class="field grow">
                                <label for=id("description")>"What to do"</label>
                                <input type="text" id=id("description") name=repair_field(i, "description") maxlength="300"
                                    value=r.as_ref().map(|r| r.description.clone()).unwrap_or_default() />
                                <span class="field-error" role="alert">{message(repair_field(i, "description"))}</span>
                            </div>
                            <div class="field">
                                <label for=id("urgency")>"Urgency"</label>
                                <select id=id("urgency") name=repair_field(i, "urgency")>
                                    {Urgency::ALL.into_iter().map(|u| view! {
                                        <option value=u.code() selected={u == urgency}>{u.label()}</option>
                                    }).collect_view()}
                                </select>
                                <span class="field-error" role="alert">{message(repair_field(i, "urgency"))}</span>
                            </div>
                            <div class="field">
                                <label for=id("cost_min")>"Lowest cost"</label>
                                <input type="text" inputmode="decimal" id=id("cost_min") name=repair_field(i, "cost_min") maxlength="20"
                                    value=r.as_ref().map(|r| money_input(r.cost_min_cents)).unwrap_or_default() />
                                <span class="field-error" role="alert">{message(repair_field(i, "cost_min"))}</span>
                            </div>
                            <div class="field">
                                <label for=id("cost_max")>"Highest cost"</label>
                                <input type="text" inputmode="decimal" id=id("cost_max") name=repair_field(i, "cost_max") maxlength="20"
                                    value=r.as_ref().map(|r| money_input(r.cost_max_cents)).unwrap_or_default() />
                                <span class="field-error" role="alert">{message(repair_field(i, "cost_max"))}</span>
                            </div>
                        </fieldset>
                    }
                }).collect_view()}
            </fieldset>
            <div class="field">
                <label for="report-follow-ups">"Follow-ups (optional)"</label>
                <textarea id="report-follow-ups" name="follow_ups" maxlength="2000" rows="3"
                    aria-describedby="report-follow-ups-error">{follow}</textarea>
                <span class="field-error" id="report-follow-ups-error" role="alert">{message("follow_ups".into())}</span>
            </div>
            <FormError error />
            <p class="row">
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Save the report"</button>
                <Show when=saved>
                    <span class="success-text" id="report-saved" role="status">"Report saved."</span>
                </Show>
            </p>
        </ActionForm>
    }
}
