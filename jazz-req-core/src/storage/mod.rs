//! Storage of CoValues and small runtime records: a [`Storage`] trait with an embedded
//! SQLite backend ([`SqliteStorage`], the default of a worker) and an in-memory one
//! ([`MemoryStorage`], for tests and ephemeral workers).
//!
//! The unit of storing is content: the [`ContentMessage`]s a node has just verified and
//! applied, or what it wrote itself ([`Storage::store_value`]). A store is durable when it
//! returns. Loading gives content messages again, ready for
//! [`LocalNode::import`](crate::cojson::LocalNode::import): the header first, and each
//! session split at stored checkpoint signatures so that every piece verifies.
//!
//! Storage does not verify signatures: it keeps what the node accepted, transactions as
//! their exact wire text.
//!
//! The API is blocking. An async worker calls it through `spawn_blocking`; the SQLite backend
//! sends every write to one writer thread that commits everything queued in one transaction
//! (group commit), so concurrent stores share one fsync.

mod error;
mod memory;
mod pending;
mod pieces;
mod plan;
mod sqlite;
mod sqlite_read;
mod sqlite_schema;
mod sqlite_store;
mod sqlite_writer;
mod worker_lock;

pub use error::StorageError;
pub use memory::MemoryStorage;
pub use pending::PendingStore;
pub use sqlite::SqliteStorage;
pub use sqlite_writer::WriterStats;
pub use worker_lock::{WORKER_LOCK_PATIENCE, WorkerLock};

use crate::cojson::{ContentMessage, KnownState, VerifiedCoValue};
use crate::crypto::CoID;

/// What one store added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreSummary {
    /// CoValues stored for the first time (their header).
    pub covalues_created: usize,
    /// Transactions appended (those already stored are skipped).
    pub transactions_added: usize,
}

impl StoreSummary {
    /// Adds `other` to this summary.
    pub fn add(&mut self, other: Self) {
        self.covalues_created += other.covalues_created;
        self.transactions_added += other.transactions_added;
    }
}

/// A claim to record with [`Storage::store_with_claims`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The namespace (e.g. request ids).
    pub namespace: String,
    /// The key claimed.
    pub key: String,
    /// When the claim expires (ms since the epoch, system clock).
    pub expires_at_ms: u64,
}

/// Where a node keeps its CoValues and small runtime records.
pub trait Storage: Send + Sync {
    /// Stores content messages, in order, all or nothing; durable when it returns.
    ///
    /// Messages may concern several CoValues. A CoValue not yet stored needs its header in
    /// its first message. Transactions already stored are skipped; content that starts after
    /// transactions the store lacks is a [`StorageError::Gap`]. Each session keeps the
    /// message's `lastSignature`, and remembers it as a checkpoint once more than
    /// `MAX_RECOMMENDED_TX_SIZE` bytes accumulated since the previous one.
    fn store(&self, content: &[ContentMessage]) -> Result<StoreSummary, StorageError>;

    /// Everything stored of `id` as content messages to import in order (the header in the
    /// first), or `None` when `id` is not stored.
    fn load(&self, id: &CoID) -> Result<Option<Vec<ContentMessage>>, StorageError>;

    /// What is stored of `id`, or `None` when it is not stored.
    fn known_state(&self, id: &CoID) -> Result<Option<KnownState>, StorageError>;

    /// The ids of the stored CoValues, in the order they were first stored.
    fn ids(&self) -> Result<Vec<CoID>, StorageError>;

    /// Claims `key` in `namespace` until `expires_at_ms` (ms since the epoch): `true` if this
    /// call claimed it, `false` if it is already claimed and not expired. A claim whose
    /// expiry has passed (by the system clock) counts as absent. Atomic: of concurrent
    /// claims of one key exactly one gets `true`. Durable when it returns.
    fn claim(&self, namespace: &str, key: &str, expires_at_ms: u64) -> Result<bool, StorageError>;

    /// Removes the claims `keys` of `namespace` (expired or not); returns how many there were.
    fn release(&self, namespace: &str, keys: &[String]) -> Result<usize, StorageError>;

    /// Removes the claims `keys` of `namespace` without waiting: with the next commit where
    /// the store batches its writes (a release that is lost with a crash leaves the claims
    /// as they were). A failure is logged. The default releases now.
    fn release_in_background(&self, namespace: &str, keys: Vec<String>) {
        if let Err(error) = self.release(namespace, &keys) {
            tracing::warn!(%error, "could not release claims");
        }
    }

    /// Removes the claims that expire at or before `now_ms`; returns how many.
    fn purge_expired(&self, now_ms: u64) -> Result<usize, StorageError>;

    /// The claims of `namespace` that expire after `now_ms`, as `(key, expires_at_ms)`.
    fn live_claims(&self, namespace: &str, now_ms: u64)
    -> Result<Vec<(String, u64)>, StorageError>;

    /// Stores `content` and records `claims` in one durable step (one commit where the store
    /// can): what a worker answering a request makes durable before the answer leaves. A
    /// claim already held and not expired is kept as it is (the caller decided it was its
    /// own, from memory). The default stores, then claims.
    fn store_with_claims(
        &self,
        content: &[ContentMessage],
        claims: &[Claim],
    ) -> Result<StoreSummary, StorageError> {
        let summary = if content.is_empty() {
            StoreSummary::default()
        } else {
            self.store(content)?
        };
        for claim in claims {
            self.claim(&claim.namespace, &claim.key, claim.expires_at_ms)?;
        }
        Ok(summary)
    }

    /// Hands `content` and `claims` to the storage as one durable step, like
    /// [`Storage::store_with_claims`], and returns without waiting for it:
    /// [`PendingStore::finished`] says when it is durable. Steps become durable in the order they
    /// were submitted (one never lands before one submitted earlier; a failed step does not
    /// stop later ones), so a caller that takes content and submits it under one lock keeps
    /// the order it took it in. The default does the whole step now.
    fn submit_with_claims(&self, content: Vec<ContentMessage>, claims: Vec<Claim>) -> PendingStore {
        PendingStore::done(self.store_with_claims(&content, &claims))
    }

    /// Takes this store for one worker, for as long as the returned lock is held: a second
    /// worker on the same store (in this process or another) is refused with
    /// [`StorageError::InUse`] (see [`WorkerLock`]). `Ok(None)`: the store needs no lock.
    /// The default takes none ([`MemoryStorage`] lives in one process, with whoever made it);
    /// [`SqliteStorage`] locks a file next to its database.
    fn lock_for_worker(&self) -> Result<Option<WorkerLock>, StorageError> {
        Ok(None)
    }

    /// Stores what `value` has beyond what is stored of it (e.g. transactions the node wrote
    /// with [`VerifiedCoValue::append_own`]), split at its checkpoints.
    fn store_value(&self, value: &VerifiedCoValue) -> Result<StoreSummary, StorageError> {
        let known = self.known_state(value.id())?;
        let content = value.new_content_since(known.as_ref());
        if content.is_empty() {
            return Ok(StoreSummary::default());
        }
        self.store(&content)
    }
}

impl std::fmt::Debug for dyn Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Storage")
    }
}
