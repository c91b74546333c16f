//! One engine per data folder. Two engines on one folder (the tray app and
//! `--headless`, or two headless runs) would both poll Aircall, both
//! dispatch the same outbox and both refresh the same rotating tokens, so
//! the second one is refused. The lock is the operating system's (an
//! advisory lock on a file in the folder): it goes with the process, even
//! after a crash, so a stale lock cannot keep the app from starting.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a start waits for the folder before refusing: long enough for a
/// restarting app (the connect window's last step) to let go of it.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another Callcard is already running with the data folder {0} \
         (quit it first, or give this one its own CALLCARD_HOME)"
    )]
    InUse(PathBuf),
    #[error("cannot lock the data folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the engine runs; dropping it frees the folder.
#[derive(Debug)]
pub struct DataFolderLock {
    _file: File,
}

impl DataFolderLock {
    /// Takes the folder's lock, waiting up to [`LOCK_WAIT`] for another
    /// process to let go of it.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        Self::acquire_within(data_dir, LOCK_WAIT)
    }

    pub fn acquire_within(data_dir: &Path, wait: Duration) -> Result<Self, LockError> {
        let path = data_dir.join("callcard.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => return Err(LockError::InUse(data_dir.to_owned())),
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataFolderLock::acquire_within(dir.path(), Duration::ZERO).unwrap();
        let second = DataFolderLock::acquire_within(dir.path(), Duration::from_millis(300));
        assert!(matches!(second, Err(LockError::InUse(_))), "{second:?}");
        drop(first);
        DataFolderLock::acquire_within(dir.path(), Duration::ZERO).unwrap();
    }

    #[test]
    fn another_folder_is_not_affected() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let _first = DataFolderLock::acquire_within(a.path(), Duration::ZERO).unwrap();
        DataFolderLock::acquire_within(b.path(), Duration::ZERO).unwrap();
    }
}
