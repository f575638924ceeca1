//! Reads and writes through the worker outside a request (setting an app up: its first
//! CoValues; an admin task; a test looking inside): a write is **durable when the call
//! returns**.
//!
//! [`RequestWorker::with_node`] and [`RequestWorker::transaction`] are `async` and make what
//! they wrote durable before they return: they hand it to the store through the same path a
//! request's effects take (under the node's lock, so stores keep the order content was
//! taken in, with the replay claims made meanwhile) and wait until the store committed it.
//! With a sync server, they push it in the same order and wait until the server
//! acknowledged it, as a handler's answer waits for what it wrote: a client that asks the
//! sync server for a CoValue the worker just created finds it there. Nothing waits to be
//! flushed, and nothing is lost if the worker is then dropped or its process killed; the
//! future does nothing until it is awaited, so the wait cannot be forgotten by accident.
//! [`RequestWorker::read_node`] is the synchronous way in for reads: it lends the node
//! shared, so it cannot write.

use std::sync::atomic::Ordering;

use super::durable::AwaitSync;
use super::error::JazzRequestError;
use super::worker::RequestWorker;
use crate::cojson::{LocalNode, NodeError};
use crate::schema::Tx;

/// Why a write through [`RequestWorker::with_node`] or [`RequestWorker::transaction`]
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerWriteError {
    /// The closure failed, or the worker's node could not be used. What
    /// [`RequestWorker::with_node`]'s closure wrote before failing is stored all the same;
    /// what [`RequestWorker::transaction`]'s wrote was undone.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Storing what was written failed: it left memory again (the worker's node is as its
    /// store, as after a failed store of a request's changes), and requests in flight across
    /// the failure answer 500. The cause is the error's source (also logged).
    #[error("the changes could not be stored")]
    NotStored(#[source] JazzRequestError),
    /// What was written is stored, but the sync server has not acknowledged it in time (or
    /// gave it up): it stays stored and queued, and reaches the server once it answers (or,
    /// after a restart, from the store's outbox). `code` 504 or 503, as a request's answer
    /// would have been.
    #[error("the changes are stored, but the sync server has not acknowledged them")]
    NotAcknowledged(#[source] JazzRequestError),
}

impl WorkerWriteError {
    /// Sorts a failure of the worker's store-and-push path.
    fn not_durable(error: JazzRequestError) -> Self {
        match error.code {
            503 | 504 => Self::NotAcknowledged(error),
            _ => Self::NotStored(error),
        }
    }
}

impl From<WorkerWriteError> for JazzRequestError {
    /// A handler that writes through the worker (rather than its context) answers as it
    /// would have for its own writes: 403 for a write the worker may not make, 500 for the
    /// node or the store, 503/504 for the sync server.
    fn from(error: WorkerWriteError) -> Self {
        match error {
            WorkerWriteError::Node(error) => error.into(),
            WorkerWriteError::NotStored(error) | WorkerWriteError::NotAcknowledged(error) => error,
        }
    }
}

impl RequestWorker {
    /// Reads the worker's node: `f` gets it shared, so it cannot write (writes go through
    /// [`RequestWorker::with_node`] or [`RequestWorker::transaction`], which make them
    /// durable). Holds the node's lock while `f` runs: keep it short.
    pub fn read_node<T>(
        &self,
        f: impl FnOnce(&LocalNode) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        f(&*self.shared.lock_node()?)
    }

    /// Runs `f` on the worker's node, then makes what it wrote (or imported) durable before
    /// returning: stored, and with a sync server acknowledged by it (see the module docs).
    /// What `f` wrote before failing is kept and stored too (use
    /// [`RequestWorker::transaction`] for all or nothing). When `f` changed nothing it
    /// returns at once.
    ///
    /// The node's lock is held while `f` runs, not while the store commits. In a handler,
    /// write through the [`RequestContext`](super::RequestContext) instead: there the
    /// answer waits for the writes, and a `serialize` route sees them in order.
    pub async fn with_node<T>(
        &self,
        f: impl FnOnce(&mut LocalNode) -> Result<T, NodeError>,
    ) -> Result<T, WorkerWriteError> {
        self.write_durably(f).await
    }

    /// Runs `f` as one transaction on the worker's node (typed writes through [`Tx`], all
    /// undone if it returns `Err`), then makes what it wrote durable before returning, as
    /// [`RequestWorker::with_node`] does. The app's first CoValues:
    ///
    /// ```no_run
    /// # use jazz_req_core::request::RequestWorker;
    /// # use jazz_req_core::cojson::permissions_role::Role;
    /// # use jazz_req_core::schema::Member;
    /// # async fn demo(worker: RequestWorker) -> Result<(), Box<dyn std::error::Error>> {
    /// let group = worker
    ///     .transaction(|tx| {
    ///         let group = tx.create_group()?;
    ///         tx.add_member(&group, Member::Everyone, Role::Reader)?;
    ///         Ok(group)
    ///     })
    ///     .await?; // stored (and on the sync server, if any) from here on
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, NodeError>,
    ) -> Result<T, WorkerWriteError> {
        self.write_durably(|node| node.atomically(|node| f(&mut Tx::new(node))))
            .await
    }

    /// Runs `f` under the node's lock with signing deferred, and if it changed anything,
    /// submits what is to be stored (as a request's effects are, claims included) and waits
    /// until it is stored and, with a sync server, acknowledged.
    async fn write_durably<T>(
        &self,
        f: impl FnOnce(&mut LocalNode) -> Result<T, NodeError>,
    ) -> Result<T, WorkerWriteError> {
        if tokio::runtime::Handle::try_current().is_err() {
            // Storing is awaited on the runtime (as a request's store is): without one,
            // nothing is written rather than something left unstored.
            return Err(WorkerWriteError::NotStored(
                JazzRequestError::internal_while(
                    "writing through the worker",
                    "RequestWorker::with_node and ::transaction run on a tokio runtime",
                ),
            ));
        }
        let failures_seen = self.shared.store_failures.load(Ordering::SeqCst);
        let (result, submitted) = {
            let mut node = self.shared.lock_node()?;
            let before = Queued::of(&node);
            let outer = node.deferring;
            node.deferring = true;
            let result = f(&mut node);
            node.deferring = outer;
            let wrote = !node.unsigned.is_empty() || before.grew(&node);
            if !outer {
                node.sign_pending();
            }
            if !wrote {
                return Ok(result?);
            }
            let submitted = self.submit(&mut node, failures_seen, &[]);
            (result, submitted)
        };
        let submitted = submitted.map_err(WorkerWriteError::not_durable)?;
        self.settle(submitted, AwaitSync::Acknowledged)
            .await
            .map_err(WorkerWriteError::not_durable)?;
        Ok(result?)
    }
}

/// How much the node had queued for the store before a write: if any of it grew, the write
/// changed something (a CoValue created or imported, one written for the first time since
/// the last store). A write to a CoValue already queued shows in the unsigned transactions.
struct Queued {
    unsaved: usize,
    dirty: usize,
    created: usize,
}

impl Queued {
    fn of(node: &LocalNode) -> Self {
        Self {
            unsaved: node.unsaved.len(),
            dirty: node.dirty.len(),
            created: node.created.len(),
        }
    }

    fn grew(&self, node: &LocalNode) -> bool {
        node.unsaved.len() > self.unsaved
            || node.dirty.len() > self.dirty
            || node.created.len() > self.created
    }
}
