//! Starting a worker the way jazz-tools' `startWorker` does: from `JAZZ_WORKER_ACCOUNT` and
//! `JAZZ_WORKER_SECRET`, on the embedded SQLite store, as a peer of `JAZZ_SYNC_SERVER` when
//! it is set.

use std::path::PathBuf;
use std::sync::Arc;

use jazz_req_core::cojson::keys::Reader;
use jazz_req_core::cojson::{LocalNode, NodeError};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{AgentSecret, CoID, CryptoError, account_id_for_agent};
use jazz_req_core::request::{PeerStartError, RequestWorker};
use jazz_req_core::storage::{SqliteStorage, StorageError};
use jazz_req_core::sync::SyncOptions;

/// The store used when `JAZZ_REQ_STORE` is not set.
pub const DEFAULT_STORE: &str = "jazz-req-worker.sqlite";

/// Where a worker's identity and data come from.
#[derive(Clone)]
pub struct WorkerOptions {
    /// The worker's account (`JAZZ_WORKER_ACCOUNT`).
    pub account: CoID,
    /// The worker's agent secret (`JAZZ_WORKER_SECRET`).
    pub secret: AgentSecret,
    /// The embedded SQLite store (`JAZZ_REQ_STORE`, default [`DEFAULT_STORE`]). With a sync
    /// server it is the worker's local cache and the durable log of what it accepted.
    pub store: PathBuf,
    /// The Jazz sync server the worker is a peer of (`JAZZ_SYNC_SERVER`, e.g.
    /// `wss://cloud.jazz.tools/?key=…`); `None`: the worker lives on its store alone.
    pub sync_server: Option<String>,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerOptions")
            .field("account", &self.account)
            .field("secret", &self.secret)
            .field("store", &self.store)
            .field("sync_server", &self.sync_server)
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
    /// The account is not in the store (and there is no sync server to load it from).
    #[error(
        "account {0} is not in the store (create it there with `jazz-req account create --store <file>`)"
    )]
    AccountNotStored(CoID),
    /// The sync server could not be reached, or does not have the account.
    #[error("could not start as a peer of the sync server {url}: {source}")]
    SyncServer {
        /// The server's URL.
        url: String,
        /// Why.
        #[source]
        source: PeerStartError,
    },
    /// Another worker runs on the store (in this process or another): one worker per store.
    /// Stop it first (its lock goes with its process, or with its last clone in-process).
    #[error(
        "the store {} is in use by another worker (one worker per store: stop that one first)",
        .0.display()
    )]
    StoreInUse(PathBuf),
    /// No random secret could be made for a new account.
    #[error("could not make a random agent secret")]
    Random(#[source] CryptoError),
    /// Loading from the store failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl WorkerStartError {
    /// A worker that would not start on `store`: [`WorkerStartError::StoreInUse`] when another
    /// worker holds the store.
    fn starting(store: &std::path::Path, error: NodeError) -> Self {
        if let NodeError::Storage(failure) = &error
            && let StorageError::InUse { .. } = failure.error()
        {
            return Self::StoreInUse(store.to_path_buf());
        }
        Self::Node(error)
    }
}

impl WorkerOptions {
    /// Options for a worker of `account` (its agent `secret`) on the store `store`, with no
    /// sync server.
    pub fn new(account: CoID, secret: AgentSecret, store: impl Into<PathBuf>) -> Self {
        Self {
            account,
            secret,
            store: store.into(),
            sync_server: None,
        }
    }

    /// Creates a new worker account (a random agent secret, a profile named `name`) and
    /// writes it into the SQLite store `store` (created if missing), as `jazz-req account
    /// create --store FILE` does; returns the options to [`start`](Self::start) a worker on
    /// it, with no sync server. Keep `account` and `secret` (e.g. as the
    /// `JAZZ_WORKER_ACCOUNT` / `JAZZ_WORKER_SECRET` of the next start): they are the worker's
    /// identity, and the secret is in the store only as what it signed.
    ///
    /// A worker with no sync server, from the account to a client's request — the app's
    /// first CoValues made through the worker ([`RequestWorker::transaction`], durable when
    /// it returns) and handed to clients as a [`ClientBundle`](jazz_req_core::request::ClientBundle):
    ///
    /// ```
    /// use jazz_req::prelude::*;
    ///
    /// /// A poll (`co.map({ question: z.string(), votes: co.list(Vote) })`).
    /// #[derive(CoMap, Debug)]
    /// pub struct Poll {
    ///     pub question: String,
    ///     pub votes: CoList<Ref<Vote>>,
    /// }
    ///
    /// /// A vote (`co.map({ voter: co.account(), choice: z.number() })`).
    /// #[derive(CoMap, Debug)]
    /// pub struct Vote {
    ///     pub voter: Account,
    ///     pub choice: u32,
    /// }
    ///
    /// /// What a vote answers: how many votes the poll has.
    /// #[derive(CoMap, Debug)]
    /// pub struct Tally {
    ///     pub votes: u32,
    /// }
    ///
    /// #[jazz_request(url = "/api/vote", resolve = { poll: { votes: true } }, serialize = poll)]
    /// pub async fn cast_vote(
    ///     ctx: RequestContext,
    ///     poll: Loaded<Poll>,
    ///     choice: u32,
    /// ) -> Result<Tally, JazzRequestError> {
    ///     ctx.transaction(|tx| {
    ///         let group = tx.create_group()?;
    ///         let vote = tx.create(&group, Vote { voter: ctx.made_by(), choice })?;
    ///         tx.push(&poll.votes, vote.to_ref())?;
    ///         Ok(Tally { votes: u32::try_from(poll.votes.len()? + 1).unwrap_or(u32::MAX) })
    ///     })
    /// }
    ///
    /// #[tokio::main]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     # let dir = std::env::temp_dir().join(format!("jazz-req-doc-{}", std::process::id()));
    ///     # std::fs::create_dir_all(&dir)?;
    ///     # let store = dir.join("poll-worker.sqlite");
    ///     // The worker's account, in its store (once; or `jazz-req account create --store`).
    ///     let options = WorkerOptions::create_account("Poll worker", &store)?;
    ///     let worker = options.start().await?.register(CastVote);
    ///
    ///     // The app's first CoValue, made by the worker: stored when this returns.
    ///     let poll = worker
    ///         .transaction(|tx| {
    ///             let group = tx.create_group()?;
    ///             tx.add_member(&group, Member::Everyone, Role::Reader)?;
    ///             let votes = tx.create_list(&group, Vec::new())?;
    ///             tx.create(&group, Poll { question: "Tabs?".into(), votes })
    ///         })
    ///         .await?;
    ///
    ///     // What clients need: the worker's account and the poll with its votes.
    ///     let for_clients =
    ///         worker.client_bundle().with(poll.id(), Poll::resolve().votes(|v| v)).build()?;
    ///     let server = spawn_server("127.0.0.1:0".parse()?, worker.clone()).await?;
    ///
    ///     // A client (another process would get `for_clients` as JSON): one call.
    ///     let (node, _me) = LocalNode::create_account(new_random_agent_secret()?, "Ada")?;
    ///     let client = for_clients.client(node, format!("http://{}", server.addr()))?;
    ///     let poll = client.load::<Poll>(poll.id(), Poll::resolve().votes(|v| v))?;
    ///     let tally = CastVote::send_request(&client, CastVoteRequest { poll, choice: 2 }).await?;
    ///     assert_eq!(tally.votes, 1);
    ///
    ///     // Stop: the server (requests in flight answered), then the worker.
    ///     server.shutdown().await?;
    ///     worker.shutdown().await?;
    ///     # drop(worker);
    ///     # std::fs::remove_dir_all(&dir)?;
    ///     Ok(())
    /// }
    /// ```
    pub fn create_account(name: &str, store: impl Into<PathBuf>) -> Result<Self, WorkerStartError> {
        let store = store.into();
        let secret = new_random_agent_secret().map_err(WorkerStartError::Random)?;
        let (mut node, account) = LocalNode::create_account(secret.clone(), name)?;
        let storage = SqliteStorage::open(&store).map_err(|source| WorkerStartError::Store {
            path: store.clone(),
            source,
        })?;
        node.attach_storage(Arc::new(storage));
        node.flush()?;
        Ok(Self::new(account, secret, store))
    }

    /// The same options with the sync server at `url`.
    #[must_use]
    pub fn with_sync_server(mut self, url: impl Into<String>) -> Self {
        self.sync_server = Some(url.into());
        self
    }

    /// Reads `JAZZ_WORKER_ACCOUNT`, `JAZZ_WORKER_SECRET` and, optionally, `JAZZ_REQ_STORE` and
    /// `JAZZ_SYNC_SERVER`.
    pub fn from_env() -> Result<Self, WorkerStartError> {
        let var = |name| std::env::var(name).map_err(|_| WorkerStartError::Missing(name));
        let account = CoID::parse(var("JAZZ_WORKER_ACCOUNT")?.trim())
            .map_err(|_| WorkerStartError::Invalid("JAZZ_WORKER_ACCOUNT"))?;
        let secret_text = zeroize::Zeroizing::new(var("JAZZ_WORKER_SECRET")?);
        let secret = AgentSecret::parse(secret_text.trim())
            .map_err(|_| WorkerStartError::Invalid("JAZZ_WORKER_SECRET"))?;
        let store =
            std::env::var_os("JAZZ_REQ_STORE").map_or_else(|| DEFAULT_STORE.into(), PathBuf::from);
        let sync_server = std::env::var("JAZZ_SYNC_SERVER")
            .ok()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        Ok(Self {
            account,
            secret,
            store,
            sync_server,
        })
    }

    /// Starts the worker in one step, as `startWorker` does: opens the store, loads the
    /// account (from the store, else from the sync server), checks the secret is its agent,
    /// connects to the sync server if there is one, and returns a worker to register routes
    /// on (`.register(MyRoute)`) and serve.
    pub async fn start(&self) -> Result<RequestWorker, WorkerStartError> {
        let (node, in_store) = self.open_store()?;
        match &self.sync_server {
            None if !in_store => Err(WorkerStartError::AccountNotStored(self.account.clone())),
            None => {
                RequestWorker::new(node).map_err(|e| WorkerStartError::starting(&self.store, e))
            }
            Some(url) => RequestWorker::connect(node, url, SyncOptions::default())
                .await
                .map_err(|source| match source {
                    PeerStartError::Node(error) => WorkerStartError::starting(&self.store, error),
                    source => WorkerStartError::SyncServer {
                        url: url.clone(),
                        source,
                    },
                }),
        }
    }

    /// Opens the store and loads the worker's account from it (verifying it again), as
    /// `startWorker` loads the worker: the secret must be the account's agent.
    pub fn open_node(&self) -> Result<LocalNode, WorkerStartError> {
        match self.open_store()? {
            (node, true) => Ok(node),
            (_, false) => Err(WorkerStartError::AccountNotStored(self.account.clone())),
        }
    }

    /// The node on the store, and whether the store holds the account.
    fn open_store(&self) -> Result<(LocalNode, bool), WorkerStartError> {
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
        let in_store = node.load_from_storage(&self.account)?;
        Ok((node, in_store))
    }
}
