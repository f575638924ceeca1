//! Making a request's effects durable: what the node accepted and wrote goes to the worker's
//! store (with the replay claims) and then to its sync server before the answer leaves.
//!
//! [`RequestWorker::submit`] runs under the node's lock: it takes what is queued and hands it
//! to the store's writer, so stores land in the order content was taken (a later store never
//! lands before an earlier one: no gaps). It also takes every replay claim made since the
//! previous submit: a request's claim is made (under the same lock) before anything it
//! writes, so whichever store first carries its writes — its own, or a concurrent request's
//! that took them along — carries its claim too.
//!
//! [`RequestWorker::settle`] then waits, without the lock, until the store committed, and only
//! then pushes to the sync server (a worker killed in between must not find, after its
//! restart, effects on the server whose claim it never stored: it would run them again).
//! Pushes keep the order of the takes ([`PushGate`]). With a sync server, every store also
//! records an *outbox* entry per CoValue it holds, released once the server acknowledged
//! them; a worker that starts again pushes what its outbox still names
//! ([`RequestWorker::resume_unsynced`]), so that nothing stored is missing on the server.
//!
//! The waiting runs in a task of its own: a request whose client went away still completes
//! its store and push (later pushes wait for it).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::error::JazzRequestError;
use super::worker::RequestWorker;
use crate::cojson::{ContentMessage, LocalNode};
use crate::crypto::CoID;
use crate::storage::{Claim, PendingStore};
use crate::sync::{PendingPush, SyncClient, SyncError};

/// Stores between two purges of expired claims from the store.
const PURGE_EVERY: u64 = 4096;

/// The storage namespace of the outbox: CoValues stored but maybe not yet on the sync server.
pub(crate) const OUTBOX: &str = "jazz-req/outbox";

/// How long an outbox entry is kept if it is never released (a worker restarted within this
/// pushes it again).
const OUTBOX_KEEP_MS: u64 = 30 * 24 * 3600 * 1000;

/// What a request handed to the store, to be pushed to the sync server once stored.
#[must_use = "a request answers only once what it submitted is settled"]
pub(crate) struct Submitted {
    /// What was taken (forgotten from memory again if the store fails).
    content: Arc<Vec<ContentMessage>>,
    /// The replay claims it carries (claimed again by the next submit if the store fails).
    claims: Vec<Claim>,
    /// Its outbox entries (released once the sync server acknowledged the content).
    outbox: Vec<String>,
    stored: Option<PendingStore>,
    /// Its place in the order of pushes, when there is something to push.
    push_turn: Option<u64>,
    /// How many stores had failed when the request was accepted.
    failures_seen: u64,
}

/// What a request in flight across a failed store wrote may have been in that store.
#[derive(Debug, thiserror::Error)]
#[error("a store failed while this request was in flight: what it wrote may not be stored")]
struct StoreFailedInFlight;

/// Pushes to the sync server in the order their content was taken, each once its store is
/// done (or failed: then it is skipped, and the turn passes on); and tells when every turn up
/// to one is acknowledged. A request waits for that, not only for its own push: what it
/// wrote may have been taken along by an earlier turn.
pub(crate) struct PushGate {
    state: Mutex<GateState>,
    /// How many turns (from the first) are all acknowledged.
    acknowledged: tokio::sync::watch::Sender<u64>,
}

impl Default for PushGate {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            acknowledged: tokio::sync::watch::Sender::new(0),
        }
    }
}

#[derive(Default)]
struct GateState {
    /// The next turn to hand out (under the node's lock).
    next_turn: u64,
    /// The next turn to push.
    next_push: u64,
    /// Turns whose store is done, waiting for the turns before them.
    waiting: BTreeMap<u64, WaitingPush>,
    /// Turns acknowledged (or given up) out of order, above the watermark.
    acknowledged: std::collections::BTreeSet<u64>,
    /// Every turn below this is acknowledged.
    watermark: u64,
}

type PushReply = oneshot::Sender<Option<Result<PendingPush, SyncError>>>;

struct WaitingPush {
    /// `None`: nothing to push (the store failed).
    content: Option<Vec<ContentMessage>>,
    reply: PushReply,
}

impl PushGate {
    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A turn (taken with the node's lock held, in the order content is taken).
    fn turn(&self) -> u64 {
        let mut state = self.state();
        let turn = state.next_turn;
        state.next_turn += 1;
        turn
    }

    /// `turn` is ready; pushes it and every ready turn after it, in order. The reply gets the
    /// pending push once `turn`'s comes.
    fn ready(
        &self,
        sync: &SyncClient,
        turn: u64,
        content: Option<Vec<ContentMessage>>,
    ) -> oneshot::Receiver<Option<Result<PendingPush, SyncError>>> {
        let (reply, answer) = oneshot::channel();
        let mut state = self.state();
        state.waiting.insert(turn, WaitingPush { content, reply });
        loop {
            let next = state.next_push;
            let Some(waiting) = state.waiting.remove(&next) else {
                break;
            };
            state.next_push += 1;
            let pushed = waiting.content.map(|content| sync.submit(content));
            // A request that stopped waiting is no reason to stop the others.
            let _ = waiting.reply.send(pushed);
        }
        answer
    }

    /// `turn` is acknowledged by the server (or given up); returns once every turn up to it
    /// is.
    async fn acknowledged(&self, turn: u64) {
        {
            let mut state = self.state();
            state.acknowledged.insert(turn);
            let mut watermark = state.watermark;
            while state.acknowledged.remove(&watermark) {
                watermark += 1;
            }
            state.watermark = watermark;
            self.acknowledged.send_replace(watermark);
        }
        let mut all = self.acknowledged.subscribe();
        // The sender lives as long as the gate, which outlives this call.
        let _ = all.wait_for(|watermark| *watermark > turn).await;
    }
}

impl RequestWorker {
    /// Takes what is queued in `node` and the claims not yet submitted, and hands them to the
    /// store (call it with the node's lock held; see the module docs). When even taking fails
    /// (the storage cannot say what it holds), everything queued is forgotten so that memory
    /// agrees with the store.
    pub(crate) fn submit(
        &self,
        node: &mut LocalNode,
        failures_seen: u64,
    ) -> Result<Submitted, JazzRequestError> {
        let shared = &self.shared;
        let content = node.take_unsaved().map_err(|error| {
            let forgotten = node.forget_unsaved();
            shared.store_failures.fetch_add(1, Ordering::SeqCst);
            tracing::error!(forgotten = forgotten.len(), "could not take what to store");
            JazzRequestError::internal_while("taking what to store", error)
        })?;
        let mut claims = std::mem::take(&mut *shared.unstored_claims());
        // Every request takes a turn, even with nothing of its own to push: what it wrote may
        // ride with an earlier take, and it answers only once that is acknowledged.
        let push_turn = shared.sync.get().map(|_| shared.pushes.turn());
        let mut outbox = Vec::new();
        if let (Some(turn), Some(_)) = (push_turn, &shared.storage) {
            let expires_at_ms = crate::cojson::clock::now_ms().saturating_add(OUTBOX_KEEP_MS);
            let mut seen: Vec<&CoID> = Vec::new();
            for message in &content {
                if !seen.contains(&&message.id) {
                    seen.push(&message.id);
                    // Sortable: the order of the takes, then the order within one.
                    let key = format!("{turn:020}-{:06}-{}", seen.len(), message.id);
                    outbox.push(key.clone());
                    claims.push(Claim {
                        namespace: OUTBOX.to_owned(),
                        key,
                        expires_at_ms,
                    });
                }
            }
        }
        // Submitted even when empty: the writer commits in order, so once this one is durable
        // so are the earlier stores that may carry this request's writes and claim.
        let stored = shared
            .storage
            .as_ref()
            .map(|storage| storage.submit_with_claims(content.clone(), claims.clone()));
        Ok(Submitted {
            content: Arc::new(content),
            claims,
            outbox,
            stored,
            push_turn,
            failures_seen,
        })
    }

    /// Waits, without the node's lock, until what was submitted is stored, then pushes it to
    /// the sync server (in the order of the takes) and waits for its acknowledgement. If the
    /// store fails, what it held leaves memory (see [`LocalNode::forget_unstored`]), its
    /// claims stay used (the handler ran and may have done what cannot be undone) and are
    /// recorded with the next store, nothing is pushed, and the request gets a 500. A request
    /// during which another store failed gets a 500 too: its writes may have been in that
    /// store.
    pub(crate) async fn settle(&self, submitted: Submitted) -> Result<(), JazzRequestError> {
        let worker = self.clone();
        tokio::spawn(async move { worker.settle_now(submitted).await })
            .await
            .unwrap_or_else(|error| Err(JazzRequestError::internal_while("settling", error)))
    }

    async fn settle_now(&self, submitted: Submitted) -> Result<(), JazzRequestError> {
        let Submitted {
            content,
            claims,
            outbox,
            stored,
            push_turn,
            failures_seen,
        } = submitted;
        let stored = match stored {
            None => Ok(()),
            Some(pending) => {
                let outcome = tokio::task::spawn_blocking(move || pending.wait()).await;
                match outcome {
                    Ok(Ok(_)) => {
                        self.purge_now_and_then();
                        Ok(())
                    }
                    Ok(Err(error)) => {
                        Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>)
                    }
                    Err(error) => Err(Box::new(error) as Box<dyn std::error::Error + Send + Sync>),
                }
            }
        };
        let pushed = match (push_turn, self.shared.sync.get()) {
            (Some(turn), Some(sync)) => {
                let to_push =
                    (stored.is_ok() && !content.is_empty()).then(|| content.as_ref().clone());
                self.shared
                    .pushes
                    .ready(sync, turn, to_push)
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let acknowledged = match pushed {
            None => Ok(()),
            Some(Ok(pending)) => pending.acknowledged().await,
            Some(Err(error)) => Err(error),
        };
        if let Some(turn) = push_turn {
            self.shared.pushes.acknowledged(turn).await;
        }
        if let Err(error) = stored {
            self.forget_unstored(&content, claims);
            return Err(JazzRequestError::internal_while(
                "storing the request's changes",
                error,
            ));
        }
        acknowledged.map_err(|error| {
            tracing::error!(%error, "the sync server did not acknowledge the request's changes");
            JazzRequestError::new("The sync server did not acknowledge the changes", 503)
        })?;
        self.release_outbox(outbox);
        if self.shared.store_failures.load(Ordering::SeqCst) == failures_seen {
            Ok(())
        } else {
            Err(JazzRequestError::internal_while(
                "storing the request's changes",
                StoreFailedInFlight,
            ))
        }
    }

    /// The server has what these outbox entries name: they leave the store (in the
    /// background; one left behind only means one more push after a restart).
    fn release_outbox(&self, keys: Vec<String>) {
        let Some(storage) = self.shared.storage.clone() else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        tokio::task::spawn_blocking(move || {
            if let Err(error) = storage.release(OUTBOX, &keys) {
                tracing::warn!(%error, "could not release outbox entries");
            }
        });
    }

    /// Pushes to the sync server what the store holds of the CoValues its outbox still names
    /// (what a worker stored and was stopped before the server acknowledged it), in the order
    /// it was stored, and waits for the acknowledgement; then the entries are released.
    /// Returns how many CoValues were pushed. Called when a worker with a store becomes a peer
    /// of a sync server.
    pub async fn resume_unsynced(&self) -> Result<usize, JazzRequestError> {
        let (Some(storage), Some(sync)) = (self.shared.storage.clone(), self.shared.sync.get())
        else {
            return Ok(0);
        };
        let reading = storage.clone();
        let mut keys: Vec<String> = tokio::task::spawn_blocking(move || {
            reading.live_claims(OUTBOX, crate::cojson::clock::now_ms())
        })
        .await
        .map_err(|e| JazzRequestError::internal_while("reading the outbox", e))?
        .map_err(|e| JazzRequestError::internal_while("reading the outbox", e))?
        .into_iter()
        .map(|(key, _)| key)
        .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        keys.sort();
        let mut ids: Vec<CoID> = Vec::new();
        for key in &keys {
            let id = key.rsplit('-').next().and_then(|id| CoID::parse(id).ok());
            if let Some(id) = id.filter(|id| !ids.contains(id)) {
                ids.push(id);
            }
        }
        // Into memory (verified again, with what they depend on), so that the server's own
        // questions about them are answered too.
        let content = {
            let mut node = self.shared.node()?;
            let mut content = Vec::new();
            for id in &ids {
                if node.get(id).is_none() {
                    node.load_from_storage(id)
                        .map_err(|e| JazzRequestError::internal_while("loading the outbox", e))?;
                }
                if let Some(value) = node.get(id) {
                    content.extend(value.new_content_since(None));
                }
            }
            content
        };
        tracing::info!(
            covalues = ids.len(),
            "pushing what the store holds and the sync server may lack"
        );
        sync.push(content).await.map_err(|error| {
            tracing::error!(%error, "the sync server did not acknowledge the outbox");
            JazzRequestError::new("The sync server did not acknowledge the changes", 503)
        })?;
        self.release_outbox(keys);
        Ok(ids.len())
    }

    /// After a failed store: what it held leaves memory, its claims go to the next store.
    fn forget_unstored(&self, content: &Arc<Vec<ContentMessage>>, claims: Vec<Claim>) {
        self.shared
            .unstored_claims()
            .extend(claims.into_iter().filter(|claim| claim.namespace != OUTBOX));
        match self.shared.lock_node() {
            Ok(mut node) => {
                let forgotten = node.forget_unstored(content.as_ref().clone());
                self.shared.store_failures.fetch_add(1, Ordering::SeqCst);
                tracing::error!(
                    forgotten = forgotten.len(),
                    "storing failed: what was not stored left memory"
                );
            }
            Err(lock) => {
                tracing::error!(error = %lock, "storing failed and the node is unusable");
            }
        }
    }

    /// Every [`PURGE_EVERY`] stores, expired claims leave the store (amortised: the table
    /// holds about the last minute of requests, not every request ever).
    fn purge_now_and_then(&self) {
        let Some(storage) = self.shared.storage.clone() else {
            return;
        };
        let count = self.shared.stores.fetch_add(1, Ordering::Relaxed);
        if count.is_multiple_of(PURGE_EVERY) {
            tokio::task::spawn_blocking(move || {
                if let Err(error) = storage.purge_expired(crate::cojson::clock::now_ms()) {
                    tracing::warn!(%error, "could not purge expired claims");
                }
            });
        }
    }
}
