//! The logged-in user on every page, and the gates that show a page only to a
//! logged-in person, or only to one role.

use crate::account::{CurrentUser, Role};
use crate::url::urlencode;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

/// The logged-in user, loaded once per page by `App` and shared through context.
pub type UserResource = Resource<Result<Option<CurrentUser>, crate::error::AppError>>;

pub fn use_current_user() -> Option<UserResource> {
    use_context::<UserResource>()
}

/// Navigates with a full page load, so every part of the page (the header's
/// account menu included) reflects the new log-in state.
pub fn hard_navigate(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Renders `children` for a logged-in user, or sends the visitor to log in
/// and come back here afterwards.
#[component]
pub fn RequireLogin<F, IV>(children: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> IV + Send + Sync + 'static,
    IV: IntoView + 'static,
{
    let user = use_current_user().expect("App provides the current user");
    let location = use_location();
    let children = std::sync::Arc::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                user.get()
                    .map(move |result| match result {
                        Ok(Some(u)) => children(u).into_any(),
                        Ok(None) => {
                            let pathname = location.pathname.get_untracked();
                            let search = location.search.get_untracked();
                            let here = if search.is_empty() {
                                pathname
                            } else {
                                format!("{pathname}?{}", search.trim_start_matches('?'))
                            };
                            let path = format!("/login?next={}", urlencode(&here));
                            view! { <Redirect path=path /> }.into_any()
                        }
                        Err(e) => view! { <crate::ui::ErrorNotice error=e /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// Renders `children` only for a logged-in user of `role`; others see why not
/// (and the page answers 403 when rendered on the server).
#[component]
pub fn RoleGate<F, IV>(role: Role, children: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> IV + Send + Sync + 'static,
    IV: IntoView + 'static,
{
    let children = std::sync::Arc::new(children);
    view! {
        <RequireLogin children=move |u: CurrentUser| {
            if u.role == role {
                children(u).into_any()
            } else {
                #[cfg(feature = "ssr")]
                if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                    response.set_status(axum::http::StatusCode::FORBIDDEN);
                }
                view! {
                    <section class="card narrow" id="wrong-role">
                        <h1>"This page is not for your account"</h1>
                        <p>
                            {format!(
                                "It is for {} accounts; you are logged in as {} ({}).",
                                role.label().to_lowercase(),
                                u.email,
                                u.role.label().to_lowercase()
                            )}
                        </p>
                        <p><a class="button" href=u.role.home_path()>"Go to your start page"</a></p>
                    </section>
                }
                .into_any()
            }
        } />
    }
}
