//! Sign-up, log-in and account pages. The forms are server-function forms: they
//! work without JavaScript (the server answers with a redirect) and, once
//! hydrated, submit in the background and show field errors in place.

use super::api::{ChangePassword, LogIn, LogOut, SignUp, UpdateName};
use super::{CurrentUser, PASSWORD_MAX, PASSWORD_MIN};
pub use crate::ui::gate::{hard_navigate, use_current_user, RequireLogin, RoleGate, UserResource};
use crate::ui::{action_error, FormError, TextField};
pub use crate::url::urlencode;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <Title text="Create an account" />
        <SignUpForm />
    }
}

/// The sign-up card: an island, so a refused sign-up keeps what was typed.
#[island]
fn SignUpForm() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            hard_navigate(&path);
        }
    });
    view! {
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <p class="muted">"Book remote diagnostic sessions and follow them here."</p>
            <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="signup-form">
                <TextField label="Your name" name="name" autocomplete="name" maxlength=100 error=error />
                <TextField label="Email" name="email" input_type="email" autocomplete="email" error=error />
                <TextField
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="new-password"
                    hint="8 to 128 characters. A few unrelated words make a strong one."
                    error=error
                />
                <FormError error=error />
                <button class="primary" type="submit" disabled=move || action.pending().get()>
                    "Create account"
                </button>
            </ActionForm>
            <p class="muted small">
                "Already have an account? " <a href="/login">"Log in"</a> ". "
                "Run a workshop? " <a href="/workshops/join">"Register your workshop"</a> ". "
                "Mechanic? " <a href="/mechanics/apply">"Apply here"</a> "."
            </p>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.with_untracked(|q| q.get("next")).unwrap_or_default();
    view! {
        <Title text="Log in" />
        <LoginForm next />
    }
}

/// The log-in card: an island, so a refused log-in keeps the email typed.
#[island]
fn LoginForm(next: String) -> impl IntoView {
    let action = ServerAction::<LogIn>::new();
    let error = action_error(action);
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            hard_navigate(&path);
        }
    });
    view! {
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action attr:class="stack" attr:novalidate="true" attr:id="login-form">
                <input type="hidden" name="next" value=next />
                <TextField label="Email" name="email" input_type="email" autocomplete="email" error=error />
                <TextField
                    label="Password"
                    name="password"
                    input_type="password"
                    autocomplete="current-password"
                    error=error
                />
                <FormError error=error />
                <button class="primary" type="submit" disabled=move || action.pending().get()>
                    "Log in"
                </button>
            </ActionForm>
            <p class="muted small">"New here? " <a href="/signup">"Create an account"</a></p>
        </section>
    }
}

/// The log-out button in the header: a form, so it works without JavaScript too.
#[component]
pub fn LogOutButton() -> impl IntoView {
    let action = ServerAction::<LogOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            hard_navigate("/");
        }
    });
    view! {
        <ActionForm action=action attr:class="inline-form">
            <button type="submit" class="link-button" id="logout-button">
                "Log out"
            </button>
        </ActionForm>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Your account" />
        <RequireLogin children=move |user: CurrentUser| view! { <AccountForms user /> } />
    }
}

#[component]
fn AccountForms(user: CurrentUser) -> impl IntoView {
    let name_action = ServerAction::<UpdateName>::new();
    let name_error = action_error(name_action);
    let password_action = ServerAction::<ChangePassword>::new();
    let password_error = action_error(password_action);
    let query = use_query_map();
    let saved = move |what: &str| query.with(|q| q.get("saved").as_deref() == Some(what));
    let name_saved = move || matches!(name_action.value().get(), Some(Ok(_))) || saved("name");
    let password_saved = move || matches!(password_action.value().get(), Some(Ok(()))) || saved("password");
    let shown_name = move || match name_action.value().get() {
        Some(Ok(n)) => n,
        _ => user.name.clone(),
    };
    let form_ref = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(form)) = (password_action.value().get(), form_ref.get()) {
            form.reset();
        }
    });

    view! {
        <header class="page-header">
            <div>
                <h1>"Your account"</h1>
                <p>{user.email.clone()} " · " {user.role.label()}</p>
            </div>
        </header>
        <div class="grid two">
            <section class="card">
                <h2>"Name"</h2>
                <ActionForm action=name_action attr:class="stack" attr:id="name-form">
                    <TextField label="Your name" name="name" autocomplete="name" value=shown_name() maxlength=100 error=name_error />
                    <FormError error=name_error />
                    <Show when=name_saved>
                        <p class="notice success" role="status">"Your name is saved."</p>
                    </Show>
                    <button type="submit" class="primary" disabled=move || name_action.pending().get()>
                        "Save name"
                    </button>
                </ActionForm>
            </section>
            <section class="card">
                <h2>"Password"</h2>
                <p class="muted small">
                    {format!("Between {PASSWORD_MIN} and {PASSWORD_MAX} characters. Changing it logs you out everywhere else.")}
                </p>
                <ActionForm action=password_action node_ref=form_ref attr:class="stack" attr:id="password-form">
                    <TextField label="Current password" name="current_password" input_type="password" autocomplete="current-password" error=password_error />
                    <TextField label="New password" name="new_password" input_type="password" autocomplete="new-password" error=password_error />
                    <TextField label="New password again" name="confirm_password" input_type="password" autocomplete="new-password" error=password_error />
                    <FormError error=password_error />
                    <Show when=password_saved>
                        <p class="notice success" role="status">"Your password is changed. Other sessions have been logged out."</p>
                    </Show>
                    <button type="submit" class="primary" disabled=move || password_action.pending().get()>
                        "Change password"
                    </button>
                </ActionForm>
            </section>
        </div>
    }
}
