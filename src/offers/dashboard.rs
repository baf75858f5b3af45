//! The mechanic's dashboard: their status, availability and capacity (from the
//! `mechanics` feature), the requests offered to them now, and their sessions.

use crate::auth::Role;
use crate::mechanics::api::{SetCapacity, SetOnline};
use crate::mechanics::CAPACITY_MAX;
use crate::status::{AccountType, ApplicationStatus};
use crate::ui::{action_error, FormError, RoleGate, TextField};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MechanicDashboardPage() -> impl IntoView {
    let set_online = ServerAction::<SetOnline>::new();
    let set_capacity = ServerAction::<SetCapacity>::new();
    let profile = Resource::new(
        move || (set_online.version().get(), set_capacity.version().get()),
        |_| super::api::get_mechanic_dashboard(),
    );
    view! {
        <Title text="Mechanic dashboard" />
        <RoleGate role=Role::Mechanic children=move |_| view! { <MechanicDashboardView set_online set_capacity profile /> } />
    }
}

#[component]
fn MechanicDashboardView(
    set_online: ServerAction<SetOnline>,
    set_capacity: ServerAction<SetCapacity>,
    profile: Resource<Result<super::MechanicDashboard, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                profile
                    .get()
                    .map(|r| match r {
                        Ok(d) => view! { <MechanicStatus d set_online set_capacity /> }.into_any(),
                        Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn MechanicStatus(
    d: super::MechanicDashboard,
    set_online: ServerAction<SetOnline>,
    set_capacity: ServerAction<SetCapacity>,
) -> impl IntoView {
    let p = d.profile;
    let approved = p.application_status == ApplicationStatus::Approved;
    let online_error = action_error(set_online);
    let capacity_error = action_error(set_capacity);
    let affiliation = match (p.account_type, p.workshop_name.clone()) {
        (AccountType::Workshop, Some(name)) => format!("Mechanic at {name}"),
        _ => "Independent mechanic".to_string(),
    };
    let status_note = match p.application_status {
        ApplicationStatus::Approved if p.auto_approved => {
            "Approved: your workshop invited you, so you could start straight away.".to_string()
        }
        ApplicationStatus::Approved => "Approved by the autodoctor team.".to_string(),
        ApplicationStatus::Pending => {
            "Your application is waiting for an admin's review. You can go online once it is approved."
                .to_string()
        }
        ApplicationStatus::Rejected => format!(
            "Your application was not approved.{}",
            p.rejection_reason.clone().map(|r| format!(" Reason: {r}")).unwrap_or_default()
        ),
    };
    let next_online = (!p.is_online).to_string();
    view! {
        <header class="page-header">
            <div>
                <h1>{format!("Hello, {}", p.name)}</h1>
                <p id="mechanic-affiliation">{affiliation}</p>
            </div>
            <span class=p.application_status.badge() id="application-status">{p.application_status.label()}</span>
            <a class="button" href="/mechanic/profile" id="edit-profile">"Edit profile"</a>
        </header>
        <p class=if approved { "notice success" } else { "notice warning" } id="status-note">{status_note}</p>

        {approved.then(|| view! {
            <super::pages::LiveOffers initial=d.offers />
            <crate::sessions::pages::MechanicSessions sessions=d.sessions />
        })}
        <div class="grid two">
            <section class="card">
                <h2>"Availability"</h2>
                <p>
                    {if p.is_online {
                        view! { <span class="badge success" id="online-state">"Online"</span> " You are offered new requests." }.into_any()
                    } else {
                        view! { <span class="badge" id="online-state">"Offline"</span> " You are not offered requests." }.into_any()
                    }}
                </p>
                <ActionForm action=set_online attr:class="stack" attr:id="online-form">
                    <input type="hidden" name="online" value=next_online />
                    <button type="submit" class=if p.is_online { "" } else { "primary" } disabled=move || !approved || set_online.pending().get()>
                        {if p.is_online { "Go offline" } else { "Go online" }}
                    </button>
                </ActionForm>
                <FormError error=online_error />
            </section>
            <section class="card">
                <h2>"Capacity"</h2>
                <p class="muted small">{format!("How many sessions you take at once (1 to {CAPACITY_MAX}). Busy now: {}.", p.active_sessions)}</p>
                <ActionForm action=set_capacity attr:class="stack" attr:id="capacity-form" attr:novalidate="true">
                    <TextField label="Sessions at once" name="capacity" input_type="number" value=p.capacity.to_string() error=capacity_error />
                    <button type="submit" disabled=move || set_capacity.pending().get()>"Save capacity"</button>
                </ActionForm>
            </section>
        </div>
        <section class="card">
            <h2>"Your profile"</h2>
            <dl class="details">
                <dt>"Email"</dt><dd>{p.email.clone()}</dd>
                <dt>"Specialties"</dt><dd>{p.specialties.join(", ")}</dd>
                <dt>"Experience"</dt><dd>{format!("{} years", p.years_experience)}</dd>
                <dt>"Certifications"</dt><dd>{if p.certifications.is_empty() { "None given".to_string() } else { p.certifications.clone() }}</dd>
                <dt>"Sessions completed"</dt><dd>{p.sessions_completed}</dd>
            </dl>
        </section>
    }
}
