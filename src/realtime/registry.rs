//! The registry of open live streams, across instances (table `live_streams`,
//! migration 27): what lets `autodoctor check` see that every open stream
//! belongs to a log-in that still holds. A stream writes its row when it starts
//! sending ([`StreamLogin::register`]), confirms it after each re-check that
//! its log-in still holds ([`Registered::confirm`]) and deletes it when it is
//! dropped. A row not confirmed for an hour belongs to an instance that died;
//! its owner's next stream clears it.

use crate::ids::UserId;
use sqlx::PgPool;
use uuid::Uuid;

/// What a stream shows (the `kind` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Offers,
    Order,
    Session,
    Call,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Offers => "offers",
            StreamKind::Order => "order",
            StreamKind::Session => "session",
            StreamKind::Call => "call",
        }
    }
}

/// Whose stream is starting, and under which log-in.
#[derive(Clone)]
pub struct StreamLogin {
    pub pool: PgPool,
    pub user: UserId,
    /// The log-in session's id; `None` for a session never stored, whose
    /// stream ends at its first re-check.
    pub login: Option<String>,
    pub kind: StreamKind,
}

impl StreamLogin {
    /// Records the stream as open from now on (and clears the user's rows that
    /// dead instances left behind).
    pub async fn register(&self) -> Result<Option<Registered>, sqlx::Error> {
        let Some(login) = &self.login else { return Ok(None) };
        let stream = Uuid::new_v4();
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "DELETE FROM live_streams WHERE user_id = $1 AND confirmed_at < now() - interval '1 hour'",
            self.user.uuid()
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO live_streams (stream_id, user_id, login_id, kind) VALUES ($1, $2, $3, $4)",
            stream,
            self.user.uuid(),
            login,
            self.kind.as_str()
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Registered { pool: self.pool.clone(), stream }))
    }
}

/// One open stream's row; deleted when this is dropped.
pub struct Registered {
    pool: PgPool,
    stream: Uuid,
}

impl Registered {
    /// Says the stream has just found its log-in still holding. (A failure is
    /// logged: the row then looks like a dead instance's, which the check
    /// allows for.)
    pub async fn confirm(&self) {
        let confirmed =
            sqlx::query!("UPDATE live_streams SET confirmed_at = now() WHERE stream_id = $1", self.stream)
                .execute(&self.pool)
                .await;
        if let Err(e) = confirmed {
            tracing::warn!(error = %e, "could not confirm a live stream's row");
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let (pool, stream) = (self.pool.clone(), self.stream);
        // Streams are dropped inside the runtime; if not (process exit), the
        // row is left as a dead instance's.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let deleted = sqlx::query!("DELETE FROM live_streams WHERE stream_id = $1", stream)
                    .execute(&pool)
                    .await;
                if let Err(e) = deleted {
                    tracing::warn!(error = %e, "could not delete a live stream's row");
                }
            });
        }
    }
}
