//! The worker side: `handle(request, worker, callback)` over the `http` crate's types.
//!
//! A request goes through cheap checks first (size, content type, JSON, shape, expiry), then
//! the token, then the import of the envelope's pieces and the checks on what they hold
//! (sender, values, decryption, the route's schema with its `same_owner` guards, and that the
//! worker may write to what the route declares it `writes`). Only a request that passed all
//! of them claims its id in the replay guard (so a refused copy never uses up the id of the
//! genuine request) and gets the `$handled` mark; then the handler, the response envelope,
//! and one durable store of the request's effects (the envelope with its mark, the claim,
//! what the handler wrote) before the answer leaves. The response itself goes to the client
//! in the body and is not kept.
//!
//! Failures caused by what a request carries are 4xx; a 5xx is the worker's own fault and its
//! body says only "Internal server error" (the cause goes to the log). When storing fails,
//! what could not be stored leaves memory, so that no later request sees or builds on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tracing::Instrument as _;

use super::body::SignedBody;
use super::clock::{Clock, SystemClock};
use super::durable::{AwaitSync, Submitted};
use super::envelope::{
    HANDLED_KEY, ReadEnvelope, check_decryptable, create_envelope_in, envelope_values,
    import_pieces, import_prepared_pieces, pieces_to_import, read_envelope, unreadable,
};
use super::error::JazzRequestError;
use super::handler::{Handler, RequestContext};
use super::in_flight::InFlightSenders;
use super::outgoing::OutgoingBody;
use super::replay::{ReplayGuard, StoredReplayGuard};
use super::route::RouteSpec;
use crate::cojson::{LocalNode, NodeError, Privacy};
use crate::crypto::CoID;
use crate::storage::{Claim, Storage};

/// From this many bytes of private changes in a request, its new CoValues are decrypted and
/// parsed before the node's lock is taken (below it, doing so costs more than it saves).
const DECODE_AHEAD_BYTES: usize = 16 * 1024;

/// From this size on, a body is checked and prepared on a blocking thread rather than on the
/// runtime's (see `RequestWorker::accept`).
const OFF_RUNTIME_BYTES: usize = 64 * 1024;

/// Limits and windows of a worker.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Largest accepted body, in bytes (default 1 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// How long a request stays acceptable after its `createdAt` (default 60 s, as
    /// jazz-tools).
    pub expiry_ms: u64,
    /// How far in the future a `createdAt` may be (default 10 s; jazz-tools accepts any).
    pub future_skew_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            expiry_ms: 60_000,
            future_skew_ms: 10_000,
        }
    }
}

#[derive(Clone)]
struct Route {
    spec: RouteSpec,
    handler: Arc<dyn Handler>,
}

/// What every request of a worker shares.
pub(crate) struct WorkerShared {
    pub(crate) account: CoID,
    node: Mutex<LocalNode>,
    pub(crate) storage: Option<Arc<dyn Storage>>,
    guard: Arc<dyn ReplayGuard>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    /// Decoded public keys of the signers seen (decoding a point costs a few µs).
    signer_keys: Mutex<HashMap<crate::crypto::SignerID, crate::crypto::VerifyingKey>>,
    /// How many stores have failed (changed under the node lock): a request in flight across
    /// a failure may have had its writes in the failed batch, so it does not answer 200.
    pub(crate) store_failures: AtomicU64,
    /// The per-CoValue locks of routes declared `serialize = field`.
    pub(crate) serial: super::serial::SerialLocks,
    /// How many stores this worker made (expired claims are purged every [`PURGE_EVERY`]).
    pub(crate) stores: AtomicU64,
    /// The sync server this worker is a peer of, if any.
    pub(crate) sync: std::sync::OnceLock<crate::sync::SyncClient>,
    /// Replay claims made and not yet handed to the store (see `durable`).
    unstored_claims: Mutex<Vec<Claim>>,
    /// The senders of accepted requests not yet answered (see `in_flight`).
    in_flight: Mutex<InFlightSenders>,
    /// Pushes to the sync server in the order their content was taken (see `durable`).
    pub(crate) pushes: super::durable::PushGate,
    /// Permits for answers that left before the sync server acknowledged them.
    pub(crate) answered_unacknowledged: Arc<tokio::sync::Semaphore>,
    /// The store, taken for this worker alone while it lives (see
    /// [`Storage::lock_for_worker`]).
    _store_lock: Option<crate::storage::WorkerLock>,
}

impl WorkerShared {
    pub(crate) fn lock_node(&self) -> Result<MutexGuard<'_, LocalNode>, NodeError> {
        self.node.lock().map_err(|_| NodeError::CannotWrite {
            id: self.account.clone(),
            reason: "the worker's node lock is poisoned".into(),
        })
    }

    /// The replay claims not yet handed to the store (a poisoned lock is taken over: the list
    /// is only ever pushed to and drained).
    pub(crate) fn unstored_claims(&self) -> MutexGuard<'_, Vec<Claim>> {
        self.unstored_claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn in_flight(&self) -> MutexGuard<'_, InFlightSenders> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What a request brought (`ids`) leaves memory, accounts too, unless another request in
    /// flight uses them; `done` is the sender of an accepted request now answered (its
    /// account stays among the recent senders', see `in_flight`).
    fn leave(&self, node: &mut LocalNode, ids: &[CoID], done: Option<&Accepted>) {
        let mut in_flight = self.in_flight();
        let mut ids = ids.to_vec();
        if let Some(accepted) = done {
            in_flight.unpin_all(node, &accepted.pinned);
            in_flight.keep_recent(node, &accepted.sender, &mut ids);
        }
        in_flight.evict(node, &ids);
    }

    /// What a handler created leaves memory once its answer is stored, and with a sync
    /// server once the server acknowledged it (`waited`: what the answer waited for): the
    /// ticket and the group a booking made are not read again by the worker, and a request
    /// that names them later loads them from the store (with a sync server, brought up to
    /// date from it, see `load_through_peers`). Kept: what a request in flight brought, what
    /// holds content not yet stored (a later request wrote to it meanwhile), and accounts.
    fn release_created(&self, created: &[CoID], waited: AwaitSync) {
        if created.is_empty() || (self.sync.get().is_some() && waited != AwaitSync::Acknowledged) {
            return;
        }
        let Ok(mut node) = self.lock_node() else {
            return;
        };
        let in_flight = self.in_flight();
        let leaving: Vec<CoID> = created
            .iter()
            .filter(|id| !in_flight.is_pinned(id) && *id != &self.account && !node.has_unstored(id))
            .cloned()
            .collect();
        drop(in_flight);
        node.evict(&leaving);
    }

    /// What a request's answer waits for: `wait`, or more when what it `submitted` carries
    /// a write of a handler (see [`Submitted::await_sync`]); with the node's lock held,
    /// before the request leaves.
    fn await_sync(&self, submitted: &Submitted, wait: AwaitSync) -> AwaitSync {
        let in_flight = self.in_flight();
        let waits = submitted.await_sync(wait, &self.account, |id| in_flight.is_pinned(id));
        if waits != wait {
            tracing::debug!("what the handler wrote outside its context waits for the sync server");
        }
        waits
    }

    /// The group `sender`'s responses go in: the one kept for it, or a new one, kept from now
    /// on (see `in_flight`).
    fn response_group(
        &self,
        node: &mut LocalNode,
        sender: &CoID,
    ) -> Result<CoID, JazzRequestError> {
        if let Some(group) = self.in_flight().response_group(node, sender) {
            return Ok(group);
        }
        let group = super::envelope::response_group(node, sender)
            .map_err(|e| JazzRequestError::internal_while("building the response group", e))?;
        self.in_flight().keep_response_group(sender, group.clone());
        Ok(group)
    }

    /// A refused request's imported content leaves the store queue (see `in_flight`).
    fn unqueue(&self, node: &mut LocalNode, queued: &[crate::cojson::ContentMessage]) {
        self.in_flight().unqueue(node, queued);
    }

    pub(crate) fn node(&self) -> Result<MutexGuard<'_, LocalNode>, JazzRequestError> {
        self.lock_node()
            .map_err(|e| JazzRequestError::internal_while("locking the worker's node", e))
    }
}

/// A worker answering jazz-tools requests: its account's node, its storage and replay guard,
/// its clock, and its routes.
#[derive(Clone)]
pub struct RequestWorker {
    pub(crate) shared: Arc<WorkerShared>,
    routes: Arc<HashMap<String, Arc<Route>>>,
}

impl std::fmt::Debug for RequestWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestWorker")
            .field("account", &self.shared.account)
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a worker holds in memory now (see [`RequestWorker::memory`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerMemory {
    /// CoValues in the worker's node.
    pub covalues: usize,
    /// Content pieces queued for the store and not yet taken.
    pub queued: usize,
    /// CoValues kept in memory by requests in flight.
    pub pinned: usize,
}

/// A request the worker has verified and decoded (what `jazz-req inspect` shows).
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedRequest {
    /// The envelope's id.
    pub id: CoID,
    /// `createdAt` as received.
    pub created_at: serde_json::Number,
    /// The sender (`madeBy`).
    pub sender: CoID,
    /// The envelope's values.
    pub values: Map<String, Value>,
}

impl RequestWorker {
    /// A worker acting as the account of `node` (which must hold that account), storing in the
    /// node's storage (if attached) and guarding replays there, on the system clock.
    ///
    /// One worker per store: the worker takes its store for itself while it lives (a lock
    /// file next to an SQLite store, released when the last clone of the worker is dropped or
    /// its process ends, crash included); a second worker on the same store, in this process
    /// or another, is refused with [`StorageError::InUse`](crate::storage::StorageError::InUse)
    /// (after waiting up to [`WORKER_LOCK_PATIENCE`](crate::storage::WORKER_LOCK_PATIENCE) for
    /// one that is being dropped).
    pub fn new(node: LocalNode) -> Result<Self, NodeError> {
        Self::with_clock(node, Arc::new(SystemClock), WorkerConfig::default())
    }

    /// Like [`RequestWorker::new`] with a clock and limits of your choice.
    pub fn with_clock(
        node: LocalNode,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Result<Self, NodeError> {
        let account = node
            .reader()
            .account
            .clone()
            .ok_or_else(|| NodeError::CannotWrite {
                id: CoID::from_bytes(&[0]),
                reason: "a worker needs an account".into(),
            })?;
        if node.get(&account).is_none() {
            return Err(NodeError::NotLoaded(account));
        }
        let storage = node.storage().cloned();
        let store_lock = match &storage {
            Some(storage) => storage.lock_for_worker()?,
            None => None,
        };
        let guard = Arc::new(
            StoredReplayGuard::new(storage.as_ref(), clock.now_ms()).map_err(NodeError::from)?,
        );
        Ok(Self {
            shared: Arc::new(WorkerShared {
                account,
                node: Mutex::new(node),
                storage,
                guard,
                clock,
                config,
                signer_keys: Mutex::new(HashMap::new()),
                store_failures: AtomicU64::new(0),
                serial: super::serial::SerialLocks::default(),
                sync: std::sync::OnceLock::new(),
                stores: AtomicU64::new(0),
                unstored_claims: Mutex::new(Vec::new()),
                in_flight: Mutex::new(InFlightSenders::default()),
                pushes: super::durable::PushGate::default(),
                answered_unacknowledged: super::durable::answered_unacknowledged(),
                _store_lock: store_lock,
            }),
            routes: Arc::new(HashMap::new()),
        })
    }

    /// Adds a route (matched by the path of its URL).
    #[must_use]
    pub fn route(mut self, spec: RouteSpec, handler: impl Handler) -> Self {
        let routes = Arc::make_mut(&mut self.routes);
        routes.insert(
            spec.path().to_owned(),
            Arc::new(Route {
                spec,
                handler: Arc::new(handler),
            }),
        );
        self
    }

    /// What the worker holds in memory now: a figure for operators and tests (it should
    /// return to where it was once the requests in flight are done, whatever became of
    /// their clients).
    pub fn memory(&self) -> Result<WorkerMemory, NodeError> {
        let node = self.shared.lock_node()?;
        let pinned = self.shared.in_flight().pinned_count();
        Ok(WorkerMemory {
            covalues: node.ids().count(),
            queued: node.queued_count(),
            pinned,
        })
    }

    /// The largest body this worker accepts, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.shared.config.max_body_bytes
    }

    /// The worker's account.
    pub fn account(&self) -> &CoID {
        &self.shared.account
    }

    /// Answers an HTTP request: routes by path; 404 for an unknown path, 405 for a method
    /// other than POST. Every failure is a `JazzRequestError` body.
    ///
    /// On a tokio runtime the request runs in a task of its own, to the end: a caller that
    /// stops waiting (a client that disconnects, a timeout) does not cut it short at a
    /// waiting point (a load from the sync server, the `serialize` lock, the handler), where
    /// what it brought, pinned and queued would stay in memory for good. A request that
    /// started is finished and cleaned up as if its client were still there (jazz-tools'
    /// handlers, too, run to the end when the client goes away); a replay of it is refused.
    /// A handler that panics is answered 500.
    pub async fn handle(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let path = request.uri().path().to_owned();
        let Some(route) = self.routes.get(&path).cloned() else {
            return JazzRequestError::new(format!("No route for {path}"), 404).to_response();
        };
        if request.method() != http::Method::POST {
            return JazzRequestError::new("Requests are sent with POST", 405).to_response();
        }
        if tokio::runtime::Handle::try_current().is_err() {
            // No runtime to run it on (a caller polling by hand): run it here.
            return self.answer(&route, request).await;
        }
        let worker = self.clone();
        let task = tokio::spawn(async move { worker.answer(&route, request).await });
        task.await.unwrap_or_else(|failed| {
            let error = JazzRequestError::internal_while("running the request", failed);
            error.to_response()
        })
    }

    /// Answers a request for one route (what jazz-tools' `route.handle` does).
    async fn answer(&self, route: &Route, request: http::Request<Bytes>) -> http::Response<Bytes> {
        self.handle_route(&route.spec, route.handler.as_ref(), request)
            .await
    }

    /// Answers a request for one route, in the caller's task: unlike [`RequestWorker::handle`],
    /// a caller that stops polling it cuts it short (see there).
    async fn handle_route(
        &self,
        spec: &RouteSpec,
        handler: &dyn Handler,
        request: http::Request<Bytes>,
    ) -> http::Response<Bytes> {
        let started = Instant::now();
        let span = tracing::info_span!(
            "jazz_request",
            route = %spec.path(),
            message_id = tracing::field::Empty,
            sender = tracing::field::Empty,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        span.in_scope(|| tracing::debug!("request received"));
        let outcome = self
            .process(spec, handler, request)
            .instrument(span.clone())
            .await;
        let response = match outcome {
            Ok(body) => json_response(http::StatusCode::OK, body),
            // In the request's span: a failure's log line names the route, the message id
            // and the sender.
            Err(error) => span.in_scope(|| error.to_response()),
        };
        span.record("outcome", response.status().as_u16());
        span.record("duration_us", started.elapsed().as_micros() as u64);
        span.in_scope(|| tracing::info!(status = response.status().as_u16(), "request answered"));
        response
    }

    async fn process(
        &self,
        spec: &RouteSpec,
        handler: &dyn Handler,
        request: http::Request<Bytes>,
    ) -> Result<String, JazzRequestError> {
        check_content_type(request.headers())?;
        let body = request.into_body();
        if body.len() > self.shared.config.max_body_bytes {
            return Err(JazzRequestError::body_too_large(
                self.shared.config.max_body_bytes,
            ));
        }
        let accepted = self.accept(&body, spec, handler).await?;
        let current = tracing::Span::current();
        current.record("message_id", tracing::field::display(&accepted.signed.id));
        current.record("sender", tracing::field::display(&accepted.sender));

        // Routes declared `serialize = field` run one handler per CoValue at a time. The guard
        // is held until the handler returns: what it wrote is then in the node, where the next
        // handler reads it, and each request still answers only once its own effects (and
        // whatever earlier store carries them) are stored and, as it waits, synced.
        // The lock is also taken on each CoValue the route declares it writes to
        // (`RouteSpec::writes`): two requests naming different CoValues at the top that lead
        // to one written list still run one at a time.
        let serial = match spec.serialize.as_deref() {
            Some(field) => {
                let mut keys: Vec<&str> = accepted.writes.iter().map(CoID::as_str).collect();
                keys.extend(accepted.values.get(field).and_then(Value::as_str));
                self.shared.serial.lock_all(keys).await
            }
            None => Vec::new(),
        };
        let wrote = Arc::new(AtomicBool::new(false));
        let created = Arc::new(std::sync::Mutex::new(Vec::new()));
        let ctx = RequestContext {
            worker: self.shared.clone(),
            made_by: accepted.sender.clone(),
            envelope: accepted.signed.id.clone(),
            values: accepted.values.clone(),
            wrote: Arc::clone(&wrote),
            created: Arc::clone(&created),
        };
        let called = handler.call(ctx).await;
        drop(serial);
        let created = std::mem::take(
            &mut *created
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        // What the answer waits for at the sync server (see `durable`).
        let wait = if wrote.load(Ordering::Relaxed) {
            AwaitSync::Acknowledged
        } else {
            AwaitSync::Stored
        };
        match called {
            Ok(response_values) => {
                let answer = self.respond(spec, &accepted, &response_values, wait).await;
                if answer.is_ok() {
                    self.shared.release_created(&created, wait);
                }
                answer
            }
            Err(error) => {
                // What the handler wrote before failing (and the `$handled` mark) is kept.
                let (submitted, wait) = {
                    let mut node = self.shared.node()?;
                    self.hand_over(&mut node, &accepted, &[], &[], wait)?
                };
                self.settle(submitted, wait).await?;
                Err(error)
            }
        }
    }

    /// The body's checks that need no lock (shape, expiry, token), and its pieces prepared for
    /// the import: verified (and for large content decoded) without the node's lock (see
    /// `cojson::prepared`), which is taken only briefly, for what verifying needs to know of
    /// what the node holds.
    fn check_and_prepare(&self, body: &[u8], now: u64) -> Result<Checked, JazzRequestError> {
        let signed = self.check_body_at(body, now)?;
        let pieces = pieces_to_import(&signed, true)?;
        let mut brought: Vec<CoID> = Vec::new();
        for piece in &pieces {
            if !brought.contains(&piece.id) {
                brought.push(piece.id.clone());
            }
        }
        let basis = self.shared.node()?.import_basis(&pieces);
        let mut prepared = basis.prepare(pieces);
        if prepared.private_bytes() >= DECODE_AHEAD_BYTES {
            prepared.decode_ahead();
        }
        Ok(Checked {
            signed,
            brought,
            prepared,
        })
    }

    /// Every check and write before the handler: returns the body, the sender and the values.
    async fn accept(
        &self,
        body: &Bytes,
        spec: &RouteSpec,
        handler: &dyn Handler,
    ) -> Result<Accepted, JazzRequestError> {
        let resolve = &spec.request_resolve;
        // One reading of the clock for the whole request: the expiry check and the replay
        // claim must agree on what "now" is, or a copy crossing the end of the window between
        // the two could find an earlier copy's claim expired and claim the id again.
        let now = self.shared.clock.now_ms();
        // A large body is checked and prepared on a blocking thread: parsing, hashing and
        // verifying a megabyte takes milliseconds, which would otherwise hold up the
        // requests waiting on this runtime thread.
        let checked =
            if body.len() >= OFF_RUNTIME_BYTES && tokio::runtime::Handle::try_current().is_ok() {
                let worker = self.clone();
                let body = body.clone();
                tokio::task::spawn_blocking(move || worker.check_and_prepare(&body, now))
                    .await
                    .map_err(|e| JazzRequestError::internal_while("checking the request", e))??
            } else {
                self.check_and_prepare(body, now)?
            };
        let Checked {
            signed,
            brought,
            prepared,
        } = checked;
        #[allow(clippy::cast_precision_loss)] // ms timestamps are far below 2^53
        let expiry_f = self.shared.config.expiry_ms as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked finite
        let valid_until = (signed.created_at_ms() + expiry_f).max(0.0) as u64;
        let time = RequestTime { now, valid_until };
        let imported = {
            let mut node = self.shared.node()?;
            let failures_seen = self.shared.store_failures.load(Ordering::SeqCst);
            let before = node.queued_count();
            let fresh = import_prepared_pieces(&mut node, prepared)?;
            let queued = node.queued_since(before);
            let imported = Imported {
                signed,
                brought,
                fresh,
                queued,
                failures_seen,
            };
            // With a sync server, what the resolve names and the node lacks is loaded from it
            // first, without the node's lock (without one, `admit` loads from the store).
            // When the node holds it all already, the lock is kept and the envelope's read
            // goes on to `admit` (read once).
            let needs_peers =
                self.shared.sync.get().is_some() && *resolve != crate::cojson::ResolveQuery::Value;
            if !needs_peers {
                return self.admit_imported(&mut node, imported, spec, handler, time, None);
            }
            if let Some(read) = read_if_resolved(&node, &imported.signed.id, resolve) {
                return self.admit_imported(&mut node, imported, spec, handler, time, Some(read));
            }
            imported
        };
        let loaded = self
            .shared
            .load_through_peers(&imported.signed.id, resolve)
            .await;
        let mut node = self.shared.node()?;
        if let Err(error) = loaded {
            self.shared.unqueue(&mut node, &imported.queued);
            self.shared.leave(&mut node, &imported.fresh, None);
            return Err(error.to_request_error());
        }
        self.admit_imported(&mut node, imported, spec, handler, time, None)
    }

    /// `admit` for a request whose content is `imported`, with the node's lock held since
    /// (or taken again: then what another request took out of memory meanwhile is brought
    /// again).
    fn admit_imported(
        &self,
        node: &mut LocalNode,
        imported: Imported,
        spec: &RouteSpec,
        handler: &dyn Handler,
        time: RequestTime,
        envelope_read: Option<ReadEnvelope>,
    ) -> Result<Accepted, JazzRequestError> {
        let Imported {
            signed,
            brought,
            mut fresh,
            mut queued,
            failures_seen,
        } = imported;
        // When the lock was let go after the import, a request answered meanwhile takes
        // what *it* brought out of memory, and that may be what this one found already there
        // (a concurrent copy of the same body, a group two requests share). Brought again.
        if brought.iter().any(|id| node.get(id).is_none()) {
            let before = node.queued_count();
            let again =
                pieces_to_import(&signed, true).and_then(|pieces| import_pieces(node, pieces));
            queued.extend(node.queued_since(before));
            match again {
                Ok(back) => {
                    for id in back {
                        if !fresh.contains(&id) {
                            fresh.push(id);
                        }
                    }
                }
                Err(error) => {
                    self.shared.unqueue(node, &queued);
                    self.shared.leave(node, &fresh, None);
                    return Err(error);
                }
            }
        }
        let arriving = Arriving {
            signed: &signed,
            brought: &brought,
            time,
            envelope_read,
        };
        let admitted = self.admit(node, arriving, spec, handler);
        match admitted {
            Ok(Admitted {
                sender,
                values,
                writes,
            }) => {
                let mut pinned = brought;
                if !pinned.contains(&sender) {
                    pinned.push(sender.clone());
                }
                self.shared.in_flight().pin_all(&pinned);
                Ok(Accepted {
                    signed,
                    sender,
                    values,
                    writes,
                    fresh,
                    failures_seen,
                    pinned,
                })
            }
            Err(Refused { error, marked }) => {
                // Refused after import: what this request brought leaves memory again (and
                // the envelope, if it got the `$handled` mark of a request that does not run).
                let mut leaving = fresh;
                if marked && !leaving.contains(&signed.id) {
                    leaving.push(signed.id.clone());
                }
                // What it added to CoValues that stay (a returning sender's account) is not
                // stored either. (Another request's store may have taken it meanwhile, if
                // that request was answered between this one's import and now.)
                self.shared.unqueue(node, &queued);
                self.shared.leave(node, &leaving, None);
                Err(error)
            }
        }
    }

    /// The checks on the imported envelope, then the `$handled` mark and the replay claim.
    ///
    /// The claim comes last, once nothing the request carries can refuse it any more: a copy
    /// re-signed by someone else, or one whose content does not import, verify or decrypt,
    /// must not use up the id of the genuine request. It stays atomic: of concurrent copies
    /// exactly one wins the claim (the guard's promise), the others are answered "already
    /// handled".
    fn admit(
        &self,
        node: &mut LocalNode,
        request: Arriving<'_>,
        spec: &RouteSpec,
        handler: &dyn Handler,
    ) -> Result<Admitted, Refused> {
        let Arriving {
            signed,
            brought,
            time: RequestTime { now, valid_until },
            envelope_read,
        } = request;
        let worker = &self.shared.account;
        let envelope = match envelope_read {
            Some(read) => read,
            None => read_envelope(node, &signed.id)?,
        };
        let sender = envelope.sender;
        let sender_signer = node
            .get(&sender)
            .and_then(|v| v.header().account_agent().map(|a| a.signer));
        if sender_signer != Some(signed.signer_id) {
            return Err(JazzRequestError::new("Request was not signed by its sender", 401).into());
        }
        if envelope.fields.get(HANDLED_KEY) == Some(&json!(worker.as_str())) {
            return Err(already_handled().into());
        }
        let values = envelope_values(node, &signed.id, &envelope.fields, &spec.request_resolve)?;
        check_decryptable(node, brought)?;
        handler.check(&signed.id, &values, node)?;
        let writes = super::writes::writable_targets(node, &values, &spec.writes)?;
        node.batch(|node| {
            node.map_set(
                &signed.id,
                HANDLED_KEY,
                json!(worker.as_str()),
                Privacy::Private,
            )
        })
        .map_err(|e| match e {
            // The envelope's group does not let the worker write: the request's fault.
            NodeError::NoReadKey { .. }
            | NodeError::CannotWrite { .. }
            | NodeError::NotPermitted { .. }
            | NodeError::MissingDependency { .. }
            | NodeError::WrongKind { .. } => Refused {
                error: unreadable(
                    &signed.id,
                    &format!("the worker cannot mark the request handled: {e}"),
                ),
                marked: true,
            },
            other => Refused {
                error: JazzRequestError::internal_while("marking the request handled", other),
                marked: true,
            },
        })?;
        let claimed = self
            .shared
            .guard
            .claim(&signed.id, valid_until, now)
            .map_err(|e| Refused {
                error: JazzRequestError::internal_while("claiming the request id", e),
                marked: true,
            })?;
        let Some(claim) = claimed else {
            return Err(Refused {
                error: already_handled(),
                marked: true,
            });
        };
        // Recorded with the next store that takes content: before anything this request
        // writes (see `durable`).
        if self.shared.storage.is_some() {
            self.shared.unstored_claims().push(claim);
        }
        Ok(Admitted {
            sender,
            values,
            writes,
        })
    }

    /// Builds and signs the response; answers only once the request's effects are stored
    /// (and, as `wait` says, on the sync server).
    async fn respond(
        &self,
        spec: &RouteSpec,
        accepted: &Accepted,
        values: &Map<String, Value>,
        wait: AwaitSync,
    ) -> Result<String, JazzRequestError> {
        let now = self.shared.clock.now_ms();
        let (built, handed) = {
            let mut node = self.shared.node()?;
            let group = self.shared.response_group(&mut node, &accepted.sender);
            let built = group
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|group| Self::build_response(&mut node, spec, group, values, now));
            // The response and its group go to the client in the body; they are neither
            // stored nor pushed (see `submit`). The response leaves memory now, the group
            // stays for the sender's next answer.
            let response: Vec<CoID> = built.iter().map(|(_, id)| id.clone()).collect();
            let mut not_kept = response.clone();
            not_kept.extend(group.ok());
            let handed = self.hand_over(&mut node, accepted, &not_kept, &response, wait);
            (built, handed)
        };
        let (submitted, wait) = handed?;
        // What the handler wrote is stored even when the response could not be built.
        self.settle(submitted, wait).await?;
        built.map(|(payload, _)| payload.success_text())
    }

    /// With the node's lock held, once an accepted request's handler returned: hands what is
    /// to be stored to the store (all but `not_kept`, see `submit`), says what the answer
    /// waits for (`wait`, or more: see `WorkerShared::await_sync`), and lets what the request
    /// brought (and `leaving`) leave memory. The envelopes are answered: what they hold goes
    /// to storage, not memory. Only what this request brought or made leaves (a client may
    /// name an existing group as its envelope's owner: that group stays).
    fn hand_over(
        &self,
        node: &mut LocalNode,
        accepted: &Accepted,
        not_kept: &[CoID],
        leaving: &[CoID],
        wait: AwaitSync,
    ) -> Result<(Submitted, AwaitSync), JazzRequestError> {
        let submitted = self.submit(node, accepted.failures_seen, not_kept);
        let wait = match &submitted {
            Ok(submitted) => self.shared.await_sync(submitted, wait),
            Err(_) => wait,
        };
        let mut done: Vec<CoID> = accepted.fresh.clone();
        done.extend_from_slice(leaving);
        self.shared.leave(node, &done, Some(accepted));
        Ok((submitted?.then_unfollow(&accepted.fresh), wait))
    }

    /// The response envelope in `group`, exported and signed: the body and the envelope.
    fn build_response(
        node: &mut LocalNode,
        spec: &RouteSpec,
        group: &CoID,
        values: &Map<String, Value>,
        now: u64,
    ) -> Result<(OutgoingBody, CoID), JazzRequestError> {
        let response = create_envelope_in(node, group, values)
            .map_err(|e| JazzRequestError::internal_while("building the response", e))?;
        let pieces = node
            .export_pieces(&response, &spec.response_resolve)
            .map_err(|e| JazzRequestError::internal_while("exporting the response", e))?;
        let payload =
            OutgoingBody::sign(pieces, response.clone(), now, &node.reader().agent.signer);
        Ok((payload, response))
    }

    /// Verifies and decodes a captured request body as this worker, without handling it or
    /// writing anything durable (for inspection): shape, expiry, token, pieces, sender.
    pub fn decode(&self, body: &[u8]) -> Result<DecodedRequest, JazzRequestError> {
        let signed = self.check_body(body)?;
        let pieces = pieces_to_import(&signed, true)?;
        let brought: Vec<CoID> = pieces.iter().map(|p| p.id.clone()).collect();
        let mut node = self.shared.node()?;
        let fresh = import_pieces(&mut node, pieces)?;
        let decoded = (|| {
            check_decryptable(&node, &brought)?;
            let envelope = read_envelope(&node, &signed.id)?;
            let values = envelope_values(
                &mut node,
                &signed.id,
                &envelope.fields,
                &crate::cojson::ResolveQuery::Value,
            )?;
            Ok(DecodedRequest {
                id: signed.id.clone(),
                created_at: signed.created_at.clone(),
                sender: envelope.sender,
                values,
            })
        })();
        // Inspecting leaves nothing behind: not in memory, not queued for the store.
        self.shared.leave(&mut node, &fresh, None);
        decoded
    }
}

impl RequestWorker {
    /// The checks that need no state: JSON, shape, expiry (and a `createdAt` too far in the
    /// future), and the token.
    fn check_body(&self, body: &[u8]) -> Result<SignedBody, JazzRequestError> {
        self.check_body_at(body, self.shared.clock.now_ms())
    }

    /// [`RequestWorker::check_body`] at the worker's time `now` (read once per request).
    fn check_body_at(&self, body: &[u8], now: u64) -> Result<SignedBody, JazzRequestError> {
        let json: Value = serde_json::from_slice(body).map_err(|e| {
            JazzRequestError::invalid_payload(Some(
                json!({"reason": format!("body is not JSON: {e}")}),
            ))
        })?;
        let signed = SignedBody::from_json_value(json)?;
        let created_at = signed.created_at_ms();
        let config = &self.shared.config;
        #[allow(clippy::cast_precision_loss)] // ms timestamps are far below 2^53
        let (now_f, expiry_f, skew_f) = (
            now as f64,
            config.expiry_ms as f64,
            config.future_skew_ms as f64,
        );
        if !created_at.is_finite() || created_at + expiry_f < now_f {
            return Err(JazzRequestError::new(
                "Authentication token is expired",
                401,
            ));
        }
        if created_at > now_f + skew_f {
            return Err(JazzRequestError::new(
                "Authentication token is not valid yet",
                401,
            ));
        }
        self.verify_token(&signed)?;
        Ok(signed)
    }

    /// Checks the body's token with a cached decoding of its signer's key.
    fn verify_token(&self, signed: &SignedBody) -> Result<(), JazzRequestError> {
        let invalid = || JazzRequestError::new("Invalid signature", 401);
        let cached = self
            .shared
            .signer_keys
            .lock()
            .ok()
            .and_then(|keys| keys.get(&signed.signer_id).cloned());
        let key = match cached {
            Some(key) => key,
            None => {
                let key =
                    crate::crypto::VerifyingKey::new(&signed.signer_id).map_err(|_| invalid())?;
                if let Ok(mut keys) = self.shared.signer_keys.lock() {
                    if keys.len() >= 16_384 {
                        keys.clear();
                    }
                    keys.insert(signed.signer_id, key.clone());
                }
                key
            }
        };
        key.verify_hash(&signed.auth_token, &signed.signing_hash())
            .map_err(|_| invalid())
    }
}

/// A body that passed the checks needing no lock, with its pieces prepared for the import.
struct Checked {
    signed: SignedBody,
    /// The CoValues its pieces are for.
    brought: Vec<CoID>,
    prepared: crate::cojson::PreparedImport,
}

/// A request that passed every check, claimed its id and is marked handled.
pub(crate) struct Accepted {
    signed: SignedBody,
    sender: CoID,
    values: Map<String, Value>,
    /// The CoValues the route declares its handler writes to, as this request names them.
    writes: Vec<CoID>,
    /// The CoValues the request brought that the node did not have.
    fresh: Vec<CoID>,
    /// How many stores had failed when it was accepted.
    failures_seen: u64,
    /// What stays in memory while it runs (see `in_flight`).
    pinned: Vec<CoID>,
}

/// What [`RequestWorker::admit`] found: the sender, the envelope's values, and the CoValues
/// the route writes to.
struct Admitted {
    sender: CoID,
    values: Map<String, Value>,
    writes: Vec<CoID>,
}

/// The worker's one clock reading for a request, and until when (by that clock) the request
/// is acceptable.
#[derive(Clone, Copy, Debug)]
struct RequestTime {
    now: u64,
    valid_until: u64,
}

/// Why [`RequestWorker::admit`] refused a request, and whether the envelope already got the
/// `$handled` mark (then it leaves memory with the rest of what the request brought).
struct Refused {
    error: JazzRequestError,
    marked: bool,
}

impl From<JazzRequestError> for Refused {
    fn from(error: JazzRequestError) -> Self {
        Self {
            error,
            marked: false,
        }
    }
}

fn already_handled() -> JazzRequestError {
    JazzRequestError::new("Request payload is already handled", 400)
}

fn check_content_type(headers: &http::HeaderMap) -> Result<(), JazzRequestError> {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media == "application/json" {
        Ok(())
    } else {
        Err(JazzRequestError::new(
            "Requests must have Content-Type: application/json",
            415,
        ))
    }
}

fn json_response(status: http::StatusCode, body: String) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// What `admit` judges: a request's body, what it brought, when, and its envelope if read
/// already.
struct Arriving<'a> {
    signed: &'a SignedBody,
    brought: &'a [CoID],
    time: RequestTime,
    envelope_read: Option<ReadEnvelope>,
}

/// A request's content as imported, and what it changed in the store queue.
struct Imported {
    signed: SignedBody,
    brought: Vec<CoID>,
    fresh: Vec<CoID>,
    queued: Vec<crate::cojson::ContentMessage>,
    failures_seen: u64,
}

/// The envelope `id` as read now, when everything `resolve` asks for from it is held (nothing
/// to load); `None` otherwise (or when it does not read: `admit` says why).
fn read_if_resolved(
    node: &LocalNode,
    id: &CoID,
    resolve: &crate::cojson::ResolveQuery,
) -> Option<ReadEnvelope> {
    let ReadEnvelope { sender, fields } = read_envelope(node, id).ok()?;
    let value = Value::Object(fields);
    if node.missing_below(id, &value, resolve).is_some() {
        return None;
    }
    let Value::Object(fields) = value else {
        return None;
    };
    Some(ReadEnvelope { sender, fields })
}
