//! Errors of the storage layer: content that cannot be stored (a gap, no header), rows that
//! do not parse back (a corrupt database), and SQLite failures.
//!
//! Nothing in the storage layer panics on input or on what it reads back.

use thiserror::Error;

use crate::crypto::{CoID, SessionID};

/// What went wrong storing or loading.
#[derive(Debug, Error)]
pub enum StorageError {
    /// Content for a CoValue that is not stored came without its header.
    #[error("content for {0} has no header and the CoValue is not stored")]
    MissingHeader(CoID),
    /// A header that does not hash to the id it was given with.
    #[error("header given for {expected} hashes to {actual}")]
    HeaderMismatch {
        /// The id of the content message.
        expected: CoID,
        /// The id the header hashes to.
        actual: CoID,
    },
    /// Content that starts after transactions the store does not have.
    #[error(
        "gap in session {session} of {id}: {stored} transactions stored, content starts after {after}"
    )]
    Gap {
        /// The CoValue.
        id: CoID,
        /// The session.
        session: Box<SessionID>,
        /// How many transactions of the session are stored.
        stored: usize,
        /// How many transactions the content says precede it.
        after: usize,
    },
    /// A stored row that does not parse back (the database was altered or damaged).
    #[error("corrupt {table} row ({row}): {reason}")]
    Corrupt {
        /// The table (or, for [`super::MemoryStorage`], the structure).
        table: &'static str,
        /// Which row: the CoValue id, session and index as far as known.
        row: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database was written by a newer version of this schema.
    #[error("database schema version {found} is not supported (this build knows {supported})")]
    UnsupportedSchema {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// An SQLite call failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The commit of a batch failed: every write of the batch was lost, none is stored.
    #[error("SQLite commit failed: {0}")]
    CommitFailed(String),
    /// The writer thread has stopped (it panicked or the storage is shutting down).
    #[error("the storage writer has stopped")]
    WriterStopped,
    /// A lock was poisoned by a thread that panicked while holding it.
    #[error("a storage lock is poisoned")]
    Poisoned,
    /// Another worker (in this process or another one) is running on this store: one worker
    /// per store (see [`super::WorkerLock`]).
    #[error(
        "the store {} is in use by another worker (one worker per store: stop that one first; it holds {})",
        .store.display(),
        .lock.display()
    )]
    InUse {
        /// The store.
        store: std::path::PathBuf,
        /// The lock file the other worker holds.
        lock: std::path::PathBuf,
    },
    /// The lock file of a store could not be created or locked.
    #[error("could not take the worker lock {}: {source}", .lock.display())]
    Lock {
        /// The lock file.
        lock: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    /// A corrupt-row error.
    pub(crate) fn corrupt(
        table: &'static str,
        row: impl Into<String>,
        reason: impl ToString,
    ) -> Self {
        Self::Corrupt {
            table,
            row: row.into(),
            reason: reason.to_string(),
        }
    }
}
