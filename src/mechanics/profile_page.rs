//! The mechanic's form for their own profile (works without JavaScript).

use super::profile::{get_mechanic_bio, SaveMechanicBio, BIO_MAX};
use crate::auth::pages::RoleGate;
use crate::auth::Role;
use crate::ui::{action_error, ErrorNotice, FormError, TextArea, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn MechanicProfilePage() -> impl IntoView {
    view! {
        <Title text="Your mechanic profile" />
        <RoleGate role=Role::Mechanic children=move |_| view! { <BioForm /> } />
    }
}

#[component]
fn BioForm() -> impl IntoView {
    let action = ServerAction::<SaveMechanicBio>::new();
    let error = action_error(action);
    let bio = Resource::new(move || action.version().get(), |_| get_mechanic_bio());
    let query = use_query_map();
    let saved = move || {
        matches!(action.value().get(), Some(Ok(()))) || query.with(|q| q.get("saved").as_deref() == Some("1"))
    };
    view! {
        <header class="page-header">
            <div>
                <h1>"Your mechanic profile"</h1>
                <p>"What customers see about you."</p>
            </div>
            <a class="button" href="/mechanic">"Back to the dashboard"</a>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || bio.get().map(|r| match r {
                Ok(b) => view! {
                    <section class="card wide-form">
                        <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="mechanic-profile-form">
                            <TextArea label="About you" name="bio" value=b.bio.clone() maxlength=BIO_MAX error=error />
                            <TextField label="Specialties" name="specialties" value=b.specialties.join(", ")
                                hint="Separated by commas, e.g. brakes, diagnostics." error=error />
                            <TextField label="Years of experience" name="years_experience" input_type="number"
                                value=b.years_experience.to_string() error=error />
                            <FormError error=error />
                            <Show when=saved>
                                <p class="notice success" role="status" id="profile-saved">"Your profile is saved."</p>
                            </Show>
                            <button type="submit" class="primary" disabled=move || action.pending().get()>"Save profile"</button>
                        </ActionForm>
                    </section>
                }.into_any(),
                Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
            })}
        </Suspense>
    }
}
