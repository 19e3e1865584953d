//! Uploaded photos, stored once by content (sha256) in the file store: a local directory or an
//! S3-compatible bucket, both through `object_store`, so instances that share the store share
//! every photo.
//!
//! A photo is complete in the store (fsynced and renamed into place on a local disk, one PUT on
//! S3) before any database row refers to it, so a crash leaves at worst an unreferenced photo,
//! never a row without one.

mod location;
pub mod metadata;
mod space;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

pub use location::StoreLocation;
pub use space::{available_bytes, DiskReserve};

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 256;

#[derive(Debug, Clone)]
pub struct PhotoStore {
    objects: Arc<dyn ObjectStore>,
    /// The directory of a local store (where a crash's unfinished writes can lie); None on S3.
    local_root: Option<PathBuf>,
    location: StoreLocation,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes from the operating system, hex: the secret of a mailed link or an API token.
pub fn random_secret() -> Result<String, crate::ServiceError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| crate::ServiceError::Storage(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn photo_key(sha256: &str) -> Option<Key> {
    is_sha256(sha256).then(|| Key::from(format!("sha256/{}/{sha256}", &sha256[..2])))
}

fn thumb_key(sha256: &str) -> Key {
    Key::from(format!("thumbs/{}/{sha256}.jpg", &sha256[..2]))
}

/// Where a heat map of a photo is kept: under the photo's digest, so removing the photo
/// removes its heat maps; `variant` names the model and class it was drawn for.
fn heatmap_key(sha256: &str, variant: &str) -> Key {
    Key::from(format!("heatmaps/{sha256}/{}.png", sha256_hex(variant.as_bytes())))
}

fn not_a_digest() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 digest")
}

/// The error with its causes (object_store's own message often ends at "HTTP error").
fn io_error(e: object_store::Error) -> io::Error {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, text),
        _ => io::Error::other(text),
    }
}

impl PhotoStore {
    /// A store in a local directory (made when missing).
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        Self::at(&StoreLocation::Local(root.into()))
    }

    /// A store at a configured location: a directory or an S3 bucket (see [`StoreLocation`]).
    pub fn at(location: &StoreLocation) -> io::Result<Self> {
        Self::at_s3_with(location, object_store::aws::AmazonS3Builder::from_env())
    }

    /// As [`Self::at`], S3 settings taken from `s3` instead of the `AWS_*` variables.
    pub fn at_s3_with(location: &StoreLocation, s3: object_store::aws::AmazonS3Builder) -> io::Result<Self> {
        let (objects, local_root) = location.connect_with(s3)?;
        Ok(PhotoStore { objects, local_root, location: location.clone() })
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The file holding a photo in a local store; None on S3 or for anything not a digest.
    pub fn local_path(&self, sha256: &str) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        is_sha256(sha256).then(|| root.join("sha256").join(&sha256[..2]).join(sha256))
    }

    pub async fn contains(&self, sha256: &str) -> io::Result<bool> {
        let key = photo_key(sha256).ok_or_else(not_a_digest)?;
        match self.objects.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Stores the bytes (once; identical uploads share one object) and returns their digest.
    pub async fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let sha = sha256_hex(bytes);
        let key = photo_key(&sha).ok_or_else(not_a_digest)?;
        if self.contains(&sha).await? {
            return Ok(sha);
        }
        // Two writers of the same photo race harmlessly: the content under a digest is fixed,
        // and each write replaces the object whole.
        self.objects.put(&key, PutPayload::from(bytes.to_vec())).await.map_err(io_error)?;
        Ok(sha)
    }

    pub async fn read(&self, sha256: &str) -> io::Result<Vec<u8>> {
        let key = photo_key(sha256).ok_or_else(not_a_digest)?;
        let got = self.objects.get(&key).await.map_err(io_error)?;
        Ok(got.bytes().await.map_err(io_error)?.to_vec())
    }

    /// Makes sure the photo is stored, writing it again if something removed it meanwhile.
    /// Uploads call this after their row is committed: with [`Self::set_aside`]'s second look,
    /// no row can end up without its photo however an upload and a delete interleave.
    pub async fn ensure(&self, bytes: &[u8]) -> io::Result<()> {
        let sha = sha256_hex(bytes);
        if !self.contains(&sha).await? {
            tracing::info!(sha, "a photo removed while it was uploaded again is stored again");
            self.objects
                .put(&photo_key(&sha).ok_or_else(not_a_digest)?, PutPayload::from(bytes.to_vec()))
                .await
                .map_err(io_error)?;
        }
        Ok(())
    }

    /// Moves a photo out of the way before it is removed for good, so a delete can look again
    /// whether an upload claimed it meanwhile and put it back ([`Self::restore`]). None when the
    /// photo is not there.
    pub async fn set_aside(&self, sha256: &str) -> io::Result<Option<Key>> {
        let key = photo_key(sha256).ok_or_else(not_a_digest)?;
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let aside = Key::from(format!("removing/{sha256}.{nanos}"));
        match self.objects.rename(&key, &aside).await {
            Ok(()) => Ok(Some(aside)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    /// Puts a photo set aside back in its place.
    pub async fn restore(&self, sha256: &str, aside: &Key) -> io::Result<()> {
        let key = photo_key(sha256).ok_or_else(not_a_digest)?;
        self.objects.rename(aside, &key).await.map_err(io_error)
    }

    /// Removes a photo set aside for good, with its thumbnail and heat maps. The photo's own
    /// place is left alone: an upload may have stored it there again.
    pub async fn discard(&self, sha256: &str, aside: &Key) -> io::Result<()> {
        photo_key(sha256).ok_or_else(not_a_digest)?;
        for key in self.derived(sha256).await?.into_iter().chain([aside.clone()]) {
            match self.objects.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }

    /// What is made from a photo and kept beside it: its thumbnail and heat maps.
    async fn derived(&self, sha256: &str) -> io::Result<Vec<Key>> {
        let heatmaps: Vec<_> =
            self.objects.list(Some(&Key::from(format!("heatmaps/{sha256}")))).try_collect().await.map_err(io_error)?;
        Ok(heatmaps.into_iter().map(|m| m.location).chain([thumb_key(sha256)]).collect())
    }

    /// Photos a crash left set aside: (digest, where it lies, when it was set aside).
    pub async fn set_aside_leftovers(&self) -> io::Result<Vec<(String, Key, SystemTime)>> {
        let metas: Vec<_> = self.objects.list(Some(&Key::from("removing"))).try_collect().await.map_err(io_error)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let sha = m.location.filename()?.split('.').next()?.to_string();
                is_sha256(&sha).then(|| (sha, m.location.clone(), SystemTime::from(m.last_modified)))
            })
            .collect())
    }

    /// Removes a stored photo, its thumbnail and its heat maps; a photo that is not there is
    /// not an error.
    pub async fn remove(&self, sha256: &str) -> io::Result<()> {
        let key = photo_key(sha256).ok_or_else(not_a_digest)?;
        for key in self.derived(sha256).await?.into_iter().chain([key]) {
            match self.objects.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }

    /// A small JPEG of the photo (longest side `THUMB_SIDE`), made on first request and kept.
    pub async fn thumbnail(&self, sha256: &str) -> io::Result<Vec<u8>> {
        photo_key(sha256).ok_or_else(not_a_digest)?;
        let thumb = thumb_key(sha256);
        if let Ok(got) = self.objects.get(&thumb).await {
            if let Ok(bytes) = got.bytes().await {
                return Ok(bytes.to_vec());
            }
        }
        let bytes = self.read(sha256).await?;
        let size = crate::inference::preprocess::probe(&bytes, Some(THUMB_SIDE)).map_err(io::Error::other)?;
        let permit =
            crate::inference::decode_budget::DecodeBudget::global().reserve(&size).await.map_err(|e| match e {
                crate::inference::InferenceError::Busy => io::Error::new(io::ErrorKind::WouldBlock, e),
                other => io::Error::other(other),
            })?;
        let small = tokio::task::spawn_blocking(move || -> io::Result<Vec<u8>> {
            let _permit = permit;
            let image = crate::inference::preprocess::decode(&bytes, Some(THUMB_SIDE)).map_err(io::Error::other)?;
            let small = image.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
            let mut out = io::Cursor::new(Vec::new());
            small.write_to(&mut out, image::ImageFormat::Jpeg).map_err(io::Error::other)?;
            Ok(out.into_inner())
        })
        .await
        .map_err(io::Error::other)??;
        self.objects.put(&thumb, PutPayload::from(small.clone())).await.map_err(io_error)?;
        Ok(small)
    }

    /// A heat map drawn earlier for this photo and variant, if one was kept.
    pub async fn heatmap(&self, sha256: &str, variant: &str) -> Option<Vec<u8>> {
        photo_key(sha256)?;
        let got = self.objects.get(&heatmap_key(sha256, variant)).await.ok()?;
        got.bytes().await.ok().map(|b| b.to_vec())
    }

    /// Keeps a heat map drawn for this photo and variant.
    pub async fn put_heatmap(&self, sha256: &str, variant: &str, png: Vec<u8>) -> io::Result<()> {
        photo_key(sha256).ok_or_else(not_a_digest)?;
        self.objects.put(&heatmap_key(sha256, variant), PutPayload::from(png)).await.map_err(io_error)?;
        Ok(())
    }

    /// Every stored photo's digest with the time it was written.
    pub async fn list(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let prefix = Key::from("sha256");
        let metas: Vec<_> = self.objects.list(Some(&prefix)).try_collect().await.map_err(io_error)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                is_sha256(&name).then(|| (name, SystemTime::from(m.last_modified)))
            })
            .collect())
    }

    /// Writes that never finished (a crash mid-upload) in a local store: `object_store`'s staging
    /// files (`NAME#N`) and the temp files of earlier versions. S3 has none: a PUT is all or nothing.
    pub async fn temp_files(&self) -> io::Result<Vec<(PathBuf, SystemTime)>> {
        let Some(root) = self.local_root.clone() else { return Ok(Vec::new()) };
        tokio::task::spawn_blocking(move || location::unfinished_writes(&root)).await.map_err(io::Error::other)?
    }

    /// Removes one of [`Self::temp_files`]; refuses anything else.
    /// Judged by the path itself (not by listing the store again for every file removed).
    pub async fn remove_temp(&self, path: &std::path::Path) -> io::Result<()> {
        let ours = self.local_root.as_deref().is_some_and(|root| location::is_unfinished_write(root, path));
        if !ours {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an unfinished write of this store"));
        }
        tokio::fs::remove_file(path).await
    }
}

#[cfg(test)]
mod tests;
