//! The call's place in the room page. The server renders an empty container
//! with the session's reference and the viewer's side; `public/call.js` (loaded
//! here, a module of its own so the rest of the app never downloads it) builds
//! the video, the controls and the connection inside it. Nothing in the
//! container is rendered by Leptos, so hydration and the call never meet.

use leptos::prelude::*;
use uuid::Uuid;

/// Loads `/call.js` when the room is reached by in-app navigation: a script in
/// rendered content only runs on a full page load. A module runs once however
/// often it is added, and it finds new call containers by itself.
#[cfg(feature = "hydrate")]
fn load_call_script() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(script) = document.create_element("script") else { return };
    let _ = script.set_attribute("type", "module");
    let _ = script.set_attribute("src", "/call.js");
    if let Some(body) = document.body() {
        let _ = body.append_child(&script);
    }
}

#[component]
pub fn CallPanel(session_id: Uuid, viewer_is_mechanic: bool, other_name: String) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(|_| load_call_script());
    view! {
        <section class="card call-card" aria-labelledby="call-heading">
            <h2 id="call-heading">"Video call"</h2>
            <p class="muted call-needs-js">
                "The video call needs JavaScript and a browser with camera access. The chat below works without it."
            </p>
            <div
                id="call"
                class="call"
                data-call-session=session_id.to_string()
                data-call-role=if viewer_is_mechanic { "mechanic" } else { "customer" }
                data-call-other=other_name
            ></div>
            <script type="module" src="/call.js"></script>
        </section>
    }
}
