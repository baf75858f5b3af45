//! Live updates across app instances: changes are announced with PostgreSQL
//! `NOTIFY` in the transaction that makes them (delivered at commit, never for
//! a rollback); every instance `LISTEN`s and fans the signals out to its
//! Server-Sent Event streams, which reload what they show.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
pub mod registry;
#[cfg(feature = "ssr")]
pub mod server;

/// What changed. Small on purpose: streams reload the state they show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// A request was created, offered more widely, taken, expired or cancelled.
    RequestChanged {
        request_id: Uuid,
        order_id: Uuid,
    },
    /// A mechanic went online or offline, or their capacity changed.
    MechanicsChanged,
    /// A session was created, started, ended or rated.
    SessionChanged {
        session_id: Uuid,
        order_id: Uuid,
    },
    ChatMessage {
        session_id: Uuid,
    },
    /// A call signalling message was stored (its number; the message is in `call_signals`).
    CallSignal {
        session_id: Uuid,
        seq: i64,
    },
    /// This instance's listener reconnected: notifications may have been missed.
    Resync,
    /// What this user may do changed: a log-in of theirs ended (log-out, a
    /// password change), their account was suspended, they left or were removed
    /// from a workshop, or its status changed. Sent by database triggers
    /// (migration 0023) in the transaction that makes the change; the user's
    /// streams check at once whether theirs still holds.
    AccessChanged {
        user_id: Uuid,
    },
    /// This instance is shutting down: its live streams end (never sent with NOTIFY).
    Shutdown,
}

pub const CHANNEL: &str = "autodoctor_events";

/// The browser side: an `EventSource` that calls `on_event(name, data)` for the
/// named events, closed when the calling component goes away.
#[cfg(feature = "hydrate")]
pub fn subscribe(url: &str, events: &[&'static str], on_event: impl Fn(&str, String) + 'static) {
    use std::rc::Rc;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let Ok(source) = web_sys::EventSource::new(url) else { return };
    let handler = Rc::new(on_event);
    let mut closures = Vec::new();
    for &name in events {
        let handler = handler.clone();
        let closure = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(data) = ev.data().as_string() {
                handler(name, data);
            }
        });
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        closures.push(closure);
    }
    // The browser reconnects by itself after a dropped connection; nothing to do on error.
    let holder = send_wrapper::SendWrapper::new((source, closures));
    leptos::prelude::on_cleanup(move || {
        let (source, closures) = holder.take();
        source.close();
        drop(closures);
    });
}
