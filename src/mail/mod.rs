//! Outgoing email through an outbox table. Messages are written in the same
//! transaction as what caused them; a background sender delivers them over SMTP
//! when `SMTP_URL` is set. Without SMTP they stay in the outbox, where the admin
//! mailbox page shows them.

#[cfg(feature = "ssr")]
pub mod message;
#[cfg(feature = "ssr")]
pub mod outbox;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The address people reach the app at, for links in mail written by code that
/// has no configuration at hand (set once per process from `PUBLIC_URL`).
#[cfg(feature = "ssr")]
static PUBLIC_URL: std::sync::RwLock<String> = std::sync::RwLock::new(String::new());

#[cfg(feature = "ssr")]
pub fn set_public_url(url: &str) {
    if let Ok(mut u) = PUBLIC_URL.write() {
        *u = url.to_string();
    }
}

#[cfg(feature = "ssr")]
pub fn public_url() -> String {
    match PUBLIC_URL.read() {
        Ok(u) if !u.is_empty() => u.clone(),
        _ => "http://127.0.0.1:3000".to_string(),
    }
}

/// A message as the admin mailbox page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct MailboxMessage {
    pub id: Uuid,
    pub to_email: String,
    pub subject: String,
    pub body_text: String,
    pub kind: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// Splits text into plain parts and links (http/https URLs), so pages can show
/// the links in a message as links while escaping everything else.
pub fn split_links(text: &str) -> Vec<(bool, String)> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("http://").into_iter().chain(rest.find("https://")).min() {
        if start > 0 {
            parts.push((false, rest[..start].to_string()));
        }
        let tail = &rest[start..];
        let end =
            tail.find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"').unwrap_or(tail.len());
        parts.push((true, tail[..end].to_string()));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        parts.push((false, rest.to_string()));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::split_links;

    #[test]
    fn links_are_found_in_text() {
        let parts = split_links("Join: https://a.test/invite/abc\nThanks http://b.test");
        assert_eq!(
            parts,
            vec![
                (false, "Join: ".to_string()),
                (true, "https://a.test/invite/abc".to_string()),
                (false, "\nThanks ".to_string()),
                (true, "http://b.test".to_string()),
            ]
        );
        assert_eq!(split_links("no links"), vec![(false, "no links".to_string())]);
    }
}
