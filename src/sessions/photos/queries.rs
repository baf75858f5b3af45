//! The photos' SQL: may this person post in this session, the photo and its
//! chat message written in one transaction (with the live signal), and one
//! photo for someone allowed to see it.

use super::store::{Placement, Size};
use crate::error::AppError;
use crate::ids::{SessionId, UserId};
use crate::realtime::server::notify;
use crate::realtime::Signal;
use crate::sessions::SessionStatus;
use sqlx::PgPool;
use uuid::Uuid;

pub const NOT_YOURS: &str = "There is no session of yours with that reference.";
pub const CLOSED: &str = "This session has ended; photos can no longer be sent.";

/// Refuses anyone but the session's customer or mechanic (404) and a session
/// that is no longer open (409). Checked before the upload is read, and again
/// under the session's lock when the photo is written.
pub async fn check_can_post(pool: &PgPool, session_id: SessionId, user: UserId) -> Result<(), AppError> {
    let session_id = session_id.uuid();
    let user = user.uuid();
    let status = sqlx::query_scalar!(
        r#"SELECT status AS "status: SessionStatus" FROM sessions
            WHERE id = $1 AND (customer_id = $2 OR mechanic_id = $2)"#,
        session_id,
        user
    )
    .fetch_optional(pool)
    .await?;
    match status {
        None => Err(AppError::not_found(NOT_YOURS)),
        Some(s) if !s.is_open() => Err(AppError::conflict(CLOSED)),
        Some(_) => Ok(()),
    }
}

/// A processed photo, ready to be recorded.
pub struct NewPhoto<'a> {
    pub id: Uuid,
    pub session_id: Uuid,
    pub uploader: Uuid,
    pub caption: &'a str,
    pub width: u32,
    pub height: u32,
    pub thumb_width: u32,
    pub thumb_height: u32,
    pub byte_size: usize,
}

/// Records the photo and its chat message in one transaction, starting the
/// session with its first message (as `room::send_chat` does), and tells both
/// participants' live rooms. Returns the message's id.
pub async fn insert_photo_message(
    pool: &PgPool,
    new: &NewPhoto<'_>,
    placement: &Placement,
) -> Result<i64, AppError> {
    let mut tx = pool.begin().await?;
    let session = sqlx::query!(
        r#"SELECT status AS "status: SessionStatus", order_id FROM sessions
            WHERE id = $1 AND (customer_id = $2 OR mechanic_id = $2) FOR UPDATE"#,
        new.session_id,
        new.uploader
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::not_found(NOT_YOURS))?;
    if !session.status.is_open() {
        return Err(AppError::conflict(CLOSED));
    }
    let (bytes, thumb, key) = match placement {
        Placement::Inline { full, thumb } => (Some(full.as_slice()), Some(thumb.as_slice()), None),
        Placement::External { key } => (None, None, Some(key.as_str())),
    };
    let dims = |n: u32| i32::try_from(n).map_err(|_| AppError::internal("photo", "dimension out of range"));
    sqlx::query!(
        "INSERT INTO session_photos (id, session_id, uploader_id, width, height, thumb_width, thumb_height,
                                     bytes, thumb, storage_key, byte_size)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        new.id,
        new.session_id,
        new.uploader,
        dims(new.width)?,
        dims(new.height)?,
        dims(new.thumb_width)?,
        dims(new.thumb_height)?,
        bytes,
        thumb,
        key,
        i32::try_from(new.byte_size).map_err(|_| AppError::internal("photo", "size out of range"))?,
    )
    .execute(&mut *tx)
    .await?;
    let message_id = sqlx::query_scalar!(
        "INSERT INTO chat_messages (session_id, sender_id, body, photo_id) VALUES ($1, $2, $3, $4) RETURNING id",
        new.session_id,
        new.uploader,
        new.caption,
        new.id
    )
    .fetch_one(&mut *tx)
    .await?;
    if session.status == SessionStatus::Accepted {
        // The first message starts the session.
        sqlx::query!(
            "UPDATE sessions SET status = 'active', started_at = now() WHERE id = $1",
            new.session_id
        )
        .execute(&mut *tx)
        .await?;
        let signal = Signal::SessionChanged { session_id: new.session_id, order_id: session.order_id };
        notify(&mut *tx, &signal).await?;
    }
    notify(&mut *tx, &Signal::ChatMessage { session_id: new.session_id }).await?;
    tx.commit().await?;
    Ok(message_id)
}

/// One image of a photo, as its row keeps it.
pub struct StoredImage {
    pub data: Option<Vec<u8>>,
    pub storage_key: Option<String>,
}

/// One image of a photo of the session, for one of its participants or an
/// admin (`None` for anyone else, as for a photo that does not exist).
pub async fn image_for_viewer(
    pool: &PgPool,
    session_id: SessionId,
    photo_id: Uuid,
    viewer: UserId,
    viewer_is_admin: bool,
    size: Size,
) -> Result<Option<StoredImage>, AppError> {
    let session_id = session_id.uuid();
    let viewer = viewer.uuid();
    let row = sqlx::query!(
        r#"SELECT CASE WHEN $5 THEN p.thumb ELSE p.bytes END AS data, p.storage_key
             FROM session_photos p JOIN sessions s ON s.id = p.session_id
            WHERE p.id = $1 AND p.session_id = $2
              AND (s.customer_id = $3 OR s.mechanic_id = $3 OR $4)"#,
        photo_id,
        session_id,
        viewer,
        viewer_is_admin,
        size == Size::Thumb
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| StoredImage { data: r.data, storage_key: r.storage_key }))
}
