//! Which mechanics have their live offers open, on any instance (the table
//! `offer_stream_presence`): an open `/api/live/offers` stream holds a
//! [`Presence`], which writes its row on open, touches it on every log-in
//! re-check and deletes it when the stream closes. A row not touched for
//! [`FRESH_FOR`] belongs to an instance that died and counts as closed.

use sqlx::PgPool;
use uuid::Uuid;

/// How long a stream's row counts as open without a touch. Streams touch it
/// every log-in re-check (10 s), so this allows a few missed ones.
pub const FRESH_FOR: chrono::Duration = chrono::Duration::seconds(45);

/// One open offers stream's row; deleted when this is dropped.
pub struct Presence {
    pool: PgPool,
    stream: Uuid,
}

impl Presence {
    /// Records that `mechanic` has an offers stream open from now on.
    pub async fn open(pool: &PgPool, mechanic: crate::ids::UserId) -> Result<Self, sqlx::Error> {
        let mechanic = mechanic.uuid();
        let stream = Uuid::new_v4();
        sqlx::query!(
            "INSERT INTO offer_stream_presence (stream_id, mechanic_id) VALUES ($1, $2)",
            stream,
            mechanic
        )
        .execute(pool)
        .await?;
        Ok(Presence { pool: pool.clone(), stream })
    }

    /// Says the stream is still open (a failure only makes the row go stale
    /// sooner, which at worst sends one mail too many: it is logged).
    pub async fn touch(&self) {
        let touched = sqlx::query!(
            "UPDATE offer_stream_presence SET seen_at = now() WHERE stream_id = $1",
            self.stream
        )
        .execute(&self.pool)
        .await;
        if let Err(e) = touched {
            tracing::warn!(error = %e, "could not touch the offers stream's presence");
        }
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        let (pool, stream) = (self.pool.clone(), self.stream);
        // The stream is dropped inside the runtime; if not (process exit), the
        // row goes stale on its own.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let deleted = sqlx::query!("DELETE FROM offer_stream_presence WHERE stream_id = $1", stream)
                    .execute(&pool)
                    .await;
                if let Err(e) = deleted {
                    tracing::warn!(error = %e, "could not delete the offers stream's presence");
                }
            });
        }
    }
}
