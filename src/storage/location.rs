//! Where the file store lives, as configured (`INSECTID_FILE_STORE`): a local directory, or an
//! S3-compatible bucket (`s3://bucket[/prefix]`, credentials and endpoint from the standard
//! `AWS_*` variables: AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//! AWS_ALLOW_HTTP).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Local(dir) => write!(f, "{}", dir.display()),
            StoreLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl std::str::FromStr for StoreLocation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
            if !valid_bucket {
                return Err(format!("{s:?}: an S3 bucket name is 3 to 63 lower-case letters, digits, dots or dashes"));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|part| part.is_empty() || part == "." || part == "..") && !prefix.is_empty() {
                return Err(format!("{s:?}: the prefix after the bucket has an empty, '.' or '..' part"));
            }
            return Ok(StoreLocation::S3 { bucket: bucket.into(), prefix: prefix.into() });
        }
        if let Some(path) = s.strip_prefix("file://") {
            return Ok(StoreLocation::Local(PathBuf::from(path)));
        }
        if s.is_empty() || s.contains("://") {
            return Err(format!("{s:?} is neither a directory nor s3://bucket[/prefix]"));
        }
        Ok(StoreLocation::Local(PathBuf::from(s)))
    }
}

impl StoreLocation {
    /// The object store, and the directory behind it when it is local; S3 settings from `s3`.
    pub(super) fn connect_with(&self, s3: AmazonS3Builder) -> io::Result<(Arc<dyn ObjectStore>, Option<PathBuf>)> {
        match self {
            StoreLocation::Local(dir) => {
                std::fs::create_dir_all(dir.join("sha256"))?;
                let root = dir.canonicalize()?;
                // fsync: the photo must be on the disk before the row that names it commits.
                let local = LocalFileSystem::new_with_prefix(&root)
                    .map_err(|e| io::Error::other(e.to_string()))?
                    .with_fsync(true);
                Ok((Arc::new(local), Some(root)))
            }
            StoreLocation::S3 { bucket, prefix } => {
                // reqwest is built without a default TLS provider; ring is the one the tree uses.
                let _ = rustls::crypto::ring::default_provider().install_default();
                // An upload waits on the store: give up within seconds, not the default minutes.
                let retry =
                    RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(10), ..Default::default() };
                // Set key by key: replacing the client options would drop AWS_ALLOW_HTTP and the like.
                let s3 = s3
                    .with_bucket_name(bucket)
                    .with_retry(retry)
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "5s")
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "60s")
                    .build()
                    .map_err(|e| io::Error::other(format!("S3 store {self}: {e}")))?;
                let store: Arc<dyn ObjectStore> =
                    if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix.as_str())) };
                Ok((store, None))
            }
        }
    }
}

/// Files a crash left in a local store: staging files (`NAME#N`, which `object_store` writes
/// and renames) anywhere, and anything in `tmp/` (where versions before it staged uploads).
pub(super) fn unfinished_writes(root: &Path) -> io::Result<Vec<(PathBuf, SystemTime)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else if is_unfinished_write(root, &entry.path()) {
                out.push((entry.path(), entry.metadata()?.modified()?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `path` is one of [`unfinished_writes`]: inside the root and a staging file or in `tmp/`.
pub(super) fn is_unfinished_write(root: &Path, path: &Path) -> bool {
    let Ok(inside) = path.strip_prefix(root) else { return false };
    let parts: Vec<_> = inside.components().collect();
    let no_escape = parts.iter().all(|c| matches!(c, std::path::Component::Normal(_)));
    let staged = path.file_name().is_some_and(|n| n.to_string_lossy().contains('#'));
    let in_tmp = parts.len() == 2 && parts[0].as_os_str() == "tmp";
    no_escape && (staged || in_tmp)
}
