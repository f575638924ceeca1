//! The SQLite schema (version 1) and opening connections.
//!
//! ```sql
//! schema_version(version)                       -- one row
//! covalues(row_id, id UNIQUE, header)           -- header: canonical JSON text
//! sessions(row_id, covalue, session_id, tx_count, last_signature, bytes_since_checkpoint)
//! transactions(session, idx, tx)                -- tx: exact wire JSON text
//! signature_after(session, idx, signature)      -- checkpoints
//! claims(namespace, key, expires_at)            -- small runtime records
//! ```
//!
//! Sessions are read back in `row_id` order, which is the order they were first stored.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::error::StorageError;

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS covalues (
    row_id INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    header TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    row_id INTEGER PRIMARY KEY,
    covalue INTEGER NOT NULL REFERENCES covalues(row_id),
    session_id TEXT NOT NULL,
    tx_count INTEGER NOT NULL,
    last_signature TEXT NOT NULL,
    bytes_since_checkpoint INTEGER NOT NULL,
    UNIQUE (covalue, session_id)
);
CREATE TABLE IF NOT EXISTS transactions (
    session INTEGER NOT NULL REFERENCES sessions(row_id),
    idx INTEGER NOT NULL,
    tx TEXT NOT NULL,
    PRIMARY KEY (session, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signature_after (
    session INTEGER NOT NULL REFERENCES sessions(row_id),
    idx INTEGER NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (session, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS claims (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
";

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the writer connection: creates the file and schema if needed, checks the version,
/// and sets WAL mode with full sync (a commit is durable when it returns). Savepoint journals
/// stay in memory (they only ever serve a rollback within the open transaction).
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StorageError> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite did not switch to WAL mode");
    }
    connection.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
    )?;
    migrate(&connection)?;
    Ok(connection)
}

/// Opens a read-only connection to a database the writer has set up.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StorageError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

fn migrate(connection: &Connection) -> Result<(), StorageError> {
    connection.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA}"))?;
    let outcome = check_version(connection);
    match outcome {
        Ok(()) => connection.execute_batch("COMMIT")?,
        Err(_) => connection.execute_batch("ROLLBACK")?,
    }
    outcome
}

fn check_version(connection: &Connection) -> Result<(), StorageError> {
    let found: Option<i64> = connection
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    match found {
        None => {
            connection.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )?;
            tracing::info!(version = SCHEMA_VERSION, "created storage schema");
            Ok(())
        }
        Some(version) if version == SCHEMA_VERSION => Ok(()),
        Some(found) => Err(StorageError::UnsupportedSchema {
            found,
            supported: SCHEMA_VERSION,
        }),
    }
}
