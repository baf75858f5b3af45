//! The independent mechanic's application page and the mechanic dashboard.

use super::api::{ApplyAsMechanic, SetCapacity, SetOnline};
use super::{AccountType, ApplicationStatus, CAPACITY_MAX};
use crate::auth::pages::{hard_navigate, RoleGate};
use crate::auth::Role;
use crate::ui::{action_error, FormError, TextField};
use leptos::prelude::*;
use leptos_meta::Title;

/// The fields every mechanic fills in (independent application and invite sign-up).
#[component]
pub fn MechanicDetailsFields(#[prop(into)] error: Signal<Option<crate::error::AppError>>) -> impl IntoView {
    view! {
        <TextField label="Specialties" name="specialties" hint="Separated by commas, e.g. diagnostics, brakes, hybrids." error=error />
        <TextField label="Years of experience" name="years_experience" input_type="number" error=error />
        <TextField label="Certifications" name="certifications" hint="Optional, e.g. ASE Master Technician." maxlength=500 error=error />
    }
}

#[component]
pub fn MechanicApplyPage() -> impl IntoView {
    let action = ServerAction::<ApplyAsMechanic>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            hard_navigate(&path);
        }
    });
    view! {
        <Title text="Apply as a mechanic" />
        <section class="card narrow">
            <h1>"Apply as an independent mechanic"</h1>
            <p class="muted">
                "An admin reviews every application. Once approved, you go online when it suits you and "
                "earn 80% of every session you serve. Invited by a workshop? Use the link in their email instead."
            </p>
            <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="mechanic-apply-form">
                <TextField label="Your name" name="name" autocomplete="name" maxlength=100 error=error />
                <TextField label="Email" name="email" input_type="email" autocomplete="email" error=error />
                <TextField label="Password" name="password" input_type="password" autocomplete="new-password" hint="8 to 128 characters." error=error />
                <MechanicDetailsFields error=error />
                <FormError error=error />
                <button class="primary" type="submit" disabled=move || action.pending().get()>"Send application"</button>
            </ActionForm>
        </section>
    }
}

// The resource is created where the page starts, never inside the gated
// content (which may render more than once on the server), so hydration ids match.
#[component]
pub fn MechanicDashboardPage() -> impl IntoView {
    let set_online = ServerAction::<SetOnline>::new();
    let set_capacity = ServerAction::<SetCapacity>::new();
    let profile = Resource::new(
        move || (set_online.version().get(), set_capacity.version().get()),
        |_| crate::sessions::api::get_mechanic_dashboard(),
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
    profile: Resource<Result<crate::sessions::MechanicDashboard, crate::error::AppError>>,
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
    d: crate::sessions::MechanicDashboard,
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
        </header>
        <p class=if approved { "notice success" } else { "notice warning" } id="status-note">{status_note}</p>

        {approved.then(|| view! {
            <crate::sessions::pages::LiveOffers initial=d.offers />
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
