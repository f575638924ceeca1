//! An in-process worker with the interop routes (book-event-ticket, echo) that is a peer of
//! a sync server, served over HTTP on a free port, and clients of it: the set-up shared by
//! the tests of what a worker does at its sync server (`sync_waits.rs`, `sync_follows.rs`).

use std::path::Path;
use std::sync::Arc;

use jazz_req::cojson::ContentMessage;
use jazz_req::cojson::keys::Reader;
use jazz_req::prelude::*;
use jazz_req::request::PeerStartError;
use jazz_req::storage::StorageError;
use jazz_req::sync::SyncOptions;
use jazz_req_examples::echo::Echo;
use jazz_req_examples::event_tickets::BookEventTicket;
use serde_json::Value;

use crate::sync_events::{Peer, SyncEventError};

/// What can go wrong starting the worker or a client of it.
#[derive(Debug, thiserror::Error)]
pub enum SyncedWorkerError {
    /// The worker did not start.
    #[error(transparent)]
    Start(#[from] WorkerStartError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StorageError),
    /// The worker could not become a peer of the sync server.
    #[error(transparent)]
    Connect(#[from] PeerStartError),
    /// Its HTTP server could not listen.
    #[error("the worker's HTTP server could not listen")]
    Serve(#[from] std::io::Error),
    /// A client's account could not be made.
    #[error(transparent)]
    Peer(#[from] SyncEventError),
    /// A client could not import what it was given.
    #[error(transparent)]
    Import(#[from] SendError),
}

/// A running worker (see the module documentation).
pub struct SyncedWorker {
    /// The worker (shut it down at the end of a test).
    pub worker: RequestWorker,
    /// Its account.
    pub account: CoID,
    /// `http://127.0.0.1:PORT`, where it answers.
    pub base_url: String,
}

impl SyncedWorker {
    /// Starts the worker of `peer`'s account, a peer of the sync server at `sync_url`, on the
    /// store `store`, and serves it.
    ///
    /// # Errors
    /// [`SyncedWorkerError::Start`], [`SyncedWorkerError::Serve`].
    pub async fn start(
        peer: &Peer,
        sync_url: &str,
        store: &Path,
    ) -> Result<Self, SyncedWorkerError> {
        Self::start_with_routes(peer, sync_url, store, |worker| worker).await
    }

    /// As [`SyncedWorker::start`], with the routes `more` registers besides.
    ///
    /// # Errors
    /// As [`SyncedWorker::start`].
    pub async fn start_with_routes(
        peer: &Peer,
        sync_url: &str,
        store: &Path,
        more: impl FnOnce(RequestWorker) -> RequestWorker,
    ) -> Result<Self, SyncedWorkerError> {
        let worker = WorkerOptions::new(peer.account.clone(), peer.secret.clone(), store)
            .with_sync_server(sync_url)
            .start()
            .await?
            .register(BookEventTicket)
            .register(Echo);
        let worker = more(worker);
        let addr = spawn_server(([127, 0, 0, 1], 0).into(), worker.clone())
            .await?
            .addr();
        Ok(Self {
            worker,
            account: peer.account.clone(),
            base_url: format!("http://{addr}"),
        })
    }

    /// As [`SyncedWorker::start_with_routes`], with a sync client of `options` (e.g. a short
    /// `ack_timeout`).
    ///
    /// # Errors
    /// [`SyncedWorkerError::Store`], [`SyncedWorkerError::Connect`],
    /// [`SyncedWorkerError::Serve`].
    pub async fn start_with_options(
        peer: &Peer,
        sync_url: &str,
        store: &Path,
        options: SyncOptions,
        more: impl FnOnce(RequestWorker) -> RequestWorker,
    ) -> Result<Self, SyncedWorkerError> {
        // As `WorkerOptions::start` does with a sync server, with these options.
        let mut node = LocalNode::new(Reader::new(Some(peer.account.clone()), peer.secret.clone()));
        node.attach_storage(Arc::new(SqliteStorage::open(store)?));
        node.load_from_storage(&peer.account)
            .map_err(PeerStartError::Node)?;
        let worker = RequestWorker::connect(node, sync_url, options)
            .await?
            .register(BookEventTicket)
            .register(Echo);
        let worker = more(worker);
        let addr = spawn_server(([127, 0, 0, 1], 0).into(), worker.clone())
            .await?
            .addr();
        Ok(Self {
            worker,
            account: peer.account.clone(),
            base_url: format!("http://{addr}"),
        })
    }

    /// A client of this worker with a fresh account called `name`, holding `pieces` (e.g. the
    /// worker's account, an event).
    ///
    /// # Errors
    /// [`SyncedWorkerError::Peer`], [`SyncedWorkerError::Import`].
    pub fn client(&self, name: &str, pieces: &[Value]) -> Result<RequestClient, SyncedWorkerError> {
        let client = RequestClient::new(Peer::fresh(name)?.node)
            .with_base_url(&self.base_url)
            .with_worker(self.account.clone());
        client.import_pieces(pieces).map_err(SendError::from)?;
        Ok(client)
    }
}

/// `pieces` as JSON, as a client imports them.
pub fn as_json(pieces: &[ContentMessage]) -> Vec<Value> {
    pieces.iter().map(ContentMessage::to_json).collect()
}
