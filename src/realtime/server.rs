//! LISTEN/NOTIFY plumbing and the Server-Sent Events helper.

use super::registry::{Registered, StreamLogin};
use super::{Signal, CHANNEL};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sqlx::postgres::PgListener;
use sqlx::{PgExecutor, PgPool};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Announces a change; delivered to every instance when the transaction commits.
pub async fn notify(db: impl PgExecutor<'_>, signal: &Signal) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(signal).unwrap_or_default();
    sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, payload).fetch_one(db).await?;
    Ok(())
}

/// Live streams one user may have open on one instance (tabs, devices).
pub const MAX_STREAMS_PER_USER: usize = 8;

/// How often an open stream checks that its log-in still holds (expiry); a
/// change of access (log-out, password, suspension, workshop) tells it at once.
const LOGIN_RECHECK: Duration = Duration::from_secs(10);

/// This instance's fan-out of the signals it hears.
#[derive(Clone)]
pub struct Realtime {
    sender: broadcast::Sender<Signal>,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Whether this instance's LISTEN is in place (notifications committed from
    /// now on reach its streams).
    listening: Arc<tokio::sync::watch::Sender<bool>>,
}

/// One open stream of a user; the count goes down when it is dropped.
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    user: Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

impl Default for Realtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Realtime {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(1024);
        Realtime { sender, open: Arc::default(), listening: Arc::new(tokio::sync::watch::channel(false).0) }
    }

    /// Waits until this instance listens on the database (at start, and again
    /// after a lost connection), so that a change committed afterwards reaches
    /// its streams. The tests wait here instead of sleeping.
    pub async fn listening(&self) {
        let mut ready = self.listening.subscribe();
        let _ = ready.wait_for(|listening| *listening).await;
    }

    /// A slot for one more stream of `user`, or `None` at the cap.
    pub fn open_stream(&self, user: crate::ids::UserId) -> Option<StreamSlot> {
        let user = user.uuid();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user).or_insert(0);
        if *n >= MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(StreamSlot { open: self.open.clone(), user })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.sender.subscribe()
    }

    /// Ends this instance's live streams (at shutdown, so open connections close).
    pub fn close_streams(&self) {
        let _ = self.sender.send(Signal::Shutdown);
    }

    /// Listens on the database for the life of the process, reconnecting after
    /// failures; after a reconnect every stream resynchronises.
    pub fn spawn_listener(&self, pool: PgPool) {
        let sender = self.sender.clone();
        let listening = self.listening.clone();
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
                            listening.send_replace(true);
                            loop {
                                match listener.recv().await {
                                    Ok(n) => match serde_json::from_str::<Signal>(n.payload()) {
                                        Ok(signal) => {
                                            let _ = sender.send(signal);
                                        }
                                        Err(e) => tracing::warn!(error = %e, "unreadable notification"),
                                    },
                                    Err(e) => {
                                        listening.send_replace(false);
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

/// What a live stream is for: whose it is, and how to tell that their log-in
/// still holds.
pub struct StreamOwner<A> {
    pub user: Uuid,
    pub slot: StreamSlot,
    pub alive: A,
    /// The log-in the stream is recorded under in the registry.
    pub login: StreamLogin,
}

/// A started stream's hold on its log-in: its slot under the cap, its row in
/// the registry (both released when this is dropped), and the check.
pub struct LoginWatch<A> {
    _slot: StreamSlot,
    registered: Option<Registered>,
    alive: A,
}

impl<A, AFut> StreamOwner<A>
where
    A: Fn() -> AFut,
    AFut: Future<Output = bool>,
{
    /// Called as the stream starts sending: records it in the registry.
    pub async fn start(self) -> Result<LoginWatch<A>, sqlx::Error> {
        let registered = self.login.register().await?;
        Ok(LoginWatch { _slot: self.slot, registered, alive: self.alive })
    }
}

impl<A, AFut> LoginWatch<A>
where
    A: Fn() -> AFut,
    AFut: Future<Output = bool>,
{
    /// Whether the log-in (and the access the stream was opened under) still
    /// holds; when it does, the registry row is confirmed.
    pub async fn holds(&self) -> bool {
        if !(self.alive)().await {
            return false;
        }
        if let Some(registered) = &self.registered {
            registered.confirm().await;
        }
        true
    }
}

/// What a stream says when it cannot record itself as open (the database is
/// unreachable), before it ends.
pub const NOT_STARTED: &str = "Live updates could not start. Reload the page to try again.";

/// A Server-Sent Events stream that sends `load()` as event `name` on connect
/// and again whenever a signal `relevant` to it arrives (only when it changed).
/// It ends when its owner's log-in does, or `alive` says the access it was
/// opened under is gone (event `ended`), and at shutdown.
pub fn live_stream<T, F, Fut, A, AFut>(
    mut signals: broadcast::Receiver<Signal>,
    name: &'static str,
    relevant: impl Fn(&Signal) -> bool + Send + 'static,
    load: F,
    owner: StreamOwner<A>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    T: serde::Serialize + Send + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, crate::error::AppError>> + Send,
    A: Fn() -> AFut + Send + Sync + 'static,
    AFut: Future<Output = bool> + Send,
{
    let user = owner.user;
    let stream = async_stream::stream! {
        let watch = match owner.start().await {
            Ok(watch) => watch,
            Err(e) => {
                tracing::warn!(error = %e, "could not record a live stream as open");
                yield Ok(Event::default().event("ended").data(NOT_STARTED));
                return;
            }
        };
        let mut last = String::new();
        let mut first = true;
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + LOGIN_RECHECK, LOGIN_RECHECK);
        loop {
            if !first {
                let check_login = tokio::select! {
                    received = signals.recv() => match received {
                        Ok(Signal::Shutdown) => break,
                        Ok(Signal::AccessChanged { user_id }) if user_id == user => true,
                        Ok(signal) if signal == Signal::Resync || relevant(&signal) => false,
                        Ok(_) => continue,
                        // Fell behind: reload once, the state is what matters.
                        Err(broadcast::error::RecvError::Lagged(_)) => false,
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    _ = recheck.tick() => true,
                };
                if check_login {
                    if !watch.holds().await {
                        yield Ok(Event::default().event("ended").data("Your log-in has ended, or what you may do has changed. Reload the page to go on."));
                        break;
                    }
                    continue;
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
