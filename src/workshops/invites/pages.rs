//! The page an invite link opens: it renders on the server and hydrates.

use super::api::{get_invite_details, AcceptInvite, JoinWithInvite};
use super::{InviteDetails, InviteLinkState, InviteViewer};
use crate::auth::pages::{hard_navigate, urlencode, LogOutButton};
use crate::mechanics::pages::MechanicDetailsFields;
use crate::ui::{action_error, FormError, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token")).unwrap_or_default();
    let details = Resource::new(token, get_invite_details);
    view! {
        <Title text="Workshop invite" />
        <Suspense fallback=|| view! { <p class="muted">"Checking your invite…"</p> }>
            {move || {
                details
                    .get()
                    .map(|r| match r {
                        Ok(d) => view! { <InviteView d token=token() /> }.into_any(),
                        Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
fn InviteView(d: InviteDetails, token: String) -> impl IntoView {
    if d.state != InviteLinkState::Valid {
        #[cfg(feature = "ssr")]
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(match d.state {
                InviteLinkState::Invalid => axum::http::StatusCode::NOT_FOUND,
                _ => axum::http::StatusCode::GONE,
            });
        }
        return view! {
            <section class="card narrow" id="invite-problem" data-state=format!("{:?}", d.state).to_lowercase()>
                <h1>{d.state.title()}</h1>
                {d.workshop_name.clone().map(|w| view! { <p class="muted">"Invite from " <strong>{w}</strong></p> })}
                <p>{d.state.explanation()}</p>
                <p class="row">
                    <a class="button" href="/login">"Log in"</a>
                    <a class="button" href="/mechanics/apply">"Apply as an independent mechanic"</a>
                </p>
            </section>
        }
        .into_any();
    }
    let workshop = d.workshop_name.clone().unwrap_or_default();
    let email = d.email.clone().unwrap_or_default();
    let here = format!("/invite/{token}");
    let body = match d.viewer.clone().unwrap_or(InviteViewer::NewMechanic) {
        InviteViewer::NewMechanic => view! { <NewMechanicForm token email=email.clone() /> }.into_any(),
        InviteViewer::ExistingAccount => view! {
            <p>{format!("{email} already has an autodoctor account. Log in with it to join {workshop}.")}</p>
            <p><a class="button primary" href=format!("/login?next={}", urlencode(&here))>"Log in to join"</a></p>
        }
        .into_any(),
        InviteViewer::CanJoin => view! { <JoinForm token workshop=workshop.clone() /> }.into_any(),
        InviteViewer::OtherAccount { email: me } => view! {
            <p class="notice warning">
                {format!("You are logged in as {me}, but this invite is for {email}. ")}
                "Log out, then open the link again."
            </p>
            <LogOutButton />
        }
        .into_any(),
    };
    view! {
        <section class="card narrow" id="invite-valid">
            <h1>{format!("Join {workshop}")}</h1>
            <p class="muted">
                "Mechanics who join through a workshop's invite are approved at once: the workshop vouches for you, "
                "and customers who choose it are offered to you first."
            </p>
            {body}
        </section>
    }
    .into_any()
}

#[component]
fn NewMechanicForm(token: String, email: String) -> impl IntoView {
    let action = ServerAction::<AcceptInvite>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            hard_navigate(&path);
        }
    });
    view! {
        <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="invite-signup-form">
            <input type="hidden" name="token" value=token />
            <div class="field">
                <label for="invited-email">"Email"</label>
                <input id="invited-email" type="email" value=email readonly=true disabled=true />
                <span class="hint">"The invite was sent to this address; it becomes your log-in."</span>
            </div>
            <TextField label="Your name" name="name" autocomplete="name" maxlength=100 error=error />
            <TextField label="Password" name="password" input_type="password" autocomplete="new-password" hint="8 to 128 characters." error=error />
            <MechanicDetailsFields error=error />
            <FormError error=error />
            <button class="primary" type="submit" disabled=move || action.pending().get()>"Create account and join"</button>
        </ActionForm>
    }
}

#[component]
fn JoinForm(token: String, workshop: String) -> impl IntoView {
    let action = ServerAction::<JoinWithInvite>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            hard_navigate(&path);
        }
    });
    view! {
        <p>{format!("You are logged in with the invited email. Join {workshop} with your existing account:")}</p>
        <ActionForm action=action attr:class="stack" attr:id="invite-join-form">
            <input type="hidden" name="token" value=token />
            <FormError error=error />
            <button class="primary" type="submit" disabled=move || action.pending().get()>{format!("Join {workshop}")}</button>
        </ActionForm>
    }
}
