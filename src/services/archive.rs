//! Unpacking an uploaded dataset archive (.zip) safely: entries that would land outside the
//! target (`..`, absolute paths), symbolic links and special files are refused, and the total
//! unpacked size and entry count are bounded so a zip bomb cannot fill the disk.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::ServiceError;

pub const MAX_ARCHIVE_BYTES: usize = 2 * 1024 * 1024 * 1024;
pub const MAX_UNPACKED_BYTES: u64 = 8 * 1024 * 1024 * 1024;
pub const MAX_ENTRIES: usize = 200_000;

/// Streams an uploaded archive to `path` as it arrives, so that gigabytes never sit in memory.
/// More than [`MAX_ARCHIVE_BYTES`] is refused; on any error the partial file is removed.
/// Returns the bytes written (0 when the upload was empty).
pub async fn receive<B, E>(
    mut chunks: impl futures::Stream<Item = Result<B, E>> + Unpin,
    path: &Path,
    what: &str,
) -> Result<usize, ServiceError>
where
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let storage = |e: std::io::Error| ServiceError::Storage(format!("{}: {e}", path.display()));
    let written: Result<usize, ServiceError> = async {
        let mut file = tokio::fs::File::create(path).await.map_err(storage)?;
        let mut received = 0usize;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| ServiceError::InvalidInput(format!("the upload broke off: {e}")))?;
            received += chunk.as_ref().len();
            if received > MAX_ARCHIVE_BYTES {
                return Err(ServiceError::TooLarge(format!(
                    "{what} is larger than {} MB",
                    MAX_ARCHIVE_BYTES / 1024 / 1024
                )));
            }
            file.write_all(chunk.as_ref()).await.map_err(storage)?;
        }
        file.flush().await.map_err(storage)?;
        Ok(received)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    written
}

/// Unpacks `bytes` into `target` (created) and returns the dataset's root: `target` itself, or
/// the single folder the archive wraps everything in.
pub fn unpack_zip(bytes: &[u8], target: &Path) -> Result<PathBuf, String> {
    unpack(std::io::Cursor::new(bytes), target)
}

/// The same for an archive on disk (an upload streamed to a file, never held in memory).
pub fn unpack_zip_file(archive: &Path, target: &Path) -> Result<PathBuf, String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("cannot open the archive: {e}"))?;
    unpack(std::io::BufReader::new(file), target)
}

fn unpack(reader: impl Read + std::io::Seek, target: &Path) -> Result<PathBuf, String> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("not a readable .zip archive ({e})"))?;
    if zip.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    std::fs::create_dir_all(target).map_err(|e| e.to_string())?;
    let mut written = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("entry {i} is damaged ({e})"))?;
        let name = entry.name().to_string();
        // enclosed_name() is None for absolute paths and any `..` that climbs out.
        let Some(relative) = entry.enclosed_name() else {
            return Err(format!("entry {name:?} points outside the archive"));
        };
        if entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(format!("entry {name:?} is a symbolic link"));
        }
        let path = target.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut out = std::fs::File::create(&path).map_err(|e| format!("{name}: {e}"))?;
        // Counted as read, not as the header claims: headers can lie.
        let budget = MAX_UNPACKED_BYTES.saturating_sub(written) + 1;
        let copied = std::io::copy(&mut (&mut entry).take(budget), &mut out).map_err(|e| format!("{name}: {e}"))?;
        written += copied;
        if written > MAX_UNPACKED_BYTES {
            return Err(format!("unpacks to more than {} GB", MAX_UNPACKED_BYTES / 1024 / 1024 / 1024));
        }
    }
    let mut top = std::fs::read_dir(target)
        .map_err(|e| e.to_string())?
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with("__MACOSX"));
    match (top.next(), top.next()) {
        (Some(only), None)
            if only.path().is_dir() && !only.path().join("classes.txt").exists() && looks_wrapped(&only.path()) =>
        {
            Ok(only.path())
        }
        _ => Ok(target.to_path_buf()),
    }
}

/// A lone top folder wraps the dataset when it holds the dataset's own markers.
fn looks_wrapped(dir: &Path) -> bool {
    dir.join("classes.txt").exists()
        || ["train", "val", "test"].iter().any(|s| dir.join(s).is_dir())
        || std::fs::read_dir(dir).map(|d| d.flatten().all(|e| e.path().is_dir())).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            out.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("insectid-zip-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn unpacks_and_finds_the_wrapped_root() {
        let t = temp("ok");
        let root = unpack_zip(&zip_of(&[("set/train/moth/a.png", b"x"), ("set/val/moth/b.png", b"y")]), &t).unwrap();
        assert_eq!(root, t.join("set"));
        assert_eq!(std::fs::read(root.join("train/moth/a.png")).unwrap(), b"x");
        let t2 = temp("flat");
        assert_eq!(unpack_zip(&zip_of(&[("classes.txt", b"1 a\n"), ("train.txt", b"")]), &t2).unwrap(), t2);
        std::fs::remove_dir_all(t).ok();
        std::fs::remove_dir_all(t2).ok();
    }

    #[test]
    fn refuses_escapes_links_and_garbage() {
        let t = temp("bad");
        let err = unpack_zip(&zip_of(&[("../../evil.txt", b"x")]), &t).unwrap_err();
        assert!(err.contains("outside the archive"), "{err}");
        assert!(!t.parent().unwrap().join("evil.txt").exists());
        let err = unpack_zip(&zip_of(&[("/etc/cron.d/evil", b"x")]), &temp("abs")).unwrap_err();
        assert!(err.contains("outside the archive"), "{err}");
        let mut link = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        link.add_symlink("moth/link.png", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
        let err = unpack_zip(&link.finish().unwrap().into_inner(), &temp("link")).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(unpack_zip(b"PK\x03\x04 not really", &temp("junk")).unwrap_err().contains("not a readable .zip"));
        for tag in ["bad", "abs", "link", "junk"] {
            std::fs::remove_dir_all(temp(tag)).ok();
        }
    }
}
