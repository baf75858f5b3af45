//! Reloading an island's data after its actions.
//!
//! An island gets its first data from the server-rendered page as a prop (a
//! resource created inside an island does not hydrate), then fetches it again in
//! the browser whenever one of its actions has run.

use crate::error::AppError;
use leptos::prelude::*;
use std::future::Future;

/// An island's data: the page's first answer, then the last reload's.
pub type Reloaded<T> = RwSignal<Option<Result<T, AppError>>>;

/// Starts with `first` and calls `fetch` again each time `version` changes
/// (the sum of the actions' versions): only in the browser, after an action ran.
pub fn reload_after<T, F, Fut>(first: T, version: impl Fn() -> usize + 'static, fetch: F) -> Reloaded<T>
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<T, AppError>> + 'static,
{
    let data: Reloaded<T> = RwSignal::new(Some(Ok(first)));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if version() == 0 {
            return;
        }
        let answer = fetch();
        leptos::task::spawn_local(async move { data.set(Some(answer.await)) });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (version, fetch);
    data
}
