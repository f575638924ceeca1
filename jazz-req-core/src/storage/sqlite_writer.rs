//! The SQLite writer thread: one connection, fed by a channel. It takes everything queued,
//! runs it in one transaction, commits once (one fsync for the whole batch) and only then
//! answers every caller. A write that fails is rolled back alone (the batch runs again, each
//! write in its own savepoint: see `commit_batch`); a failed commit fails every write of the
//! batch.
//!
//! Releases nobody waits for ([`DeferredReleases`]) ride with the next batch instead of
//! waking the writer for a commit (and an fsync) of their own; when no batch comes within
//! about [`IDLE_RELEASE_AFTER`] (the writer looks every so often), they are committed alone,
//! and on shutdown after the last batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::StoreSummary;
use super::error::StorageError;
use super::sqlite_store::{PreparedContent, store_message, to_sql};
use crate::cojson::ContentMessage;

/// The most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// How long deferred releases wait for a batch to ride with before they are committed alone.
const IDLE_RELEASE_AFTER: Duration = Duration::from_secs(1);

/// Releases of claims that nobody waits for, kept until the writer's next commit.
#[derive(Debug, Default)]
pub(crate) struct DeferredReleases(Mutex<Vec<(String, Vec<String>)>>);

impl DeferredReleases {
    /// Adds a release of `keys` of `namespace` to the next commit.
    pub(crate) fn add(&self, namespace: &str, keys: Vec<String>) {
        // A list of plain values: a panic elsewhere while it was held leaves it whole.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((namespace.to_owned(), keys));
    }

    fn take(&self) -> Vec<Write> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
            .into_iter()
            .map(|(namespace, keys)| Write::Release { namespace, keys })
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// A write for the writer thread.
pub(crate) enum Write {
    /// Store content messages, all or nothing.
    Store(Vec<PreparedContent>),
    /// Store content messages and record claims, all or nothing.
    StoreWithClaims {
        /// The content (serialised by the writer, so that queueing it is cheap).
        content: Vec<ContentMessage>,
        /// The claims: (namespace, key, expires at).
        claims: Vec<super::Claim>,
        /// The current time (ms since the epoch).
        now_ms: u64,
    },
    /// Claim a key until an expiry, given the current time.
    Claim {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// When the claim expires (ms since the epoch).
        expires_at_ms: u64,
        /// The current time (ms since the epoch).
        now_ms: u64,
    },
    /// Remove these claims of a namespace.
    Release {
        /// The namespace.
        namespace: String,
        /// The keys.
        keys: Vec<String>,
    },
    /// Remove the claims expired at `now_ms`.
    Purge {
        /// The current time (ms since the epoch).
        now_ms: u64,
    },
}

/// What a write produced.
#[derive(Debug)]
pub(crate) enum Written {
    /// A store.
    Stored(StoreSummary),
    /// A claim: whether it was new.
    Claimed(bool),
    /// A purge or a release: how many claims were removed.
    Purged(usize),
}

/// A write and where to answer it.
pub(crate) struct Job {
    /// The write.
    pub write: Write,
    /// Who waits for the outcome.
    pub reply: Reply,
}

/// Where the outcome of a write goes once its batch is committed.
pub(crate) enum Reply {
    /// A caller blocked on a channel.
    Blocking(SyncSender<Result<Written, StorageError>>),
    /// A caller awaiting a store ([`super::PendingStore`]): no thread waits for it.
    Store(tokio::sync::oneshot::Sender<Result<StoreSummary, StorageError>>),
    /// Nobody (a write in the background): a failure is only logged.
    Nobody,
}

impl Reply {
    fn send(self, outcome: Result<Written, StorageError>) {
        // A caller that stopped waiting is no error of the writer.
        match self {
            Self::Blocking(reply) => {
                let _ = reply.send(outcome);
            }
            Self::Store(reply) => {
                let _ = reply.send(outcome.and_then(|written| match written {
                    Written::Stored(summary) => Ok(summary),
                    other => Err(unexpected(other)),
                }));
            }
            Self::Nobody => {
                if let Err(error) = outcome {
                    tracing::warn!(%error, "a background storage write failed");
                }
            }
        }
    }
}

/// A write answered with the wrong kind of outcome. The writer answers each write with its own
/// kind; anything else means the writer is broken, and it is treated as stopped.
pub(crate) fn unexpected(written: Written) -> StorageError {
    tracing::error!(
        ?written,
        "storage writer answered with the wrong kind of outcome"
    );
    StorageError::WriterStopped
}

/// Counters of the writer thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Writes received (stores, claims, purges).
    pub writes: u64,
    /// SQLite transactions committed (one fsync each).
    pub commits: u64,
}

/// The counters, shared between the writer thread and the storage.
#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    writes: AtomicU64,
    commits: AtomicU64,
}

impl SharedStats {
    /// A snapshot.
    pub(crate) fn get(&self) -> WriterStats {
        WriterStats {
            writes: self.writes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }
}

/// The writer thread's loop: runs until every sender is dropped (then commits the releases
/// still deferred).
pub(crate) fn run(
    mut connection: Connection,
    jobs: Receiver<Job>,
    stats: Arc<SharedStats>,
    deferred: Arc<DeferredReleases>,
) {
    loop {
        // Waking now and then even when idle: a release may have been deferred meanwhile.
        let first = match jobs.recv_timeout(IDLE_RELEASE_AFTER) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) if deferred.is_empty() => continue,
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch: Vec<Job> = first.into_iter().collect();
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_jobs(&mut connection, batch, &stats, &deferred);
    }
    if !deferred.is_empty() {
        commit_jobs(&mut connection, Vec::new(), &stats, &deferred);
    }
    tracing::debug!("storage writer stopped");
}

/// Commits `batch` and the deferred releases in one transaction, then answers each caller.
fn commit_jobs(
    connection: &mut Connection,
    mut batch: Vec<Job>,
    stats: &SharedStats,
    deferred: &DeferredReleases,
) {
    batch.extend(deferred.take().into_iter().map(|write| Job {
        write,
        reply: Reply::Nobody,
    }));
    let started = Instant::now();
    let outcomes = commit_batch(connection, batch.iter().map(|job| &job.write));
    stats
        .writes
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    stats.commits.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        writes = batch.len(),
        micros = started.elapsed().as_micros() as u64,
        "storage batch committed"
    );
    for (job, outcome) in batch.into_iter().zip(outcomes) {
        job.reply.send(outcome);
    }
}

/// Runs `writes` in one transaction and commits once. Every write usually succeeds, so they
/// first run one after the other with nothing between them; if one is refused, that
/// transaction is rolled back and the batch runs again with each write in its own savepoint,
/// so that the refused one changes nothing and the others still commit. (A savepoint per write
/// on every batch cost the writer a sub-journal copy of each page it touched.)
fn commit_batch<'a>(
    connection: &mut Connection,
    writes: impl ExactSizeIterator<Item = &'a Write> + Clone,
) -> Vec<Result<Written, StorageError>> {
    let count = writes.len();
    let attempt = in_transaction(connection, |transaction| {
        let mut outcomes = Vec::with_capacity(count);
        for write in writes.clone() {
            match execute(transaction, write) {
                Ok(written) => outcomes.push(Ok(written)),
                // Rolled back: the batch runs again, each write alone in a savepoint.
                Err(_) => return None,
            }
        }
        Some(outcomes)
    });
    match attempt {
        Ok(Some(outcomes)) => return outcomes,
        Ok(None) => {}
        Err(message) => return commit_failed(count, &message),
    }
    let attempt = in_transaction(connection, |transaction| {
        let mut outcomes = Vec::with_capacity(count);
        for write in writes {
            let outcome = transaction
                .savepoint()
                .map_err(StorageError::from)
                .and_then(|savepoint| {
                    // Dropping the savepoint without committing rolls it back.
                    let written = execute(&savepoint, write)?;
                    savepoint.commit()?;
                    Ok(written)
                });
            if let Err(error) = &outcome {
                tracing::debug!(%error, "storage write refused");
            }
            outcomes.push(outcome);
        }
        Some(outcomes)
    });
    match attempt {
        Ok(Some(outcomes)) => outcomes,
        // The body above always commits.
        Ok(None) => commit_failed(count, "rolled back"),
        Err(message) => commit_failed(count, &message),
    }
}

/// The outcome of every write of a batch whose transaction failed.
fn commit_failed(count: usize, message: &str) -> Vec<Result<Written, StorageError>> {
    (0..count)
        .map(|_| Err(StorageError::CommitFailed(message.to_owned())))
        .collect()
}

/// Runs `body` in an immediate transaction: committed when it returns `Some`, rolled back
/// when it returns `None`. `Err` is the message of a transaction that could not begin or
/// commit.
fn in_transaction<T>(
    connection: &mut Connection,
    body: impl FnOnce(&mut Transaction<'_>) -> Option<T>,
) -> Result<Option<T>, String> {
    let mut transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| {
            tracing::error!(%error, "could not begin a storage transaction");
            error.to_string()
        })?;
    match body(&mut transaction) {
        Some(outcome) => {
            transaction.commit().map_err(|error| {
                tracing::error!(%error, "storage commit failed");
                error.to_string()
            })?;
            Ok(Some(outcome))
        }
        // Dropping the transaction rolls it back.
        None => Ok(None),
    }
}

fn execute(connection: &Connection, write: &Write) -> Result<Written, StorageError> {
    match write {
        Write::Store(content) => {
            let mut summary = StoreSummary::default();
            for message in content {
                summary.add(store_message(connection, message)?);
            }
            Ok(Written::Stored(summary))
        }
        Write::StoreWithClaims {
            content,
            claims,
            now_ms,
        } => {
            let mut summary = StoreSummary::default();
            for message in content {
                summary.add(store_message(connection, &PreparedContent::new(message))?);
            }
            for c in claims {
                claim(connection, &c.namespace, &c.key, c.expires_at_ms, *now_ms)?;
            }
            Ok(Written::Stored(summary))
        }
        Write::Claim {
            namespace,
            key,
            expires_at_ms,
            now_ms,
        } => claim(connection, namespace, key, *expires_at_ms, *now_ms).map(Written::Claimed),
        Write::Release { namespace, keys } => {
            let mut statement = connection
                .prepare_cached("DELETE FROM claims WHERE namespace = ?1 AND key = ?2")?;
            let mut removed = 0;
            for key in keys {
                removed += statement.execute(params![namespace, key])?;
            }
            Ok(Written::Purged(removed))
        }
        Write::Purge { now_ms } => {
            let removed = connection
                .prepare_cached("DELETE FROM claims WHERE expires_at <= ?1")?
                .execute([to_sql(*now_ms)])?;
            Ok(Written::Purged(removed))
        }
    }
}

fn claim(
    connection: &Connection,
    namespace: &str,
    key: &str,
    expires_at_ms: u64,
    now_ms: u64,
) -> Result<bool, StorageError> {
    // Insert, or take over a claim that has expired; otherwise nothing changes.
    let changed = connection
        .prepare_cached(
            "INSERT INTO claims (namespace, key, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at
             WHERE claims.expires_at <= ?4",
        )?
        .execute(params![
            namespace,
            key,
            to_sql(expires_at_ms),
            to_sql(now_ms)
        ])?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::{Write, Written, commit_batch};
    use crate::cojson::node_write::Privacy;
    use crate::cojson::{ContentMessage, LocalNode};
    use crate::crypto::random::new_random_agent_secret;
    use crate::storage::error::StorageError;
    use crate::storage::sqlite_schema::open_writer;
    use crate::storage::sqlite_store::PreparedContent;

    type Outcome<T = ()> = Result<T, Box<dyn std::error::Error>>;

    /// A database file of its own, removed with its WAL when dropped.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new(name: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Self(std::env::temp_dir().join(format!(
                "jazz-req-writer-{name}-{}-{nanos}.db",
                std::process::id()
            )))
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// The messages of a new account with a map in its own group.
    fn some_content() -> Outcome<Vec<ContentMessage>> {
        let (mut node, _) = LocalNode::create_account(new_random_agent_secret()?, "Writer")?;
        node.batch(|node| {
            let group = node.create_group()?;
            node.create_map(&group, &[("n", json!(1))], Privacy::Trusting)
        })?;
        Ok(node.take_unsaved()?)
    }

    fn claim(key: &str) -> Write {
        Write::Claim {
            namespace: "test".into(),
            key: key.into(),
            expires_at_ms: 2_000,
            now_ms: 1_000,
        }
    }

    fn count(connection: &rusqlite::Connection, table: &str) -> Outcome<i64> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        Ok(connection.query_row(&sql, [], |row| row.get(0))?)
    }

    #[test]
    fn a_refused_write_changes_nothing_and_the_rest_of_its_batch_commits() -> Outcome {
        let db = TempDb::new("refused");
        let mut connection = open_writer(&db.0)?;
        let content = some_content()?;
        let last = content.last().ok_or("no content")?;
        // Everything but the last message, then the last without its header (its CoValue is
        // new): the first messages are written before the refusal, and must not stay.
        let mut headless = last.clone();
        headless.header = None;
        let mut refused: Vec<PreparedContent> = content[..content.len() - 1]
            .iter()
            .map(PreparedContent::new)
            .collect();
        refused.push(PreparedContent::new(&headless));
        let writes = [claim("a"), Write::Store(refused), claim("b")];
        let outcomes = commit_batch(&mut connection, writes.iter());
        assert!(matches!(outcomes[0], Ok(Written::Claimed(true))));
        assert!(
            matches!(outcomes[1], Err(StorageError::MissingHeader(ref id)) if *id == last.id),
            "{:?}",
            outcomes[1].as_ref().err()
        );
        assert!(matches!(outcomes[2], Ok(Written::Claimed(true))));
        assert_eq!(count(&connection, "claims")?, 2);
        assert_eq!(
            count(&connection, "covalues")?,
            0,
            "the refused store left rows"
        );

        // A batch where everything is taken commits all of it, claims seen as taken.
        let stored: Vec<PreparedContent> = content.iter().map(PreparedContent::new).collect();
        let writes = [claim("a"), Write::Store(stored), claim("c")];
        let outcomes = commit_batch(&mut connection, writes.iter());
        assert!(matches!(outcomes[0], Ok(Written::Claimed(false))));
        assert!(matches!(outcomes[1], Ok(Written::Stored(_))));
        assert!(matches!(outcomes[2], Ok(Written::Claimed(true))));
        assert_eq!(count(&connection, "claims")?, 3);
        assert_eq!(count(&connection, "covalues")? as usize, content.len());
        Ok(())
    }
}
