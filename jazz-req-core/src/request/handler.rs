//! What a route's handler receives and returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

use super::error::JazzRequestError;
use super::worker::WorkerShared;
use crate::cojson::{LocalNode, NodeError};
use crate::crypto::CoID;
use crate::schema::{Account, CoMapSchema, Loaded, ResolveBuilder, Tx, read_loaded};

/// What a handler returns: the response's values (CoValue references as `co_z…` strings), or
/// the error the client gets.
pub type HandlerResult = Result<Map<String, Value>, JazzRequestError>;

/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;

/// A route's handler: jazz-tools' `handle(request, worker, callback)` callback.
pub trait Handler: Send + Sync + 'static {
    /// Handles one verified, loaded request.
    fn call(&self, ctx: RequestContext) -> HandlerFuture;

    /// Checks the request's values (`values` of the envelope `request`, with what its resolve
    /// names loaded in `node`) before the request is claimed and marked handled: a request
    /// refused here keeps its id unused and leaves nothing behind. Runs under the worker's
    /// node lock, so it must be quick and must not wait. The default accepts everything;
    /// typed routes read the request's schema here.
    fn check(
        &self,
        request: &CoID,
        values: &Map<String, Value>,
        node: &crate::cojson::LocalNode,
    ) -> Result<(), JazzRequestError> {
        let _ = (request, values, node);
        Ok(())
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    fn call(&self, ctx: RequestContext) -> HandlerFuture {
        Box::pin(self(ctx))
    }
}

/// One verified request, as its handler sees it.
#[derive(Clone)]
pub struct RequestContext {
    pub(crate) worker: Arc<WorkerShared>,
    pub(crate) made_by: CoID,
    pub(crate) envelope: CoID,
    pub(crate) values: Map<String, Value>,
    /// Set once the handler takes the node to write ([`RequestContext::transaction`],
    /// [`RequestContext::with_node`]): its answer then waits until the sync server has what
    /// it wrote.
    pub(crate) wrote: Arc<AtomicBool>,
    /// The CoValues the handler created (through [`RequestContext::transaction`] or
    /// [`RequestContext::with_node`]): they leave the worker's memory once its answer is
    /// stored (and, with a sync server, acknowledged), as nothing in memory needs them.
    pub(crate) created: Arc<std::sync::Mutex<Vec<CoID>>>,
}

impl RequestContext {
    /// The account that sent the request (`madeBy`).
    pub fn made_by(&self) -> Account {
        Account::new(self.made_by.clone())
    }

    /// The request envelope's id (the message id).
    pub fn request_id(&self) -> &CoID {
        &self.envelope
    }

    /// The request's values: the envelope's fields (CoValue references as `co_z…` strings;
    /// everything the route's request resolve names is loaded in the worker's node).
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// The value of one field.
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.values.get(field)
    }

    /// The worker's account.
    pub fn worker_account(&self) -> &CoID {
        &self.worker.account
    }

    /// Runs `f` as one transaction on the worker's node: its reads and writes are atomic with
    /// respect to every other request (check-then-write cannot oversell), its writes are
    /// signed once at the end, and if it returns `Err` they are all undone (the node is as
    /// before; jazz-tools keeps the writes of a failed handler). The node's lock is held
    /// while `f` runs: keep it short, and it cannot `.await`.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, JazzRequestError>,
    ) -> Result<T, JazzRequestError> {
        let mut node = self.worker.lock_node()?;
        self.wrote.store(true, Ordering::Relaxed);
        let before = node.created.clone();
        let result = node.atomically(|node| f(&mut Tx::new(node)));
        self.note_created(&node, &before);
        result
    }

    /// Notes what the node created since `before` (the node's lock held throughout, so it
    /// is what this handler created).
    fn note_created(&self, node: &LocalNode, before: &std::collections::HashSet<CoID>) {
        let new: Vec<CoID> = node
            .created
            .iter()
            .filter(|id| !before.contains(*id))
            .cloned()
            .collect();
        if !new.is_empty() {
            let mut created = self
                .created
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            created.extend(new);
        }
    }

    /// Reads the CoMap `id` as `T` as it is now, loading what `resolve` names (in the
    /// worker's node).
    pub fn load<T: CoMapSchema>(
        &self,
        id: &CoID,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, JazzRequestError> {
        let node = self.worker.lock_node()?;
        Ok(read_loaded(&node, id, &resolve.into_query())?)
    }

    /// Runs `f` on the worker's node, holding its lock: reads and writes in one call are
    /// atomic with respect to every other request (check-then-write cannot oversell), and
    /// its writes are signed once at the end. Keep it short and never block in it. `f` may
    /// fail with any error a node error converts into (e.g. `JazzRequestError`). Unlike
    /// [`RequestContext::transaction`], writes made before a failure are kept.
    pub fn with_node<T, E: From<NodeError>>(
        &self,
        f: impl FnOnce(&mut LocalNode) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut node = self.worker.lock_node()?;
        self.wrote.store(true, Ordering::Relaxed);
        let before = node.created.clone();
        let result = node.batch(|node| Ok(f(node)));
        self.note_created(&node, &before);
        result?
    }
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("made_by", &self.made_by)
            .field("request_id", &self.envelope)
            .finish_non_exhaustive()
    }
}
