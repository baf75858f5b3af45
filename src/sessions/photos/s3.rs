//! The S3-compatible photo store (`PHOTO_STORE=s3`): objects `PUT`, `GET` and
//! `DELETE` path-style (`ENDPOINT/BUCKET/KEY`), signed with AWS Signature
//! Version 4 by hand over `reqwest` (sha2 and hmac are already here), so any
//! S3-compatible service works: AWS, MinIO, Ceph, Garage, R2.

use super::store::{PhotoStore, Placement, Size};
use crate::config::S3Settings;
use crate::error::AppError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;
use uuid::Uuid;

/// One HTTP client for every store (connection pools are shared).
fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    })
}

pub struct S3Store {
    settings: S3Settings,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// RFC 3986 encoding of one path segment, as SigV4 wants it.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed request's `Authorization` header value (AWS Signature Version 4,
/// service `s3`). `headers` are the signed ones, lower-case names, sorted;
/// `amz_date` is `YYYYMMDDTHHMMSSZ`.
pub fn authorization(
    settings: &S3Settings,
    method: &str,
    canonical_uri: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
    amz_date: &str,
) -> String {
    let date = &amz_date[..8];
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed_headers = headers.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(";");
    let canonical_request =
        format!("{method}\n{canonical_uri}\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let scope = format!("{date}/{}/s3/aws4_request", settings.region);
    let to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let key = hmac(format!("AWS4{}", settings.secret_access_key).as_bytes(), date);
    let key = hmac(&key, &settings.region);
    let key = hmac(&key, "s3");
    let key = hmac(&key, "aws4_request");
    let signature = hex::encode(hmac(&key, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        settings.access_key_id
    )
}

fn unavailable(what: &str, err: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %err, "photo store: {what}");
    AppError::Unavailable
}

impl S3Store {
    pub fn new(settings: S3Settings) -> Self {
        S3Store { settings }
    }

    /// Sends one signed request for `key` (or for the bucket itself when `key` is empty).
    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, AppError> {
        let s = &self.settings;
        let host = s.endpoint.split_once("://").map(|(_, rest)| rest).unwrap_or(&s.endpoint);
        let host = host.split('/').next().unwrap_or(host).to_string();
        let mut uri = format!("/{}", encode_segment(&s.bucket));
        for segment in key.split('/').filter(|k| !k.is_empty()) {
            uri.push('/');
            uri.push_str(&encode_segment(segment));
        }
        let payload_hash = sha256_hex(&body);
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let headers =
            [("host", host.as_str()), ("x-amz-content-sha256", &payload_hash), ("x-amz-date", &amz_date)];
        let auth = authorization(s, method.as_str(), &uri, &headers, &payload_hash, &amz_date);
        let mut req = http()
            .request(method, format!("{}{uri}", s.endpoint))
            .header("x-amz-content-sha256", &payload_hash)
            .header("x-amz-date", &amz_date)
            .header(reqwest::header::AUTHORIZATION, auth);
        if !body.is_empty() {
            req = req.header(reqwest::header::CONTENT_TYPE, "image/jpeg").body(body);
        }
        req.send().await.map_err(|e| unavailable("request failed", e))
    }

    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), AppError> {
        let res = self.send(reqwest::Method::PUT, key, body).await?;
        if !res.status().is_success() {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            return Err(unavailable(
                "PUT refused",
                format!("{status}: {}", text.chars().take(300).collect::<String>()),
            ));
        }
        Ok(())
    }

    /// Creates the bucket (for tests and first set-ups; an existing one is fine).
    pub async fn create_bucket(&self) -> Result<(), AppError> {
        let res = self.send(reqwest::Method::PUT, "", Vec::new()).await?;
        if res.status().is_success() || res.status() == reqwest::StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(unavailable("bucket creation refused", res.status()))
        }
    }
}

fn object_key(key: &str, size: Size) -> String {
    match size {
        Size::Full => format!("{key}/full.jpg"),
        Size::Thumb => format!("{key}/thumb.jpg"),
    }
}

#[async_trait::async_trait]
impl PhotoStore for S3Store {
    async fn put(
        &self,
        session_id: Uuid,
        photo_id: Uuid,
        full: Vec<u8>,
        thumb: Vec<u8>,
    ) -> Result<Placement, AppError> {
        let key = format!("session-photos/{session_id}/{photo_id}");
        self.put_object(&object_key(&key, Size::Full), full).await?;
        if let Err(e) = self.put_object(&object_key(&key, Size::Thumb), thumb).await {
            self.discard(&Placement::External { key }).await;
            return Err(e);
        }
        Ok(Placement::External { key })
    }

    async fn get(&self, key: &str, size: Size) -> Result<Option<Vec<u8>>, AppError> {
        let res = self.send(reqwest::Method::GET, &object_key(key, size), Vec::new()).await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !res.status().is_success() {
            return Err(unavailable("GET refused", res.status()));
        }
        Ok(Some(res.bytes().await.map_err(|e| unavailable("GET body", e))?.to_vec()))
    }

    async fn discard(&self, placement: &Placement) {
        if let Placement::External { key } = placement {
            for size in [Size::Full, Size::Thumb] {
                if let Err(e) = self.send(reqwest::Method::DELETE, &object_key(key, size), Vec::new()).await {
                    tracing::warn!(error = %e, key, "photo store: an orphaned object was left");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_aws_documentation_example() {
        // "Example: GET Object" of the AWS Signature Version 4 documentation for S3.
        let settings = S3Settings {
            endpoint: "https://examplebucket.s3.amazonaws.com".into(),
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        };
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256_hex(b""), empty);
        let auth = authorization(
            &settings,
            "GET",
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", empty),
                ("x-amz-date", "20130524T000000Z"),
            ],
            empty,
            "20130524T000000Z",
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("a b/c~d"), "a%20b%2Fc~d");
    }
}
