//! The session clock in the room: the time left for both sides, a warning two
//! minutes before the end, what happens when it is up, and the mechanic's
//! button to start it without waiting for the customer.

use super::api::StartClock;
use super::clock::{self, ClockPhase};
use super::SessionRoom;
use crate::ui::FormError;
use leptos::prelude::*;

/// The time now, ticking every second in the browser.
fn ticking_now() -> ReadSignal<chrono::DateTime<chrono::Utc>> {
    let (now, set_now) = signal(chrono::Utc::now());
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || set_now.set(chrono::Utc::now()),
            std::time::Duration::from_secs(1),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = set_now;
    now
}

#[component]
pub fn SessionClock(room: Memo<SessionRoom>) -> impl IntoView {
    let now = ticking_now();
    let start = ServerAction::<StartClock>::new();
    let start_error = crate::ui::action_error(start);
    let (sid, viewer_is_mechanic, includes_call) =
        room.with_untracked(|r| (r.session_id.to_string(), r.viewer_is_mechanic, r.includes_call));
    let phase = Memo::new(move |_| clock::phase(room.with(|r| r.clock).as_ref(), now.get()));
    let name = move || match phase.get() {
        ClockPhase::Waiting => "waiting",
        ClockPhase::Running { .. } => "running",
        ClockPhase::Warning { .. } => "warning",
        ClockPhase::Grace { .. } => "grace",
        ClockPhase::Over => "over",
    };
    let open = move || room.with(|r| r.status.is_open());
    let minutes = room.with_untracked(|r| r.minutes);
    view! {
        <section class="card clock-card" aria-labelledby="clock-heading">
            <h2 id="clock-heading">{format!("Session clock · {minutes} min")}</h2>
            <p id="session-clock" class=move || format!("clock clock-{}", name()) data-phase=name>
                {move || if open() { clock::describe(phase.get(), includes_call) } else { "The session has ended.".to_string() }}
            </p>
            <Show when=move || open() && matches!(phase.get(), ClockPhase::Warning { .. })>
                <p class="notice warning" role="alert" id="clock-warning">
                    "About two minutes left: time to wrap up."
                    {if viewer_is_mechanic { " Note what you found for the written diagnosis." } else { " Ask your last questions now." }}
                </p>
            </Show>
            <Show when=move || open() && viewer_is_mechanic && phase.get() == ClockPhase::Waiting>
                <StartForm action=start session_id=sid.clone() />
                <FormError error=start_error />
            </Show>
        </section>
    }
}

#[component]
fn StartForm(action: ServerAction<StartClock>, session_id: String) -> impl IntoView {
    view! {
        <ActionForm action attr:id="start-clock-form" attr:class="inline-form">
            <input type="hidden" name="session_id" value=session_id />
            <button type="submit" class="secondary">"Start the clock now"</button>
        </ActionForm>
    }
}
