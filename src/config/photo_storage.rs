//! Where chat photos are kept (`PHOTO_STORE`, and `S3_*` for an object store).

use super::parse::{check, var};
use super::ConfigError;

/// Where chat photos are kept: in the database (the default), or in an
/// S3-compatible object store that every app instance reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhotoStorage {
    Postgres,
    S3(S3Settings),
}

/// An S3-compatible bucket (`S3_*`), addressed path-style: `ENDPOINT/BUCKET/KEY`.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `https://s3.REGION.amazonaws.com`, or another service's URL (no trailing slash).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// `PHOTO_STORE` (`postgres` or `s3`) and, for `s3`, the `S3_*` variables.
pub(super) fn from_env() -> Result<PhotoStorage, ConfigError> {
    match var("PHOTO_STORE").as_deref() {
        None | Some("postgres") => Ok(PhotoStorage::Postgres),
        Some("s3") => {
            let required = |name: &'static str| {
                var(name).ok_or(ConfigError { var: name, message: "must be set with PHOTO_STORE=s3".into() })
            };
            let region = var("S3_REGION").unwrap_or_else(|| "us-east-1".into());
            let endpoint = var("S3_ENDPOINT").unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
            check(
                endpoint.starts_with("http://") || endpoint.starts_with("https://"),
                "S3_ENDPOINT",
                "must start with http:// or https://",
            )?;
            Ok(PhotoStorage::S3(S3Settings {
                endpoint: endpoint.trim_end_matches('/').to_string(),
                bucket: required("S3_BUCKET")?,
                region,
                access_key_id: required("S3_ACCESS_KEY_ID")?,
                secret_access_key: required("S3_SECRET_ACCESS_KEY")?,
            }))
        }
        Some(other) => Err(ConfigError {
            var: "PHOTO_STORE",
            message: format!("expected postgres or s3, got {other:?}"),
        }),
    }
}
