//! A portal serving from a data directory holds a shared lock on `DATA_DIR/insectid.lock` for
//! as long as it runs. Tools that would be unsafe beside a running portal (a repair without a
//! grace period would remove a photo an upload has stored but not yet committed) look at it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// Shortest grace period a repair may use while a portal is running on the same data.
pub const MIN_GRACE_MINUTES_WHILE_RUNNING: u64 = 10;

/// Held while serving; the lock goes with the process.
pub struct Running {
    _file: File,
}

fn lock_file(data_dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(data_dir)?;
    OpenOptions::new().create(true).truncate(false).write(true).open(data_dir.join("insectid.lock"))
}

/// Marks the data directory as served by this process (several instances may share it).
pub fn hold(data_dir: &Path) -> std::io::Result<Running> {
    let file = lock_file(data_dir)?;
    file.lock_shared()?;
    Ok(Running { _file: file })
}

/// Whether a portal is serving from this data directory now.
pub fn portal_running(data_dir: &Path) -> std::io::Result<bool> {
    let file = lock_file(data_dir)?;
    match file.try_lock() {
        Ok(()) => {
            file.unlock()?;
            Ok(false)
        }
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_held_data_directory_is_seen_as_running_until_released() {
        let dir = std::env::temp_dir().join(format!("insectid-running-{}", std::process::id()));
        assert!(!super::portal_running(&dir).unwrap());
        let held = super::hold(&dir).unwrap();
        assert!(super::portal_running(&dir).unwrap());
        drop(held);
        assert!(!super::portal_running(&dir).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
