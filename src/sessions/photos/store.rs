//! Where the two images of a photo are kept, so that every app instance can
//! serve them: in the photo's own database row (the default), or in an
//! S3-compatible object store (`PHOTO_STORE=s3`, see `s3.rs`).
//!
//! A store keeps the images before the row is written; if the row's
//! transaction then fails, the upload asks the store to discard them.

use crate::config::{Config, PhotoStorage};
use crate::error::AppError;
use std::sync::Arc;
use uuid::Uuid;

/// Which of a photo's two images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Full,
    Thumb,
}

/// Where a new photo's images went, as its row records it.
#[derive(Debug)]
pub enum Placement {
    /// In the row itself (`bytes`, `thumb`).
    Inline { full: Vec<u8>, thumb: Vec<u8> },
    /// In the object store, under `storage_key`.
    External { key: String },
}

#[async_trait::async_trait]
pub trait PhotoStore: Send + Sync {
    /// Keeps the two images of a new photo.
    async fn put(
        &self,
        session_id: Uuid,
        photo_id: Uuid,
        full: Vec<u8>,
        thumb: Vec<u8>,
    ) -> Result<Placement, AppError>;
    /// Reads back an image kept outside the database (`None`: it is not there).
    async fn get(&self, key: &str, size: Size) -> Result<Option<Vec<u8>>, AppError>;
    /// Removes what `put` kept, when the photo's row could not be written.
    async fn discard(&self, placement: &Placement);
}

/// The default: the images live in the photo's row, written in the same
/// transaction as its chat message.
pub struct PostgresStore;

#[async_trait::async_trait]
impl PhotoStore for PostgresStore {
    async fn put(
        &self,
        _session: Uuid,
        _photo: Uuid,
        full: Vec<u8>,
        thumb: Vec<u8>,
    ) -> Result<Placement, AppError> {
        Ok(Placement::Inline { full, thumb })
    }

    async fn get(&self, key: &str, _size: Size) -> Result<Option<Vec<u8>>, AppError> {
        // A photo kept in an object store while PHOTO_STORE was s3.
        tracing::warn!(key, "a photo is in an object store, but PHOTO_STORE is postgres");
        Err(AppError::Unavailable)
    }

    async fn discard(&self, _placement: &Placement) {}
}

/// The store the configuration names.
pub fn from_config(config: &Config) -> Arc<dyn PhotoStore> {
    match &config.photo_storage {
        PhotoStorage::Postgres => Arc::new(PostgresStore),
        PhotoStorage::S3(settings) => Arc::new(super::s3::S3Store::new(settings.clone())),
    }
}
