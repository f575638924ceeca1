//! [`SqliteStorage`]: the embedded store, one SQLite file in WAL mode.
//!
//! Writes go to one writer thread (see `sqlite_writer`), which commits everything queued in
//! one transaction; callers block until the transaction holding their write is committed.
//! Reads use their own read-only connections, taken from a small pool, so they never wait
//! for the writer.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::pieces::LoadedCoValue;
use super::sqlite_store::PreparedContent;
use super::sqlite_writer::{
    DeferredReleases, Job, Reply, SharedStats, Write, WriterStats, Written, unexpected,
};
use super::{PendingStore, Storage, StorageError, StoreSummary, sqlite_read, sqlite_schema};
use crate::cojson::clock::now_ms;
use crate::cojson::{ContentMessage, KnownState};
use crate::crypto::CoID;

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

/// A [`Storage`] in one SQLite file.
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    jobs: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: Mutex<Vec<Connection>>,
    stats: Arc<SharedStats>,
    deferred: Arc<DeferredReleases>,
}

impl SqliteStorage {
    /// Opens (or creates) the database at `path` and starts its writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let path = path.as_ref().to_path_buf();
        let connection = sqlite_schema::open_writer(&path)?;
        let (jobs, receiver) = mpsc::channel();
        let stats = Arc::new(SharedStats::default());
        let writer_stats = Arc::clone(&stats);
        let deferred = Arc::new(DeferredReleases::default());
        let writer_deferred = Arc::clone(&deferred);
        let writer = std::thread::Builder::new()
            .name("jazz-req-sqlite-writer".into())
            .spawn(move || {
                super::sqlite_writer::run(connection, receiver, writer_stats, writer_deferred);
            })
            .map_err(|e| StorageError::CommitFailed(format!("starting the writer thread: {e}")))?;
        tracing::info!(path = %path.display(), "opened SQLite storage");
        Ok(Self {
            path,
            jobs: Some(jobs),
            writer: Some(writer),
            readers: Mutex::new(Vec::new()),
            stats,
            deferred,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many writes the writer received and how many transactions it committed.
    pub fn writer_stats(&self) -> WriterStats {
        self.stats.get()
    }

    /// Sends `write` to the writer thread and waits until its batch is committed.
    fn write(&self, write: Write) -> Result<Written, StorageError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit(write, Reply::Blocking(reply))?;
        answer.recv().map_err(|_| StorageError::WriterStopped)?
    }

    /// Queues `write` for the writer thread (writes are committed in the order queued), its
    /// outcome to go to `reply`.
    fn submit(&self, write: Write, reply: Reply) -> Result<(), StorageError> {
        let jobs = self.jobs.as_ref().ok_or(StorageError::WriterStopped)?;
        jobs.send(Job { write, reply })
            .map_err(|_| StorageError::WriterStopped)
    }

    /// Runs `read` on a pooled read-only connection.
    fn read<T>(
        &self,
        read: impl FnOnce(&mut Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| StorageError::Poisoned)?
            .pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => sqlite_schema::open_reader(&self.path)?,
        };
        let outcome = read(&mut connection);
        // A connection is returned only when it is not left inside a transaction.
        if connection.is_autocommit() {
            let mut idle = self.readers.lock().map_err(|_| StorageError::Poisoned)?;
            if idle.len() < MAX_IDLE_READERS {
                idle.push(connection);
            }
        }
        outcome
    }

    fn loaded(&self, id: &CoID) -> Result<Option<LoadedCoValue>, StorageError> {
        self.read(|connection| sqlite_read::load(connection, id))
    }
}

impl Storage for SqliteStorage {
    fn store(&self, content: &[ContentMessage]) -> Result<StoreSummary, StorageError> {
        let prepared = content.iter().map(PreparedContent::new).collect();
        match self.write(Write::Store(prepared))? {
            Written::Stored(summary) => Ok(summary),
            other => Err(unexpected(other)),
        }
    }

    fn load(&self, id: &CoID) -> Result<Option<Vec<ContentMessage>>, StorageError> {
        Ok(self.loaded(id)?.map(LoadedCoValue::into_messages))
    }

    fn known_state(&self, id: &CoID) -> Result<Option<KnownState>, StorageError> {
        self.read(|connection| sqlite_read::known_state(connection, id))
    }

    fn ids(&self) -> Result<Vec<CoID>, StorageError> {
        self.read(|connection| sqlite_read::ids(connection))
    }

    fn claim(&self, namespace: &str, key: &str, expires_at_ms: u64) -> Result<bool, StorageError> {
        let write = Write::Claim {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            expires_at_ms,
            now_ms: now_ms(),
        };
        match self.write(write)? {
            Written::Claimed(claimed) => Ok(claimed),
            other => Err(unexpected(other)),
        }
    }

    fn store_with_claims(
        &self,
        content: &[ContentMessage],
        claims: &[super::Claim],
    ) -> Result<StoreSummary, StorageError> {
        let write = Write::StoreWithClaims {
            content: content.to_vec(),
            claims: claims.to_vec(),
            now_ms: now_ms(),
        };
        match self.write(write)? {
            Written::Stored(summary) => Ok(summary),
            other => Err(unexpected(other)),
        }
    }

    fn submit_with_claims(
        &self,
        content: Vec<ContentMessage>,
        claims: Vec<super::Claim>,
    ) -> PendingStore {
        // The writer thread serialises the content: the caller (who may hold a lock to keep
        // the order of its submissions) only queues it.
        let write = Write::StoreWithClaims {
            content,
            claims,
            now_ms: now_ms(),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        match self.submit(write, Reply::Store(reply)) {
            Ok(()) => PendingStore::awaiting(answer),
            Err(error) => PendingStore::done(Err(error)),
        }
    }

    fn live_claims(
        &self,
        namespace: &str,
        now_ms: u64,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        self.read(|connection| sqlite_read::live_claims(connection, namespace, now_ms))
    }

    fn release(&self, namespace: &str, keys: &[String]) -> Result<usize, StorageError> {
        let write = Write::Release {
            namespace: namespace.to_owned(),
            keys: keys.to_vec(),
        };
        match self.write(write)? {
            Written::Purged(removed) => Ok(removed),
            other => Err(unexpected(other)),
        }
    }

    fn release_in_background(&self, namespace: &str, keys: Vec<String>) {
        // Committed with whatever the writer commits next (alone after a second without
        // writes); nobody waits for it.
        self.deferred.add(namespace, keys);
    }

    fn lock_for_worker(&self) -> Result<Option<super::WorkerLock>, StorageError> {
        super::WorkerLock::acquire(&self.path).map(Some)
    }

    fn purge_expired(&self, now_ms: u64) -> Result<usize, StorageError> {
        match self.write(Write::Purge { now_ms })? {
            Written::Purged(removed) => Ok(removed),
            other => Err(unexpected(other)),
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop once it has committed what is queued.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the SQLite writer thread panicked");
        }
    }
}
