//! `GET /api/live/directory?ids=<id>,<id>`: the directory's online counts, live.
//! Public (the directory is): it sends counts only, of active workshops, as the
//! event `counts` on connect and again whenever a mechanic goes online or
//! offline (the `MechanicsChanged` signal, from any instance). The page's plain
//! script (`public/directory.js`) updates the cards with it.

use crate::error::AppError;
use crate::realtime::Signal;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Workshops one stream follows at most (a page of the directory holds 20).
pub const MAX_IDS: usize = 100;
/// Anonymous directory streams open at once on one instance.
pub const MAX_OPEN: usize = 2000;

static OPEN: AtomicUsize = AtomicUsize::new(0);

/// One workshop's counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineCount {
    pub workshop_id: Uuid,
    pub available_mechanics: i32,
    pub total_mechanics: i32,
}

/// What the stream sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryCounts {
    /// Approved mechanics online now anywhere (the "Any available" card).
    pub any_available: i64,
    pub workshops: Vec<OnlineCount>,
}

/// The workshops to follow, from `ids=` (comma-separated; none is fine).
pub fn parse_ids(raw: Option<&str>) -> Result<Vec<Uuid>, String> {
    let raw = raw.unwrap_or("").trim();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids = Vec::new();
    for part in raw.split(',') {
        let id = Uuid::parse_str(part.trim())
            .map_err(|_| format!("ids must be workshop references separated by commas (got {:.40})", part))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > MAX_IDS {
            return Err(format!("ids may name at most {MAX_IDS} workshops"));
        }
    }
    Ok(ids)
}

pub async fn counts(pool: &sqlx::PgPool, ids: &[Uuid]) -> Result<DirectoryCounts, AppError> {
    let any = super::queries::any_available(pool).await?;
    let workshops =
        if ids.is_empty() { Vec::new() } else { super::queries::online_counts(pool, ids).await? };
    Ok(DirectoryCounts { any_available: any.available_mechanics, workshops })
}

/// One open stream; the count goes down when it is dropped.
struct Slot;

impl Slot {
    fn open() -> Option<Slot> {
        let before = OPEN.fetch_add(1, Ordering::SeqCst);
        if before >= MAX_OPEN {
            OPEN.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

fn relevant(signal: &Signal) -> bool {
    matches!(signal, Signal::MechanicsChanged | Signal::Resync)
}

pub async fn directory(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let ids = match parse_ids(query.get("ids").map(String::as_str)) {
        Ok(ids) => ids,
        Err(message) => return AppError::BadRequest(message).into_response(),
    };
    let Some(slot) = Slot::open() else { return AppError::Unavailable.into_response() };
    let mut signals: broadcast::Receiver<Signal> = state.realtime.subscribe();
    let pool = state.pool.clone();
    let stream = async_stream::stream! {
        let _slot = slot;
        let mut last = String::new();
        let mut first = true;
        loop {
            if !first {
                match signals.recv().await {
                    Ok(Signal::Shutdown) | Err(broadcast::error::RecvError::Closed) => break,
                    Ok(signal) if relevant(&signal) => {}
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                }
            }
            first = false;
            match counts(&pool, &ids).await {
                Ok(value) => {
                    let json = serde_json::to_string(&value).unwrap_or_default();
                    if json != last {
                        last = json.clone();
                        yield Ok::<_, std::convert::Infallible>(Event::default().event("counts").data(json));
                    }
                }
                Err(e) => yield Ok(Event::default().event("problem").data(e.to_string())),
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert_eq!(parse_ids(None).unwrap(), Vec::<Uuid>::new());
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        assert_eq!(parse_ids(Some(&format!("{a}, {b},{a}"))).unwrap(), vec![a, b]);
        assert!(parse_ids(Some("not-an-id")).is_err());
        assert!(parse_ids(Some(&format!("{a},"))).is_err());
        let many: Vec<String> = (0..=MAX_IDS).map(|_| Uuid::new_v4().to_string()).collect();
        assert!(parse_ids(Some(&many.join(","))).is_err());
    }
}
