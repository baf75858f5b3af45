//! The account page's card for optional email.

use super::api::{get_mail_preference, SaveMailPreference};
use crate::ui::{action_error, FormError};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The account page, with the card for optional email under it.
#[component]
pub fn AccountWithMailPage() -> impl IntoView {
    let logged_in = move || {
        crate::auth::pages::use_current_user().and_then(|u| u.get()).is_some_and(|r| matches!(r, Ok(Some(_))))
    };
    view! {
        <crate::auth::pages::AccountPage />
        <Suspense fallback=|| ()>
            <Show when=logged_in>
                <MailPreferenceCard />
            </Show>
        </Suspense>
    }
}

#[component]
pub fn MailPreferenceCard() -> impl IntoView {
    let action = ServerAction::<SaveMailPreference>::new();
    let error = action_error(action);
    let current = Resource::new(move || action.version().get(), |_| get_mail_preference());
    let query = use_query_map();
    let saved = move || {
        matches!(action.value().get(), Some(Ok(_)))
            || query.with(|q| q.get("saved").as_deref() == Some("mail"))
    };
    view! {
        <section class="card" id="mail-preferences">
            <h2>"Email"</h2>
            <p class="muted small">
                "Receipts (payments, refunds, payouts, your diagnosis report) and notices about your account are always sent. \
                 Optional emails are updates such as \"a mechanic has taken your request\" and, for mechanics, \
                 new requests while you are online with no dashboard open."
            </p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || current.get().map(|r| match r {
                    Ok(on) => view! {
                        <ActionForm action=action attr:class="stack" attr:id="mail-form">
                            <div class="field">
                                <label for="field-optional_mail">"Optional emails"</label>
                                <select id="field-optional_mail" name="optional_mail">
                                    <option value="on" selected=on>"On"</option>
                                    <option value="off" selected=!on>"Off"</option>
                                </select>
                            </div>
                            <FormError error=error />
                            <Show when=saved>
                                <p class="notice success" role="status">"Your email choice is saved."</p>
                            </Show>
                            <button type="submit" class="primary">"Save email choice"</button>
                        </ActionForm>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
