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
//! What the answer waits for at the sync server ([`AwaitSync`]): a request whose handler
//! wrote (through [`RequestContext::transaction`](super::RequestContext::transaction) or
//! [`RequestContext::with_node`](super::RequestContext::with_node)) answers once the server
//! acknowledged everything taken up to its own turn, as jazz-tools waits for what its handler
//! wrote; so does one whose own take carries a write of the worker's on a CoValue that is no
//! request's bookkeeping (a handler that wrote through a clone of the worker,
//! [`Submitted::await_sync`]). A request that wrote nothing but its own bookkeeping (the
//! envelope's `$handled` mark) answers once that is stored; the push follows in take order
//! and is acknowledged in the background, with at most
//! [`SyncOptions::max_answered_unacknowledged`] such answers ahead of the server. The response
//! envelope is neither stored nor pushed: the client has it in the body. What a request
//! brought, and what its handler created, stops being followed by the sync client once its
//! push is acknowledged ([`Submitted::then_unfollow`], [`SyncClient::forget_created`]).
//!
//! An answer is never a 200 while what its handler wrote is unacknowledged: past the sync
//! options' `ack_timeout` it is a 504, and what it wrote stays stored, in the outbox and
//! queued in the sync client (sent again on every reconnection). A turn counts as
//! acknowledged only once the server acknowledged it, however late: a push that timed out is
//! not "settled", so a later request whose writes rode in it still waits (and times out in
//! turn), and the permits of answers that left ahead of the server come back only with the
//! acknowledgement, so that bound holds while the server is away. A push the sync client
//! gives up (the server lacks earlier content nobody holds, or the client shut down) counts
//! as a failed store: every request in flight across it answers 5xx.
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
#[cfg(doc)]
use crate::sync::SyncOptions;
use crate::sync::{PendingPush, SyncClient, SyncError};

/// Stores between two purges of expired claims from the store.
const PURGE_EVERY: u64 = 4096;

/// How many requests may have answered before the sync server acknowledged their bookkeeping
/// (see [`AwaitSync::Stored`]) until the worker becomes a peer of a sync server, whose
/// [`SyncOptions::max_answered_unacknowledged`] then sets it: past this, an answer waits for
/// the server to catch up, so a slow server slows the answers instead of growing what is
/// queued for it.
pub(crate) const MAX_ANSWERED_UNACKNOWLEDGED: usize =
    crate::sync::options::DEFAULT_MAX_ANSWERED_UNACKNOWLEDGED;

/// What a request's answer waits for, beyond its store, when the worker has a sync server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AwaitSync {
    /// The handler wrote: the server has acknowledged every turn up to this request's.
    Acknowledged,
    /// Only bookkeeping was written: stored, and pushed in order in the background.
    Stored,
}

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
    /// What the sync client stops following once this is pushed and acknowledged.
    unfollow: Vec<CoID>,
    /// The CoValues whose header this take carries (new to the store): what of them the
    /// sync client brought to the server (what a handler created) it stops following once
    /// acknowledged ([`SyncClient::forget_created`]).
    created: Vec<CoID>,
}

impl Submitted {
    /// Once this is pushed and acknowledged, the sync client stops following `ids` (what a
    /// request brought, which left memory: its envelope, its group). Otherwise it would
    /// follow every envelope ever handled, and load each again on every reconnection.
    pub(crate) fn then_unfollow(mut self, ids: &[CoID]) -> Self {
        self.unfollow.extend_from_slice(ids);
        self
    }

    /// What the answer waits for: `wait`, or [`AwaitSync::Acknowledged`] when this carries
    /// a handler's write: a transaction of the worker's `account` on a CoValue that is not a
    /// request's bookkeeping (`in_use`: the envelopes and what the requests in flight
    /// brought; the `$handled` mark is the worker's too). A write a handler made without its
    /// context (through a clone of the worker) thus still waits for the sync server when its
    /// own take carries it.
    pub(crate) fn await_sync(
        &self,
        wait: AwaitSync,
        account: &CoID,
        in_use: impl Fn(&CoID) -> bool,
    ) -> AwaitSync {
        let foreign = || {
            self.content.iter().any(|message| {
                !in_use(&message.id)
                    && message
                        .new
                        .iter()
                        .any(|(session, _)| session.author_str() == account.as_str())
            })
        };
        if wait == AwaitSync::Stored && foreign() {
            AwaitSync::Acknowledged
        } else {
            wait
        }
    }
}

/// A request that wrote, unacknowledged by the sync server within the ack timeout.
fn not_acknowledged_in_time() -> JazzRequestError {
    JazzRequestError::new(
        "The sync server has not acknowledged the changes in time",
        504,
    )
}

/// A request that wrote only its bookkeeping, while too many answers are ahead of the sync
/// server for longer than the ack timeout.
fn too_far_ahead() -> JazzRequestError {
    JazzRequestError::new(
        "The sync server has not acknowledged earlier changes; try again later",
        503,
    )
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

/// Permits for answers that leave before the server acknowledged them.
pub(crate) fn answered_unacknowledged() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(MAX_ANSWERED_UNACKNOWLEDGED))
}

/// Sets the permits of a fresh [`answered_unacknowledged`] to `bound` (once, when the worker
/// becomes a peer of a sync server: none is taken yet).
pub(crate) fn bound_answered_unacknowledged(permits: &tokio::sync::Semaphore, bound: usize) {
    // More would make `add_permits` panic.
    let bound = bound.min(tokio::sync::Semaphore::MAX_PERMITS);
    match bound.cmp(&MAX_ANSWERED_UNACKNOWLEDGED) {
        std::cmp::Ordering::Less => {
            permits.forget_permits(MAX_ANSWERED_UNACKNOWLEDGED - bound);
        }
        std::cmp::Ordering::Greater => permits.add_permits(bound - MAX_ANSWERED_UNACKNOWLEDGED),
        std::cmp::Ordering::Equal => {}
    }
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

    /// `turn` is acknowledged by the server (or given up by the sync client; never merely
    /// timed out); returns once every turn up to it is.
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
    ///
    /// What `not_kept` names is neither stored nor pushed: a response envelope and its group.
    /// The client has them in the body (a jazz-tools client's node syncs them to its server
    /// itself), nothing reads them again, and a replayed request is refused, not answered
    /// again.
    pub(crate) fn submit(
        &self,
        node: &mut LocalNode,
        failures_seen: u64,
        not_kept: &[CoID],
    ) -> Result<Submitted, JazzRequestError> {
        let shared = &self.shared;
        let mut content = node.take_unsaved().map_err(|error| {
            let forgotten = node.forget_unsaved();
            shared.store_failures.fetch_add(1, Ordering::SeqCst);
            tracing::error!(forgotten = forgotten.len(), "could not take what to store");
            JazzRequestError::internal_while("taking what to store", error)
        })?;
        content.retain(|message| !not_kept.contains(&message.id));
        let created: Vec<CoID> = match shared.sync.get() {
            Some(_) => content
                .iter()
                .filter(|message| message.header.is_some())
                .map(|message| message.id.clone())
                .collect(),
            None => Vec::new(),
        };
        let mut claims = std::mem::take(&mut *shared.unstored_claims());
        // Every request takes a turn, even with nothing of its own to push: what it wrote may
        // ride with an earlier take, and it answers only once that is acknowledged.
        let push_turn = shared.sync.get().map(|_| shared.pushes.turn());
        let mut outbox = Vec::new();
        if let (Some(turn), Some(_)) = (push_turn, &shared.storage) {
            // One entry per take, sortable by the order of the takes: `{turn}-{id},{id},…` in
            // the order the take holds them.
            let mut ids: Vec<&str> = Vec::new();
            for message in &content {
                if !ids.contains(&message.id.as_str()) {
                    ids.push(message.id.as_str());
                }
            }
            if !ids.is_empty() {
                let key = format!("{turn:020}-{}", ids.join(","));
                outbox.push(key.clone());
                claims.push(Claim {
                    namespace: OUTBOX.to_owned(),
                    key,
                    expires_at_ms: crate::cojson::clock::now_ms().saturating_add(OUTBOX_KEEP_MS),
                });
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
            unfollow: Vec::new(),
            created,
        })
    }

    /// Waits, without the node's lock, until what was submitted is stored, then pushes it to
    /// the sync server (in the order of the takes) and, as `wait` says, waits for its
    /// acknowledgement or lets it come in the background. If the store fails, what it held
    /// leaves memory (see [`LocalNode::forget_unstored`]), its claims stay used (the handler
    /// ran and may have done what cannot be undone) and are recorded with the next store,
    /// nothing is pushed, and the request gets a 500. A request during which another store
    /// failed gets a 500 too: its writes may have been in that store.
    pub(crate) async fn settle(
        &self,
        submitted: Submitted,
        wait: AwaitSync,
    ) -> Result<(), JazzRequestError> {
        let worker = self.clone();
        let (answer, answered) = oneshot::channel();
        tokio::spawn(async move { worker.settle_now(submitted, wait, answer).await });
        answered
            .await
            .unwrap_or_else(|error| Err(JazzRequestError::internal_while("settling", error)))
    }

    async fn settle_now(
        &self,
        submitted: Submitted,
        wait: AwaitSync,
        answer: oneshot::Sender<Result<(), JazzRequestError>>,
    ) {
        let Submitted {
            content,
            claims,
            outbox,
            stored,
            push_turn,
            failures_seen,
            unfollow,
            created,
        } = submitted;
        let stored = match stored {
            None => Ok(()),
            Some(pending) => pending.finished().await.map(|_| self.purge_now_and_then()),
        };
        let sync = push_turn.zip(self.shared.sync.get());
        if let Err(error) = stored {
            if let Some((turn, sync)) = sync {
                // Nothing to push, and the turn passes on.
                let _ = self.shared.pushes.ready(sync, turn, None).await;
                self.shared.pushes.acknowledged(turn).await;
            }
            self.forget_unstored(&content, claims);
            // A request that stopped waiting is no reason to stop.
            let _ = answer.send(Err(JazzRequestError::internal_while(
                "storing the request's changes",
                error,
            )));
            return;
        }
        let mut answer = Some(answer);
        if let Some((turn, sync)) = sync {
            // Not kept meanwhile: a push that waits long for the server holds it only once,
            // in the sync client.
            let to_push = (!content.is_empty()).then(|| Arc::unwrap_or_clone(content));
            let pushed = self
                .shared
                .pushes
                .ready(sync, turn, to_push)
                .await
                .ok()
                .flatten();
            // After the push, on the same channel: forgotten once it is acknowledged.
            if !unfollow.is_empty() {
                sync.forget(&unfollow);
            }
            if !created.is_empty() {
                sync.forget_created(&created);
            }
            let deadline = tokio::time::Instant::now() + sync.options().ack_timeout;
            let mut permit = None;
            if wait == AwaitSync::Stored {
                // Handed to the sync client in order: the answer may leave once fewer than
                // the limit are ahead of the server; past the ack timeout it is a 503.
                let semaphore = Arc::clone(&self.shared.answered_unacknowledged);
                let sent = match tokio::time::timeout_at(deadline, semaphore.acquire_owned()).await
                {
                    Ok(acquired) => {
                        // The semaphore is never closed; without a permit the answer still
                        // may leave.
                        permit = acquired.ok();
                        self.stored_in_time(failures_seen)
                    }
                    Err(_) => {
                        tracing::warn!(
                            "the sync server is behind on acknowledging answered requests"
                        );
                        Err(too_far_ahead())
                    }
                };
                if let Some(answer) = answer.take() {
                    let _ = answer.send(sent);
                }
            }
            let settled = self.acknowledged(turn, pushed);
            tokio::pin!(settled);
            let acknowledged = match answer.take() {
                None => settled.await,
                Some(waiting) => match tokio::time::timeout_at(deadline, &mut settled).await {
                    Ok(acknowledged) => {
                        answer = Some(waiting);
                        acknowledged
                    }
                    Err(_) => {
                        // Never a 200 for what the server does not have; it stays queued,
                        // and this turn counts once the server acknowledges it.
                        tracing::warn!(
                            "the sync server has not acknowledged the request's changes in time"
                        );
                        let _ = waiting.send(Err(not_acknowledged_in_time()));
                        settled.await
                    }
                },
            };
            drop(permit);
            match acknowledged {
                Ok(()) => self.release_outbox(outbox),
                Err(error) => {
                    tracing::error!(
                        %error,
                        "the sync server did not acknowledge the request's changes"
                    );
                    if let Some(answer) = answer.take() {
                        let _ = answer.send(Err(JazzRequestError::new(
                            "The sync server did not acknowledge the changes",
                            503,
                        )));
                    }
                }
            }
        }
        // Unless it already went (before the acknowledgement); a request that stopped waiting
        // is no reason to stop.
        if let Some(answer) = answer {
            let _ = answer.send(self.stored_in_time(failures_seen));
        }
    }

    /// Waits until the server acknowledged `turn`'s push (`pushed`; however long that takes)
    /// and every turn before it. A push the sync client gave up counts as a failed store
    /// (requests in flight across it may have had their writes in it), then the turn passes
    /// on.
    async fn acknowledged(
        &self,
        turn: u64,
        pushed: Option<Result<PendingPush, SyncError>>,
    ) -> Result<(), SyncError> {
        let own = match pushed {
            None => Ok(()),
            Some(Ok(pending)) => pending.acknowledged_eventually().await,
            Some(Err(error)) => Err(error),
        };
        if let Err(error) = &own {
            tracing::error!(
                %error,
                "a push was given up: requests in flight answer 5xx (what it held is stored and in the outbox)"
            );
            self.shared.store_failures.fetch_add(1, Ordering::SeqCst);
        }
        self.shared.pushes.acknowledged(turn).await;
        own
    }

    /// `Ok` unless a store failed while the request was in flight.
    fn stored_in_time(&self, failures_seen: u64) -> Result<(), JazzRequestError> {
        if self.shared.store_failures.load(Ordering::SeqCst) == failures_seen {
            Ok(())
        } else {
            Err(JazzRequestError::internal_while(
                "storing the request's changes",
                StoreFailedInFlight,
            ))
        }
    }

    /// The server has what these outbox entries name: they leave the store (with its next
    /// commit; one left behind only means one more push after a restart).
    fn release_outbox(&self, keys: Vec<String>) {
        if let (Some(storage), false) = (&self.shared.storage, keys.is_empty()) {
            storage.release_in_background(OUTBOX, keys);
        }
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
        // `{turn}-{id},{id},…` (and `{turn}-{position}-{id}` from before one entry per take).
        let mut ids: Vec<CoID> = Vec::new();
        for key in &keys {
            let listed = key.rsplit('-').next().unwrap_or_default().split(',');
            for id in listed.filter_map(|id| CoID::parse(id).ok()) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
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
