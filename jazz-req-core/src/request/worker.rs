//! The worker side: `handle(request, worker, callback)` over the `http` crate's types.
//!
//! A request goes through cheap checks first (size, content type, JSON, shape, expiry), then
//! the token, and only then anything that writes: the replay claim, the import of the
//! envelope's pieces, the `$handled` mark, the handler, the response envelope, and one
//! durable store of everything before the answer leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tracing::Instrument as _;

use super::body::SignedBody;
use super::clock::{Clock, SystemClock};
use super::envelope::{
    HANDLED_KEY, create_envelope, envelope_values, import_pieces, pieces_to_import, read_envelope,
};
use super::error::JazzRequestError;
use super::handler::{Handler, RequestContext};
use super::outgoing::OutgoingBody;
use super::replay::{ReplayGuard, StoredReplayGuard};
use super::route::RouteSpec;
use crate::cojson::permissions_role::Role;
use crate::cojson::{LocalNode, NodeError, Privacy};
use crate::crypto::CoID;
use crate::storage::Storage;

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
    storage: Option<Arc<dyn Storage>>,
    guard: Arc<dyn ReplayGuard>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    /// Decoded public keys of the signers seen (decoding a point costs a few µs).
    signer_keys: Mutex<HashMap<crate::crypto::SignerID, crate::crypto::VerifyingKey>>,
}

impl WorkerShared {
    pub(crate) fn lock_node(&self) -> Result<MutexGuard<'_, LocalNode>, NodeError> {
        self.node.lock().map_err(|_| NodeError::CannotWrite {
            id: self.account.clone(),
            reason: "the worker's node lock is poisoned".into(),
        })
    }

    fn node(&self) -> Result<MutexGuard<'_, LocalNode>, JazzRequestError> {
        self.lock_node()
            .map_err(|e| JazzRequestError::internal(e.to_string()))
    }
}

/// A worker answering jazz-tools requests: its account's node, its storage and replay guard,
/// its clock, and its routes.
#[derive(Clone)]
pub struct RequestWorker {
    shared: Arc<WorkerShared>,
    routes: Arc<HashMap<String, Route>>,
}

impl std::fmt::Debug for RequestWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestWorker")
            .field("account", &self.shared.account)
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
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
        let guard = Arc::new(StoredReplayGuard::new(storage.clone()));
        Ok(Self {
            shared: Arc::new(WorkerShared {
                account,
                node: Mutex::new(node),
                storage,
                guard,
                clock,
                config,
                signer_keys: Mutex::new(HashMap::new()),
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
            Route {
                spec,
                handler: Arc::new(handler),
            },
        );
        self
    }

    /// The largest body this worker accepts, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.shared.config.max_body_bytes
    }

    /// The worker's account.
    pub fn account(&self) -> &CoID {
        &self.shared.account
    }

    /// Runs `f` on the worker's node (see [`RequestContext::with_node`]).
    pub fn with_node<T>(
        &self,
        f: impl FnOnce(&mut LocalNode) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        self.shared.lock_node()?.batch(f)
    }

    /// Answers an HTTP request: routes by path; 404 for an unknown path, 405 for a method
    /// other than POST. Every failure is a `JazzRequestError` body.
    pub async fn handle(&self, request: http::Request<Bytes>) -> http::Response<Bytes> {
        let path = request.uri().path().to_owned();
        let Some(route) = self.routes.get(&path) else {
            return JazzRequestError::new(format!("No route for {path}"), 404).to_response();
        };
        if request.method() != http::Method::POST {
            return JazzRequestError::new("Requests are sent with POST", 405).to_response();
        }
        self.handle_route(&route.spec, route.handler.as_ref(), request)
            .await
    }

    /// Answers a request for one route (what jazz-tools' `route.handle` does).
    pub async fn handle_route(
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
        let outcome = self
            .process(spec, handler, request)
            .instrument(span.clone())
            .await;
        let response = match outcome {
            Ok(body) => json_response(http::StatusCode::OK, body),
            Err(error) => error.to_response(),
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
            return Err(JazzRequestError::new(
                format!(
                    "Request body is larger than {} bytes",
                    self.shared.config.max_body_bytes
                ),
                413,
            ));
        }
        let Accepted {
            signed,
            sender,
            values,
            fresh,
        } = self.accept(&body, &spec.request_resolve)?;
        let current = tracing::Span::current();
        current.record("message_id", tracing::field::display(&signed.id));
        current.record("sender", tracing::field::display(&sender));

        let ctx = RequestContext {
            worker: self.shared.clone(),
            made_by: sender.clone(),
            envelope: signed.id.clone(),
            values,
        };
        match handler.call(ctx).await {
            Ok(response_values) => self.respond(spec, &fresh, &sender, &response_values).await,
            Err(error) => {
                // What the handler wrote before failing (and the `$handled` mark) is kept.
                let content = {
                    let mut node = self.shared.node()?;
                    let content = node.take_unsaved().unwrap_or_default();
                    node.evict(&fresh);
                    content
                };
                self.store(content).await?;
                Err(error)
            }
        }
    }

    /// Every check and write before the handler: returns the body, the sender and the values.
    fn accept(
        &self,
        body: &[u8],
        resolve: &crate::cojson::ResolveQuery,
    ) -> Result<Accepted, JazzRequestError> {
        let signed = self.check_body(body)?;
        let now = self.shared.clock.now_ms();
        let created_at = signed.created_at_ms();
        #[allow(clippy::cast_precision_loss)] // ms timestamps are far below 2^53
        let expiry_f = self.shared.config.expiry_ms as f64;
        let pieces = pieces_to_import(&signed, true)?;

        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked finite above
        let valid_until = (created_at + expiry_f).max(0.0) as u64;
        let first = self
            .shared
            .guard
            .claim(&signed.id, valid_until, now)
            .map_err(|e| JazzRequestError::internal(format!("replay guard: {e}")))?;
        if !first {
            return Err(already_handled());
        }

        let mut node = self.shared.node()?;
        let fresh = import_pieces(&mut node, pieces)?;
        match Self::admit(&mut node, &self.shared.account, &signed, resolve) {
            Ok((sender, values)) => Ok(Accepted {
                signed,
                sender,
                values,
                fresh,
            }),
            Err(error) => {
                // Refused after import: what this request brought leaves memory again.
                node.evict(&fresh);
                Err(error)
            }
        }
    }

    /// The checks on the imported envelope, then the `$handled` mark.
    fn admit(
        node: &mut LocalNode,
        worker: &CoID,
        signed: &SignedBody,
        resolve: &crate::cojson::ResolveQuery,
    ) -> Result<(CoID, Map<String, Value>), JazzRequestError> {
        let envelope = read_envelope(node, &signed.id)?;
        let sender = envelope.sender;
        let sender_signer = node
            .get(&sender)
            .and_then(|v| v.header().account_agent().map(|a| a.signer));
        if sender_signer != Some(signed.signer_id) {
            return Err(JazzRequestError::new(
                "Request was not signed by its sender",
                401,
            ));
        }
        if envelope.fields.get(HANDLED_KEY) == Some(&json!(worker.as_str())) {
            return Err(already_handled());
        }
        let values = envelope_values(node, &signed.id, &envelope.fields, resolve)?;
        node.batch(|node| {
            node.map_set(
                &signed.id,
                HANDLED_KEY,
                json!(worker.as_str()),
                Privacy::Private,
            )
        })
        .map_err(|e| JazzRequestError::internal(format!("marking the request handled: {e}")))?;
        Ok((sender, values))
    }

    /// Builds, signs and stores the response; answers only once it is stored.
    async fn respond(
        &self,
        spec: &RouteSpec,
        request_fresh: &[CoID],
        sender: &CoID,
        values: &Map<String, Value>,
    ) -> Result<String, JazzRequestError> {
        let now = self.shared.clock.now_ms();
        let (payload, content) = {
            let mut node = self.shared.node()?;
            let response = create_envelope(&mut node, sender, Role::Reader, values)
                .map_err(|e| JazzRequestError::internal(format!("building the response: {e}")))?;
            let pieces = node
                .export_pieces(&response, &spec.response_resolve)
                .map_err(|e| JazzRequestError::internal(format!("exporting the response: {e}")))?;
            let response_group = owner_of(&node, &response);
            let payload =
                OutgoingBody::sign(pieces, response.clone(), now, &node.reader().agent.signer);
            let content = node
                .take_unsaved()
                .map_err(|e| JazzRequestError::internal(e.to_string()))?;
            // The envelopes are answered: what they hold goes to storage, not memory. Only
            // what this request brought or made leaves (a client may name an existing group
            // as its envelope's owner: that group stays).
            let mut done: Vec<CoID> = request_fresh.to_vec();
            done.extend([Some(response), response_group].into_iter().flatten());
            node.evict(&done);
            (payload, content)
        };
        self.store(content).await?;
        Ok(payload.success_text())
    }

    /// Stores content durably (outside the node lock, so concurrent requests share commits).
    async fn store(
        &self,
        content: Vec<crate::cojson::ContentMessage>,
    ) -> Result<(), JazzRequestError> {
        let Some(storage) = self.shared.storage.clone() else {
            return Ok(());
        };
        if content.is_empty() {
            return Ok(());
        }
        let result = tokio::task::spawn_blocking(move || {
            let stored = storage.store(&content);
            (stored, content)
        })
        .await;
        match result {
            Ok((Ok(_), _)) => Ok(()),
            Ok((Err(error), content)) => {
                if let Ok(mut node) = self.shared.lock_node() {
                    node.restore_unsaved(content);
                }
                Err(JazzRequestError::internal(format!(
                    "storing the request's changes: {error}"
                )))
            }
            Err(error) => Err(JazzRequestError::internal(format!("storage task: {error}"))),
        }
    }

    /// Verifies and decodes a captured request body as this worker, without handling it or
    /// writing anything durable (for inspection): shape, expiry, token, pieces, sender.
    pub fn decode(&self, body: &[u8]) -> Result<DecodedRequest, JazzRequestError> {
        let signed = self.check_body(body)?;
        let pieces = pieces_to_import(&signed, true)?;
        let mut node = self.shared.node()?;
        import_pieces(&mut node, pieces)?;
        let envelope = read_envelope(&node, &signed.id)?;
        let values = envelope_values(
            &mut node,
            &signed.id,
            &envelope.fields,
            &crate::cojson::ResolveQuery::Value,
        )?;
        Ok(DecodedRequest {
            id: signed.id,
            created_at: signed.created_at,
            sender: envelope.sender,
            values,
        })
    }
}

impl RequestWorker {
    /// The checks that need no state: JSON, shape, expiry (and a `createdAt` too far in the
    /// future), and the token.
    fn check_body(&self, body: &[u8]) -> Result<SignedBody, JazzRequestError> {
        let json: Value = serde_json::from_slice(body).map_err(|e| {
            JazzRequestError::invalid_payload(Some(
                json!({"reason": format!("body is not JSON: {e}")}),
            ))
        })?;
        let signed = SignedBody::from_json(&json)?;
        let now = self.shared.clock.now_ms();
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

/// A request that passed every check and is marked handled.
struct Accepted {
    signed: SignedBody,
    sender: CoID,
    values: Map<String, Value>,
    /// The CoValues the request brought that the node did not have.
    fresh: Vec<CoID>,
}

/// The group that owns `id`, if `id` is a value owned by a group.
fn owner_of(node: &LocalNode, id: &CoID) -> Option<CoID> {
    match &node.get(id)?.header().ruleset {
        crate::cojson::header::Ruleset::OwnedByGroup { group, .. } => Some(group.clone()),
        _ => None,
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
