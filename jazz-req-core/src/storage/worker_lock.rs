//! [`WorkerLock`]: one worker per store.
//!
//! Two workers on one store would each keep their own replay guard in memory, their own
//! `serialize` locks and their own view of what is stored: a request could run once in each,
//! and a check-then-write route could oversell. So a worker takes its store for itself when
//! it starts: an exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows, through
//! [`std::fs::File::try_lock`]) on a lock file next to the SQLite file. The operating system
//! releases it when the lock file is closed: when the worker (its last clone) is dropped, or
//! when its process ends in any way, a crash or `kill -9` included, so a restarted worker
//! never finds a stale lock. It works across processes and between two workers of one
//! process alike (each opens the file anew).
//!
//! Only workers take it: `jazz-req account create --store`, a tool that seeds a store
//! (`examples/seed_event.rs`) or a test reading a store open it as before, which SQLite
//! allows while a worker runs.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StorageError;

/// How long a worker starting on a store waits for the lock before it is refused: long enough
/// for a worker of the same process that is being dropped to let go (its last tasks end a
/// few milliseconds after the server stopped), short enough to refuse a second running
/// worker at once to a person.
pub const WORKER_LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// Between two attempts at the lock.
const RETRY_EVERY: Duration = Duration::from_millis(10);

/// A store taken by one worker; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct WorkerLock {
    /// Held open: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl WorkerLock {
    /// The lock file of the SQLite store `store`: `<store>-worker-lock`, next to SQLite's own
    /// `-wal` and `-shm` files.
    pub fn path_for(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push("-worker-lock");
        PathBuf::from(name)
    }

    /// Takes the lock of `store`, waiting up to [`WORKER_LOCK_PATIENCE`] for another holder
    /// to let go; [`StorageError::InUse`] if it does not.
    pub fn acquire(store: &Path) -> Result<Self, StorageError> {
        Self::acquire_within(store, WORKER_LOCK_PATIENCE)
    }

    /// [`WorkerLock::acquire`] waiting up to `patience`.
    pub fn acquire_within(store: &Path, patience: Duration) -> Result<Self, StorageError> {
        let path = Self::path_for(store);
        let failed = |source| StorageError::Lock {
            lock: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        let deadline = Instant::now() + patience;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(Self { _file: file, path });
                }
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(RETRY_EVERY);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StorageError::InUse {
                        store: store.to_path_buf(),
                        lock: path,
                    });
                }
                Err(TryLockError::Error(source)) => return Err(failed(source)),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() -> Outcome {
        let dir = std::env::temp_dir().join(format!("jazz-req-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let store = dir.join("worker.sqlite");
        let first = WorkerLock::acquire_within(&store, Duration::ZERO)?;
        assert_eq!(first.path(), WorkerLock::path_for(&store));
        let refused = WorkerLock::acquire_within(&store, Duration::from_millis(30))
            .err()
            .ok_or("a second holder was let in")?;
        assert!(
            matches!(&refused, StorageError::InUse { store: s, .. } if s == &store),
            "{refused}"
        );
        drop(first);
        WorkerLock::acquire_within(&store, Duration::ZERO)?;
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
