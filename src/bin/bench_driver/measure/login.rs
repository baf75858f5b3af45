//! The HTTP client, and logging in through the app's own form endpoint.

use super::Error;
use std::time::Duration;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// Logs in through the app's own form endpoint; returns the `Cookie` header value.
pub async fn log_in(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<String, Error> {
    let res = client
        .post(format!("{base}/api/public/auth/log-in"))
        .header("Origin", base)
        .form(&[("email", email), ("password", password)])
        .send()
        .await?;
    let status = res.status();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("autodoctor_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    match cookie {
        Some(c) if status.is_success() || status.is_redirection() => Ok(c),
        _ => {
            Err(format!("log-in of {email} failed: {status} {}", res.text().await.unwrap_or_default()).into())
        }
    }
}

/// Logs in many accounts, a few at a time (argon2 is slow on purpose).
pub async fn log_in_all(
    client: &reqwest::Client,
    base: &str,
    emails: &[String],
    password: &str,
) -> Result<Vec<String>, Error> {
    let mut cookies = vec![String::new(); emails.len()];
    for (chunk_i, chunk) in emails.chunks(4).enumerate() {
        let futures = chunk.iter().map(|e| log_in(client, base, e, password));
        for (i, r) in futures::future::join_all(futures).await.into_iter().enumerate() {
            cookies[chunk_i * 4 + i] = r?;
        }
    }
    Ok(cookies)
}
