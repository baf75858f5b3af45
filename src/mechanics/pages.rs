//! The independent mechanic's application page, and the fields every mechanic fills in.

use super::api::ApplyAsMechanic;
use crate::auth::pages::hard_navigate;
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
