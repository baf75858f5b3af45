//! Writing a notification to the outbox, once per (kind, event, recipient).

use super::Kind;
use crate::mail::message::text_to_html;
use crate::mail::outbox::{enqueue_notice, Notice};
use sqlx::PgConnection;

/// A notification's content; `greet` puts "Hello NAME," before the text.
pub struct Content<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub greet: bool,
}

/// Queues `content` for `user` unless it was queued for this event before, or
/// the person switched optional mail off and it is optional. Each message
/// carries a one-click link that switches optional mail off. Returns whether a
/// message was queued now.
pub async fn to_user(
    conn: &mut PgConnection,
    public_url: &str,
    kind: Kind,
    event: &str,
    user: crate::ids::UserId,
    content: &Content<'_>,
) -> Result<bool, sqlx::Error> {
    let user = user.uuid();
    let who = sqlx::query!(
        "SELECT email, name, optional_mail FROM users WHERE id = $1 AND disabled_at IS NULL",
        user
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(who) = who else { return Ok(false) };
    if !kind.essential() && !who.optional_mail {
        return Ok(false);
    }
    let (token, token_hash) = crate::token::new_token();
    let url = format!("{}/unsubscribe/{token}", public_url.trim_end_matches('/'));
    let footer = if kind.essential() {
        "You get this email because of your account; it is sent even with optional email switched off.\n\
         To stop optional emails (such as request updates), open:"
    } else {
        "To stop optional emails like this one, open:"
    };
    let greeting = if content.greet { format!("Hello {},\n\n", who.name) } else { String::new() };
    let text = format!("{greeting}{}\n\n--\n{footer}\n{url}\n", content.text.trim_end());
    let html = text_to_html(content.subject, &text);
    let key = format!("{}:{event}:{user}", kind.code());
    let queued = enqueue_notice(
        &mut *conn,
        &Notice {
            to: &who.email,
            subject: content.subject,
            text: &text,
            html: &html,
            kind: kind.code(),
            dedupe_key: &key,
            unsubscribe_url: Some(&url),
        },
    )
    .await?;
    if queued {
        sqlx::query!(
            "INSERT INTO mail_unsubscribe_tokens (token_hash, user_id) VALUES ($1, $2)",
            token_hash,
            user
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(queued)
}

/// Queues `content` for every owner of a workshop; returns how many were queued now.
pub async fn to_workshop_owners(
    conn: &mut PgConnection,
    public_url: &str,
    kind: Kind,
    event: &str,
    workshop: crate::ids::WorkshopId,
    content: &Content<'_>,
) -> Result<usize, sqlx::Error> {
    let workshop = workshop.uuid();
    let owners = sqlx::query_scalar!(
        "SELECT user_id FROM organization_members WHERE organization_id = $1 AND role = 'owner' ORDER BY user_id",
        workshop
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut queued = 0;
    for owner in owners {
        if to_user(conn, public_url, kind, event, crate::ids::UserId(owner), content).await? {
            queued += 1;
        }
    }
    Ok(queued)
}
