//! Following a Server-Sent Events stream from a component.

use leptos::prelude::*;

/// Follows a live stream in the browser; on the server (and before hydration) does nothing.
pub fn follow<T>(url: String, event: &'static str, set: WriteSignal<Option<T>>)
where
    T: serde::de::DeserializeOwned + Send + Sync + 'static,
{
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        crate::realtime::subscribe(&url, &[event], move |_, data| {
            if let Ok(value) = serde_json::from_str::<T>(&data) {
                set.set(Some(value));
            }
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, event, set);
}
