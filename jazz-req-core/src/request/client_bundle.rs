//! [`ClientBundle`]: what the clients of a worker with no sync server start from — the
//! worker's account and the app's first CoValues, as content pieces — made by the worker
//! in one call and taken by a client in one call.
//!
//! With a sync server, clients load all this from the server. Without one, the worker's
//! store is the only place it exists, so the worker hands it out: its account (a request is
//! made for it, and its answer checked against it) and the CoValues the app's requests name
//! (an event and its reservations, a poll), exported as jazz-tools exports them, so a
//! jazz-tools client imports the same pieces.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::RequestClient;
use super::client_errors::ImportError;
use super::worker::RequestWorker;
use crate::cojson::{LocalNode, NodeError, ResolveQuery};
use crate::crypto::CoID;
use crate::schema::{LoadError, ResolveBuilder, load_resolved};

/// The worker's account and chosen CoValues, as content pieces (JSON, in an order a client
/// imports them in). Serialisable: hand it to clients as a file, from an endpoint, in their
/// configuration.
///
/// ```no_run
/// # use jazz_req_core::request::{ClientBundle, RequestWorker};
/// # use jazz_req_core::cojson::LocalNode;
/// # use jazz_req_core::crypto::{CoID, random::new_random_agent_secret};
/// # use jazz_req_core::schema::LeafResolve;
/// # fn demo(worker: &RequestWorker, event: &CoID) -> Result<(), Box<dyn std::error::Error>> {
/// // The worker's side: its account and the event (`LeafResolve`: the event alone; a typed
/// // builder such as `Event::resolve().reservations(|r| r)` adds what it names below).
/// let bundle = worker.client_bundle().with(event, LeafResolve).build()?;
/// let json = serde_json::to_string(&bundle)?;
///
/// // A client's side, any account: one call.
/// let bundle: ClientBundle = serde_json::from_str(&json)?;
/// let (node, _me) = LocalNode::create_account(new_random_agent_secret()?, "Ada")?;
/// let client = bundle.client(node, "http://127.0.0.1:8080")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientBundle {
    /// The worker's account (what `JAZZ_WORKER_ACCOUNT` names).
    pub worker: CoID,
    /// The content pieces: the worker's account, then each CoValue with what it depends on.
    pub pieces: Vec<Value>,
}

impl ClientBundle {
    /// A client acting as `node`'s account, sending to this bundle's worker at `base_url`
    /// (route paths are joined to it), holding the bundle's pieces: what
    /// `RequestClient::new(node).with_base_url(…).with_worker(…)` and
    /// [`RequestClient::import_pieces`] do, in one call.
    pub fn client(
        &self,
        node: LocalNode,
        base_url: impl Into<String>,
    ) -> Result<RequestClient, ImportError> {
        let client = RequestClient::new(node)
            .with_base_url(base_url)
            .with_worker(self.worker.clone());
        client.import_pieces(&self.pieces)?;
        Ok(client)
    }
}

/// A [`ClientBundle`] being put together ([`RequestWorker::client_bundle`]).
#[derive(Debug)]
#[must_use = "`build` makes the bundle"]
pub struct ClientBundleBuilder<'w> {
    worker: &'w RequestWorker,
    covalues: Vec<(CoID, ResolveQuery)>,
}

impl ClientBundleBuilder<'_> {
    /// Adds the CoValue `id` and what `resolve` names below it (`Event::resolve()
    /// .reservations(|r| r)`: the event and its reservations list).
    pub fn with(mut self, id: &CoID, resolve: impl ResolveBuilder) -> Self {
        self.covalues.push((id.clone(), resolve.into_query()));
        self
    }

    /// Exports the worker's account and each CoValue added (loading from the worker's store
    /// what is not in memory, e.g. after a restart). Fails with [`NodeError::NotLoaded`]
    /// naming a CoValue that is in neither.
    pub fn build(self) -> Result<ClientBundle, NodeError> {
        let worker = self.worker.account().clone();
        let mut node = self.worker.shared.lock_node()?;
        let mut pieces: Vec<Value> = Vec::new();
        let mut add = |more: Vec<Value>| {
            for piece in more {
                if !pieces.contains(&piece) {
                    pieces.push(piece);
                }
            }
        };
        add(node.export_json(&worker, &ResolveQuery::Value)?);
        for (id, query) in &self.covalues {
            load_resolved(&mut node, id, query).map_err(|error| match error {
                LoadError::NotFound(missing) => NodeError::NotLoaded(missing),
                LoadError::Storage(error) => error,
            })?;
            add(node.export_json(id, query)?);
        }
        Ok(ClientBundle { worker, pieces })
    }
}

impl RequestWorker {
    /// Starts the [`ClientBundle`] of this worker: its account, and the CoValues added with
    /// [`ClientBundleBuilder::with`] — what clients need when there is no sync server to
    /// load them from.
    pub fn client_bundle(&self) -> ClientBundleBuilder<'_> {
        ClientBundleBuilder {
            worker: self,
            covalues: Vec::new(),
        }
    }
}
