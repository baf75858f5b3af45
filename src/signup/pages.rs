//! `/check-email` (where every sign-up form leads) and `/confirm/{token}` (the
//! emailed link). Both render on the server; the confirm button is a plain form
//! that works without JavaScript.

use super::api::{get_pending_sign_up, ConfirmSignUp};
use super::PendingSignUp;
use crate::ui::{action_error, FormError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn CheckEmailPage() -> impl IntoView {
    view! {
        <Title text="Check your email" />
        <section class="card narrow" id="check-email">
            <h1>"Check your email"</h1>
            <p>"We sent a message to the address you entered. Open the link in it to finish: it works once, for 24 hours."</p>
            <p class="muted">"If that address already has an account, the message says so instead, and you can log in."</p>
            <p class="muted small">"Nothing there after a few minutes? Look in the spam folder, or sign up again."</p>
            <p class="row"><a class="button" href="/login">"Log in"</a> <a class="button" href="/">"Home"</a></p>
        </section>
    }
}

#[component]
pub fn ConfirmSignUpPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token")).unwrap_or_default();
    let pending = Resource::new(token, get_pending_sign_up);
    view! {
        <Title text="Finish signing up" />
        <Suspense fallback=|| view! { <p class="muted">"Checking your link…"</p> }>
            {move || pending.get().map(|r| match r {
                Ok(p) => view! { <ConfirmView p token=token() /> }.into_any(),
                Err(e) => view! {
                    <section class="card narrow" id="confirm-problem">
                        <crate::ui::ErrorNotice error=e />
                        <p class="row"><a class="button" href="/signup">"Sign up"</a> <a class="button" href="/login">"Log in"</a></p>
                    </section>
                }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn ConfirmView(p: PendingSignUp, token: String) -> impl IntoView {
    let action = ServerAction::<ConfirmSignUp>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            crate::ui::gate::hard_navigate(&path);
        }
    });
    view! {
        <section class="card narrow" id="confirm-signup">
            <h1>"Finish signing up"</h1>
            <p>{format!("Hello {}: this creates {} for ", p.name, p.what())}<strong id="confirm-email">{p.email.clone()}</strong>"."</p>
            <ActionForm action=action attr:class="stack" attr:id="confirm-form">
                <input type="hidden" name="token" value=token />
                <FormError error=error />
                <button class="primary" type="submit" disabled=move || action.pending().get()>"Create my account"</button>
            </ActionForm>
        </section>
    }
}
