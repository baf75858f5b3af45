//! The owner's form for the workshop's public profile (works without JavaScript).

use super::profile::{get_workshop_profile, SaveWorkshopProfile};
use crate::auth::pages::RoleGate;
use crate::auth::Role;
use crate::ui::{action_error, ErrorNotice, FormError, TextArea, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn WorkshopProfilePage() -> impl IntoView {
    view! {
        <Title text="Workshop profile" />
        <RoleGate role=Role::WorkshopMember children=move |_| view! { <ProfileForm /> } />
    }
}

#[component]
fn ProfileForm() -> impl IntoView {
    let action = ServerAction::<SaveWorkshopProfile>::new();
    let error = action_error(action);
    let workshop = Resource::new(move || action.version().get(), |_| get_workshop_profile());
    let query = use_query_map();
    let saved = move || {
        matches!(action.value().get(), Some(Ok(()))) || query.with(|q| q.get("saved").as_deref() == Some("1"))
    };
    view! {
        <header class="page-header">
            <div>
                <h1>"Workshop profile"</h1>
                <p>"What customers see about your workshop."</p>
            </div>
            <a class="button" href="/workshop">"Back to the dashboard"</a>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || workshop.get().map(|r| match r {
                Ok(w) => view! {
                    <section class="card wide-form">
                        <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="workshop-profile-form">
                            <TextField label="Workshop name" name="name" value=w.name.clone() maxlength=120 error=error />
                            <TextField label="City" name="city" value=w.city.clone() maxlength=80 error=error />
                            <TextField label="Address" name="address" value=w.address.clone() maxlength=200 error=error />
                            <TextArea label="Description" name="description" value=w.description.clone() maxlength=2000 error=error />
                            <TextField label="Specialties" name="specialties" value=w.specialties.join(", ")
                                hint="Separated by commas, e.g. brakes, diagnostics." error=error />
                            <FormError error=error />
                            <Show when=saved>
                                <p class="notice success" role="status" id="profile-saved">"Your workshop's profile is saved."</p>
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
