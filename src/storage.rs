//! Uploaded photos, stored once by content (sha256) under the data directory.
//!
//! A photo is written to a temporary file, fsynced and renamed into place before any database
//! row refers to it, so a crash leaves at worst an unreferenced file, never a row without one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 256;

#[derive(Debug, Clone)]
pub struct PhotoStore {
    root: PathBuf,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl PhotoStore {
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("tmp"))?;
        fs::create_dir_all(root.join("sha256"))?;
        Ok(PhotoStore { root })
    }

    /// Where the photo with this digest lives; None for anything that is not a digest.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256(sha256).then(|| self.root.join("sha256").join(&sha256[..2]).join(sha256))
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_some_and(|p| p.is_file())
    }

    /// Stores the bytes (once; identical uploads share one file) and returns their digest.
    pub fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let sha = sha256_hex(bytes);
        let Some(target) = self.path(&sha) else {
            return Err(io::Error::other("digest is not hex"));
        };
        if target.is_file() {
            return Ok(sha);
        }
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir)?;
        // Unique per write: two uploads of the same photo at once must not share a temp file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.root.join("tmp").join(format!("{sha}.{}.{n}", std::process::id()));
        {
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &target)?;
        sync_dir(&dir)?;
        Ok(sha)
    }

    /// Removes a stored photo; a photo that is not there is not an error.
    pub fn remove(&self, sha256: &str) -> io::Result<()> {
        match self.path(sha256) {
            Some(p) => {
                let thumb = self.root.join("thumbs").join(&sha256[..2]).join(format!("{sha256}.jpg"));
                let _ = fs::remove_file(thumb);
                match fs::remove_file(p) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                }
            }
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 digest")),
        }
    }

    /// A small JPEG of the photo (longest side `THUMB_SIDE`), made on first request and kept.
    pub fn thumbnail(&self, sha256: &str) -> io::Result<Vec<u8>> {
        let Some(source) = self.path(sha256) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 digest"));
        };
        let thumb = self.root.join("thumbs").join(&sha256[..2]).join(format!("{sha256}.jpg"));
        if let Ok(bytes) = fs::read(&thumb) {
            return Ok(bytes);
        }
        let bytes = fs::read(source)?;
        let image = crate::inference::preprocess::decode(&bytes, Some(THUMB_SIDE)).map_err(io::Error::other)?;
        let small = image.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
        let mut out = std::io::Cursor::new(Vec::new());
        small.write_to(&mut out, image::ImageFormat::Jpeg).map_err(io::Error::other)?;
        let out = out.into_inner();
        if let Some(dir) = thumb.parent() {
            fs::create_dir_all(dir)?;
        }
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.root.join("tmp").join(format!("{sha256}.thumb.{}.{n}", std::process::id()));
        fs::write(&tmp, &out)?;
        fs::rename(&tmp, &thumb)?;
        Ok(out)
    }

    /// Every stored photo's digest with the time it was written.
    pub fn list(&self) -> io::Result<Vec<(String, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for shard in fs::read_dir(self.root.join("sha256"))? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(shard.path())? {
                let file = file?;
                let name = file.file_name().to_string_lossy().into_owned();
                if is_sha256(&name) {
                    out.push((name, file.metadata()?.modified()?));
                }
            }
        }
        Ok(out)
    }

    /// Files left in the temp folder by writes that never finished (a crash mid-upload).
    pub fn temp_files(&self) -> io::Result<Vec<(PathBuf, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for file in fs::read_dir(self.root.join("tmp"))? {
            let file = file?;
            out.push((file.path(), file.metadata()?.modified()?));
        }
        Ok(out)
    }

    pub fn read(&self, sha256: &str) -> io::Result<Vec<u8>> {
        match self.path(sha256) {
            Some(p) => fs::read(p),
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a sha256 digest")),
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_stored_once_by_content() {
        let root = std::env::temp_dir().join(format!("insectid-store-{}", std::process::id()));
        let store = PhotoStore::open(&root).unwrap();
        let a = store.put(b"photo one").unwrap();
        assert_eq!(a, sha256_hex(b"photo one"));
        assert_eq!(store.put(b"photo one").unwrap(), a);
        assert!(store.contains(&a));
        assert_eq!(store.read(&a).unwrap(), b"photo one");
        assert!(store.path(&a).unwrap().starts_with(root.join("sha256").join(&a[..2])));
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0, "no temporary file left");
        assert!(store.path("../../etc/passwd").is_none());
        assert!(!store.contains(&"0".repeat(64)));
        fs::remove_dir_all(root).ok();
    }

    #[test]
    fn thumbnails_are_made_once_and_go_with_the_photo() {
        let root = std::env::temp_dir().join(format!("insectid-thumb-{}", std::process::id()));
        let store = PhotoStore::open(&root).unwrap();
        let mut png = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(1200, 600, image::Rgb([10, 200, 30])))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let sha = store.put(png.get_ref()).unwrap();
        let thumb = store.thumbnail(&sha).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
        let cached = root.join("thumbs").join(&sha[..2]).join(format!("{sha}.jpg"));
        assert!(cached.is_file());
        assert_eq!(store.thumbnail(&sha).unwrap(), thumb, "served from the cache");
        store.remove(&sha).unwrap();
        assert!(!cached.exists(), "removed with the photo");
        assert!(store.thumbnail(&sha).is_err());
        fs::remove_dir_all(root).ok();
    }

    #[test]
    fn the_same_photo_stored_from_many_threads_at_once_is_no_error() {
        let root = std::env::temp_dir().join(format!("insectid-store-race-{}", std::process::id()));
        let store = PhotoStore::open(&root).unwrap();
        let photo = vec![7u8; 256 * 1024];
        let results: Vec<io::Result<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16).map(|_| s.spawn(|| store.put(&photo))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(results.iter().all(|r| r.as_ref().is_ok_and(|sha| *sha == sha256_hex(&photo))), "{results:?}");
        assert_eq!(store.read(&sha256_hex(&photo)).unwrap(), photo);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        fs::remove_dir_all(root).ok();
    }
}
