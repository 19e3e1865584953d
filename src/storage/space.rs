//! A reserve of free disk space: below it, uploads and imports are refused with a clear
//! message (507) while everything else keeps working, so a full disk never stops the
//! database that shares it.

use std::path::PathBuf;

use crate::ServiceError;

const MB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct DiskReserve {
    /// Directories whose file systems must keep the reserve (the data directory, a local
    /// photo store elsewhere).
    pub paths: Vec<PathBuf>,
    pub reserve_bytes: u64,
}

/// Bytes free for an unprivileged writer on the file system holding `path`.
// The conversions are no-ops on 64-bit Linux, not where statvfs's counts are 32 bits.
#[allow(clippy::useless_conversion)]
pub fn available_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let stats = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    Ok(u64::from(stats.blocks_available()).saturating_mul(u64::from(stats.fragment_size())))
}

impl DiskReserve {
    pub fn new(paths: Vec<PathBuf>, reserve_mb: u64) -> Self {
        DiskReserve { paths, reserve_bytes: reserve_mb.saturating_mul(MB) }
    }

    /// Refuses when a watched file system has less free than the reserve. A path that cannot
    /// be measured (not created yet) does not refuse.
    pub fn check(&self) -> Result<(), ServiceError> {
        if self.reserve_bytes == 0 {
            return Ok(());
        }
        for path in &self.paths {
            let Ok(free) = available_bytes(path) else { continue };
            if free < self.reserve_bytes {
                metrics::counter!("insectid_disk_reserve_refusals_total").increment(1);
                return Err(ServiceError::InsufficientStorage(format!(
                    "the server's disk is nearly full ({} MB free, {} MB kept in reserve): uploads and imports are refused until an administrator frees space",
                    free / MB,
                    self.reserve_bytes / MB
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_none_admits() {
        let here = std::env::temp_dir();
        let free = available_bytes(&here).unwrap();
        assert!(free > 0);
        let full = DiskReserve { paths: vec![here.clone()], reserve_bytes: free.saturating_mul(2).max(1) };
        let refused = full.check().unwrap_err();
        assert_eq!(refused.kind(), crate::error::ErrorKind::InsufficientStorage);
        assert!(refused.to_string().contains("nearly full"), "{refused}");
        assert!(DiskReserve::new(vec![here], 0).check().is_ok(), "no reserve, no refusal");
    }
}
