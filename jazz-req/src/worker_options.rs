//! Starting a worker the way jazz-tools' `startWorker` does: from `JAZZ_WORKER_ACCOUNT` and
//! `JAZZ_WORKER_SECRET`, on the embedded SQLite store.

use std::path::PathBuf;
use std::sync::Arc;

use jazz_req_core::cojson::keys::Reader;
use jazz_req_core::cojson::{LocalNode, NodeError};
use jazz_req_core::crypto::{AgentSecret, CoID, account_id_for_agent};
use jazz_req_core::request::RequestWorker;
use jazz_req_core::storage::{SqliteStorage, StorageError};

/// The store used when `JAZZ_REQ_STORE` is not set.
pub const DEFAULT_STORE: &str = "jazz-req-worker.sqlite";

/// Where a worker's identity and data come from.
#[derive(Clone)]
pub struct WorkerOptions {
    /// The worker's account (`JAZZ_WORKER_ACCOUNT`).
    pub account: CoID,
    /// The worker's agent secret (`JAZZ_WORKER_SECRET`).
    pub secret: AgentSecret,
    /// The embedded SQLite store (`JAZZ_REQ_STORE`, default [`DEFAULT_STORE`]).
    pub store: PathBuf,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerOptions")
            .field("account", &self.account)
            .field("secret", &self.secret)
            .field("store", &self.store)
            .finish()
    }
}

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerStartError {
    /// A variable is missing.
    #[error(
        "{0} is not set (create a worker account with `jazz-req account create --store <file>`)"
    )]
    Missing(&'static str),
    /// A variable does not parse (its value is not repeated: it may be a secret).
    #[error("{0} is not valid")]
    Invalid(&'static str),
    /// The secret is not the account's agent.
    #[error("JAZZ_WORKER_SECRET does not match expected agent ID in account {0}")]
    SecretMismatch(CoID),
    /// The store could not be opened.
    #[error("could not open the store {}: {source}", .path.display())]
    Store {
        /// The store file.
        path: PathBuf,
        /// Why.
        #[source]
        source: StorageError,
    },
    /// The account is not in the store.
    #[error(
        "account {0} is not in the store (create it there with `jazz-req account create --store <file>`)"
    )]
    AccountNotStored(CoID),
    /// Loading from the store failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl WorkerOptions {
    /// Reads `JAZZ_WORKER_ACCOUNT`, `JAZZ_WORKER_SECRET` and, optionally, `JAZZ_REQ_STORE`.
    pub fn from_env() -> Result<Self, WorkerStartError> {
        let var = |name| std::env::var(name).map_err(|_| WorkerStartError::Missing(name));
        let account = CoID::parse(var("JAZZ_WORKER_ACCOUNT")?.trim())
            .map_err(|_| WorkerStartError::Invalid("JAZZ_WORKER_ACCOUNT"))?;
        let secret_text = zeroize::Zeroizing::new(var("JAZZ_WORKER_SECRET")?);
        let secret = AgentSecret::parse(secret_text.trim())
            .map_err(|_| WorkerStartError::Invalid("JAZZ_WORKER_SECRET"))?;
        let store =
            std::env::var_os("JAZZ_REQ_STORE").map_or_else(|| DEFAULT_STORE.into(), PathBuf::from);
        Ok(Self {
            account,
            secret,
            store,
        })
    }

    /// Starts the worker in one step: opens the store, loads and checks the account, and
    /// returns a worker to register routes on (`.register(MyRoute)`) and serve.
    pub fn start(&self) -> Result<RequestWorker, WorkerStartError> {
        Ok(RequestWorker::new(self.open_node()?)?)
    }

    /// Opens the store and loads the worker's account from it (verifying it again), as
    /// `startWorker` loads the worker: the secret must be the account's agent.
    pub fn open_node(&self) -> Result<LocalNode, WorkerStartError> {
        if account_id_for_agent(&self.secret.agent_id()) != self.account {
            return Err(WorkerStartError::SecretMismatch(self.account.clone()));
        }
        let storage =
            SqliteStorage::open(&self.store).map_err(|source| WorkerStartError::Store {
                path: self.store.clone(),
                source,
            })?;
        let mut node = LocalNode::new(Reader::new(Some(self.account.clone()), self.secret.clone()));
        node.attach_storage(Arc::new(storage));
        if !node.load_from_storage(&self.account)? {
            return Err(WorkerStartError::AccountNotStored(self.account.clone()));
        }
        Ok(node)
    }
}
