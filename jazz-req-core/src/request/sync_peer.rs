//! The worker as a peer of a Jazz sync server: CoValues it lacks are loaded from its store,
//! else from the sync server (never holding the node's lock across the network); what it
//! writes is pushed, and a request is answered once the server acknowledged it; what other
//! peers write arrives unasked and is imported; the server's own questions are answered
//! from the node.
//!
//! The store and the sync server are the two places a CoValue comes from and goes to: the
//! store is tried first (it is local), the server second, and both receive what the worker
//! accepted and wrote.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, Weak};

use super::error::JazzRequestError;
use super::worker::{RequestWorker, WorkerShared};
use crate::cojson::{ContentMessage, KnownState, NodeError, ResolveQuery};
use crate::crypto::CoID;
use crate::schema::{LoadError, MAX_RESOLVE_LOADS, load_resolved_noting};
use crate::sync::{ConnectionState, ContentSource, SyncClient, SyncError, SyncOptions};

/// Answers the sync server's questions (what do you hold of X, send me X since …) from the
/// worker's node. Holds the worker weakly: the worker owns the client that owns this.
#[derive(Default)]
pub(crate) struct WorkerSource {
    shared: OnceLock<Weak<WorkerShared>>,
}

impl WorkerSource {
    fn node_source(&self) -> Option<Arc<WorkerShared>> {
        self.shared.get().and_then(Weak::upgrade)
    }
}

impl ContentSource for WorkerSource {
    fn known_state(&self, id: &CoID) -> Option<KnownState> {
        let shared = self.node_source()?;
        let node = shared.lock_node().ok()?;
        node.get(id).map(|value| value.known_state())
    }

    fn content_since(&self, known: &KnownState) -> Option<Vec<ContentMessage>> {
        let shared = self.node_source()?;
        let node = shared.lock_node().ok()?;
        node.get(&known.id)
            .map(|value| value.new_content_since(Some(known)))
    }
}

/// Connects to the sync server at `url` with a source that will answer from the worker
/// once it exists ([`RequestWorker::with_sync`]).
pub(crate) async fn connect(
    url: &str,
    options: SyncOptions,
) -> Result<(SyncClient, Arc<WorkerSource>), SyncError> {
    let source = Arc::new(WorkerSource::default());
    let client = SyncClient::connect(url, options.with_source(source.clone())).await?;
    Ok((client, source))
}

/// Why a resolve could not be loaded from the store and the sync server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerLoadError {
    /// Neither the store nor the sync server has it (or it stays unreadable).
    #[error("{0} is not found")]
    NotFound(CoID),
    /// The store failed.
    #[error("loading from storage failed")]
    Storage(#[source] NodeError),
    /// The sync server failed (unreachable, timed out).
    #[error("loading from the sync server failed")]
    Sync(#[source] SyncError),
    /// The node's lock is poisoned.
    #[error(transparent)]
    Node(NodeError),
}

impl PeerLoadError {
    /// The answer a request gets: 400 "Value not found" when what it names is nowhere, a
    /// 5xx when the worker's store or sync server failed.
    pub(crate) fn to_request_error(&self) -> JazzRequestError {
        match self {
            Self::NotFound(_) => JazzRequestError::new("Value not found", 400),
            Self::Storage(e) | Self::Node(e) => {
                JazzRequestError::internal_while("loading from storage", e.clone())
            }
            Self::Sync(_) => {
                tracing::error!(error = %self, "loading from the sync server failed");
                JazzRequestError::new("The sync server is not reachable", 503)
            }
        }
    }
}

impl WorkerShared {
    /// Loads into the node what `query` reaches from `id`: from memory, the store, then the
    /// sync server (the network never with the node's lock held). With a sync server, what
    /// came from the store is brought up to date from the server (see
    /// [`WorkerShared::refresh_from_server`]) before the query is looked at again.
    pub(crate) async fn load_through_peers(
        self: &Arc<Self>,
        id: &CoID,
        query: &ResolveQuery,
    ) -> Result<(), PeerLoadError> {
        let mut previous: Option<CoID> = None;
        let mut from_store: Vec<CoID> = Vec::new();
        let mut refreshed: HashSet<CoID> = HashSet::new();
        for _ in 0..MAX_RESOLVE_LOADS {
            let loaded = {
                let mut node = self.lock_node().map_err(PeerLoadError::Node)?;
                let loaded = load_resolved_noting(&mut node, id, query, &mut from_store);
                match loaded {
                    Ok(()) => None,
                    Err(LoadError::Storage(e)) => return Err(PeerLoadError::Storage(e)),
                    // Held but unreadable: what it depends on is what to load.
                    Err(LoadError::NotFound(missing)) => Some(match node.read(&missing) {
                        Err(NodeError::MissingDependency {
                            missing: dependency,
                            ..
                        }) => dependency,
                        _ if node.get(&missing).is_some() => {
                            return Err(PeerLoadError::NotFound(missing));
                        }
                        _ => missing,
                    }),
                }
            };
            let Some(sync) = self.sync.get() else {
                return match loaded {
                    None => Ok(()),
                    Some(wanted) => Err(PeerLoadError::NotFound(wanted)),
                };
            };
            // What came from the store may lag behind the server (others wrote it since it
            // left memory): brought up to date first, and the query looked at again.
            let stale: Vec<CoID> = from_store
                .drain(..)
                .filter(|id| refreshed.insert(id.clone()))
                .collect();
            if !stale.is_empty() {
                self.refresh_from_server(sync, &stale).await;
                continue;
            }
            let Some(wanted) = loaded else {
                return Ok(());
            };
            if previous.as_ref() == Some(&wanted) {
                return Err(PeerLoadError::NotFound(wanted));
            }
            let content = sync.load(&wanted).await.map_err(PeerLoadError::Sync)?;
            let Some(content) = content else {
                return Err(PeerLoadError::NotFound(wanted));
            };
            let mut node = self.lock_node().map_err(PeerLoadError::Node)?;
            import_from_server(&mut node, content);
            previous = Some(wanted);
        }
        Err(PeerLoadError::NotFound(id.clone()))
    }

    /// Brings `ids`, just loaded from the store, up to date from the sync server: what the
    /// server holds beyond the store's copy is imported, and the sync client follows them
    /// again (the server sends their later changes), as it follows what stayed in memory.
    ///
    /// While the server is unreachable this does not wait: the loads go out in the
    /// background (answered after the reconnection), and the store's copy is what the
    /// worker reads meanwhile, as it reads what it held in memory meanwhile. A load that
    /// fails leaves the store's copy, with a warning.
    async fn refresh_from_server(self: &Arc<Self>, sync: &SyncClient, ids: &[CoID]) {
        let states: Vec<KnownState> = match self.lock_node() {
            Ok(node) => ids
                .iter()
                .filter_map(|id| node.get(id).map(|value| value.known_state()))
                .collect(),
            Err(_) => return,
        };
        let connected = matches!(*sync.status().borrow(), ConnectionState::Connected { .. });
        tracing::debug!(?ids, connected, "brought up to date from the sync server");
        if connected {
            self.refresh(sync, states).await;
        } else {
            let shared = Arc::clone(self);
            let sync = sync.clone();
            tokio::spawn(async move { shared.refresh(&sync, states).await });
        }
    }

    /// Loads from the sync server what it holds beyond each of `states` (all at once: a
    /// query over a list may take back many), and imports it.
    async fn refresh(&self, sync: &SyncClient, states: Vec<KnownState>) {
        let loads = states.into_iter().map(|known| async move {
            let id = known.id.clone();
            (id, sync.load_since(known).await)
        });
        for (id, loaded) in futures_util::future::join_all(loads).await {
            match loaded {
                Ok(Some(content)) => {
                    let Ok(mut node) = self.lock_node() else {
                        return;
                    };
                    import_from_server(&mut node, content);
                }
                // Not there yet: what the store holds of it is on its way to the server.
                Ok(None) => tracing::debug!(%id, "a value of the store the sync server lacks"),
                Err(error) => {
                    tracing::warn!(%id, %error, "the store's copy is read without the server's");
                }
            }
        }
    }
}

/// Imports what the sync server sent into `node` (a piece it refuses is logged, not fatal:
/// the rest may still be what the caller needs).
fn import_from_server(node: &mut crate::cojson::LocalNode, content: Vec<ContentMessage>) {
    for message in content {
        let id = message.id.clone();
        if let Err(error) = node.import(message) {
            tracing::warn!(%id, %error, "content from the sync server refused");
        }
    }
}

/// Why a worker could not start as a peer of a sync server.
#[derive(Debug, thiserror::Error)]
pub enum PeerStartError {
    /// The sync server could not be reached (or answered nonsense).
    #[error("the sync server is not reachable")]
    Sync(#[from] SyncError),
    /// The worker's account is neither in its store nor on the sync server.
    #[error(
        "account {0} is neither in the store nor on the sync server (create it with `jazz-req account create --sync-server URL`)"
    )]
    AccountNotFound(CoID),
    /// The node failed (e.g. the account did not verify).
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl RequestWorker {
    /// A worker for the account of `node` that is a peer of the sync server at `url`. When
    /// the node does not hold its account yet (a new store), the account is loaded from the
    /// server, as `startWorker` loads it.
    pub async fn connect(
        mut node: crate::cojson::LocalNode,
        url: &str,
        options: SyncOptions,
    ) -> Result<Self, PeerStartError> {
        let (client, source) = connect(url, options).await?;
        let account = node
            .reader()
            .account
            .clone()
            .ok_or_else(|| NodeError::CannotWrite {
                id: CoID::from_bytes(&[0]),
                reason: "a worker needs an account".into(),
            })?;
        if node.get(&account).is_none() {
            let content = client
                .load(&account)
                .await?
                .ok_or_else(|| PeerStartError::AccountNotFound(account.clone()))?;
            for message in content {
                node.import(message)?;
            }
            if node.get(&account).is_none() {
                return Err(PeerStartError::AccountNotFound(account));
            }
        }
        let worker = Self::new(node)?.attach_sync(client, &source);
        worker.resume_after_restart().await;
        Ok(worker)
    }

    /// What a previous run stored and did not see acknowledged goes to the server first.
    async fn resume_after_restart(&self) {
        match self.resume_unsynced().await {
            Ok(0) => {}
            Ok(covalues) => tracing::info!(covalues, "the outbox reached the sync server"),
            Err(error) => tracing::warn!(
                %error,
                "the outbox did not reach the sync server yet (it is pushed again on the next start)"
            ),
        }
    }

    /// Makes this worker a peer of the sync server at `url`: CoValues it lacks are loaded
    /// from there (after its store), what it writes is pushed there and acknowledged before a
    /// response leaves, what others write there arrives unasked. Fails when the server cannot
    /// be reached.
    pub async fn with_sync(self, url: &str, options: SyncOptions) -> Result<Self, SyncError> {
        let (client, source) = connect(url, options).await?;
        let worker = self.attach_sync(client, &source);
        worker.resume_after_restart().await;
        Ok(worker)
    }

    /// Attaches a connected client whose source is `source` (see [`connect`]).
    pub(crate) fn attach_sync(self, client: SyncClient, source: &WorkerSource) -> Self {
        let _ = source.shared.set(Arc::downgrade(&self.shared));
        // What requests bring goes to the sync server with what the worker writes, even
        // without a store (every request takes the queue).
        if let Ok(mut node) = self.shared.lock_node() {
            node.queue_imports(true);
        }
        if let Some(mut updates) = client.updates() {
            let weak = Arc::downgrade(&self.shared);
            tokio::spawn(async move {
                while let Some(message) = updates.recv().await {
                    let Some(shared) = weak.upgrade() else { break };
                    let Ok(mut node) = shared.lock_node() else {
                        break;
                    };
                    let id = message.id.clone();
                    // An update of a value that left memory (what a handler created): back
                    // from the store, so that the update lands on it (and in the store).
                    if message.header.is_none()
                        && node.get(&id).is_none()
                        && !matches!(node.load_from_storage(&id), Ok(true))
                    {
                        tracing::debug!(%id, "an update of a value the worker does not hold");
                        continue;
                    }
                    if let Err(error) = node.import(message) {
                        tracing::warn!(%id, %error, "an update from the sync server was refused");
                    }
                }
            });
        }
        let bound = client.options().max_answered_unacknowledged;
        if self.shared.sync.set(client).is_err() {
            tracing::warn!("the worker already had a sync server; the new one is not used");
        } else {
            super::durable::bound_answered_unacknowledged(
                &self.shared.answered_unacknowledged,
                bound,
            );
        }
        self
    }

    /// The worker's sync client, if it is a peer of a sync server.
    pub fn sync_client(&self) -> Option<&SyncClient> {
        self.shared.sync.get()
    }

    /// Stops gracefully: stores and pushes what is not stored or synced yet, then waits until
    /// the sync server acknowledged everything (call it once the HTTP server stopped).
    pub async fn shutdown(&self) -> Result<(), JazzRequestError> {
        let failures_seen = self
            .shared
            .store_failures
            .load(std::sync::atomic::Ordering::SeqCst);
        let submitted = {
            let mut node = self.shared.node()?;
            self.submit(&mut node, failures_seen, &[])?
        };
        self.settle(submitted, super::durable::AwaitSync::Acknowledged)
            .await?;
        if let Some(sync) = self.shared.sync.get() {
            sync.shutdown().await.map_err(|error| {
                tracing::error!(%error, "not everything reached the sync server");
                JazzRequestError::new("The sync server did not acknowledge everything", 503)
            })?;
        }
        Ok(())
    }
}
