//! The call's place in the room page. The server renders an empty container
//! with the session's reference and the viewer's side; `public/call.js` (loaded
//! here, a module of its own so the rest of the app never downloads it) builds
//! the video, the controls and the connection inside it. Nothing in the
//! container is rendered by Leptos, so hydration and the call never meet.

use leptos::prelude::*;
use uuid::Uuid;

#[component]
pub fn CallPanel(session_id: Uuid, viewer_is_mechanic: bool, other_name: String) -> impl IntoView {
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
