//! LISTEN/NOTIFY plumbing and the Server-Sent Events helper.

use super::{Signal, CHANNEL};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sqlx::postgres::PgListener;
use sqlx::{PgExecutor, PgPool};
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::sync::broadcast;

/// Announces a change; delivered to every instance when the transaction commits.
pub async fn notify(db: impl PgExecutor<'_>, signal: &Signal) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(signal).unwrap_or_default();
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(db).await?;
    Ok(())
}

/// This instance's fan-out of the signals it hears.
#[derive(Clone)]
pub struct Realtime {
    sender: broadcast::Sender<Signal>,
}

impl Default for Realtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Realtime {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Realtime { sender }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.sender.subscribe()
    }

    /// Listens on the database for the life of the process, reconnecting after
    /// failures; after a reconnect every stream resynchronises.
    pub fn spawn_listener(&self, pool: PgPool) {
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                match PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::warn!(error = %e, "LISTEN failed; retrying");
                        } else {
                            if !first {
                                let _ = sender.send(Signal::Resync);
                            }
                            first = false;
                            loop {
                                match listener.recv().await {
                                    Ok(n) => match serde_json::from_str::<Signal>(n.payload()) {
                                        Ok(signal) => {
                                            let _ = sender.send(signal);
                                        }
                                        Err(e) => tracing::warn!(error = %e, "unreadable notification"),
                                    },
                                    Err(e) => {
                                        tracing::warn!(error = %e, "lost the LISTEN connection; reconnecting");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN yet; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// A Server-Sent Events stream that sends `load()` as event `name` on connect
/// and again whenever a signal `relevant` to it arrives (only when it changed).
pub fn live_stream<T, F, Fut>(
    mut signals: broadcast::Receiver<Signal>,
    name: &'static str,
    relevant: impl Fn(&Signal) -> bool + Send + 'static,
    load: F,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: serde::Serialize + Send + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, crate::error::AppError>> + Send,
{
    let stream = async_stream::stream! {
        let mut last = String::new();
        let mut first = true;
        loop {
            if !first {
                match signals.recv().await {
                    Ok(signal) if signal == Signal::Resync || relevant(&signal) => {}
                    Ok(_) => continue,
                    // Fell behind: reload once, the state is what matters.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            first = false;
            match load().await {
                Ok(value) => {
                    let json = serde_json::to_string(&value).unwrap_or_default();
                    if json != last {
                        last = json.clone();
                        yield Ok(Event::default().event(name).data(json));
                    }
                }
                Err(e) => {
                    yield Ok(Event::default().event("problem").data(e.to_string()));
                    if matches!(e, crate::error::AppError::Forbidden(_) | crate::error::AppError::NotFound(_)) {
                        break;
                    }
                }
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
