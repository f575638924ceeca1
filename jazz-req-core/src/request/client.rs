//! The client side: jazz-tools' `send(values)` — build and sign an envelope for the worker,
//! POST it, and verify, import and load the response.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::body::SignedBody;
use super::client_errors::{ClientLoadError, ImportError, Waiting};
use super::clock::{Clock, SystemClock};
use super::envelope::{
    create_envelope, import_pieces, pieces_to_import, read_envelope, sign_envelope,
};
use super::error::{JAZZ_REQUEST_ERROR_HEADER, JazzRequestError, SendError};
use super::route::RouteSpec;
use super::typed_route::Route;
use crate::cojson::permissions_role::Role;
use crate::cojson::{LocalNode, NodeError, ResolveQuery};
use crate::crypto::CoID;
use crate::schema::{CoMapSchema, Loaded, ResolveBuilder, read_loaded, to_json_fields};

/// A loaded response.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The response envelope's id.
    pub id: CoID,
    /// Who made the response (the worker's account).
    pub made_by: CoID,
    /// The response as jazz-tools' `toJSON()` shows it: its fields, with every loaded
    /// reference expanded and `"$jazz": {"id"}` on maps.
    pub value: Value,
}

/// Sends requests as the account of its node.
#[derive(Clone, Debug)]
pub struct RequestClient {
    node: Arc<Mutex<LocalNode>>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// What a route's path is joined to (`http://host:port`).
    base_url: Option<String>,
    /// The worker of routes that leave it to the client.
    worker: Option<CoID>,
}

impl RequestClient {
    /// A client acting as the account of `node`, on the system clock.
    pub fn new(node: LocalNode) -> Self {
        Self::with_clock(node, Arc::new(SystemClock))
    }

    /// A client with the clock of your choice (tests).
    pub fn with_clock(node: LocalNode, clock: Arc<dyn Clock>) -> Self {
        Self {
            node: Arc::new(Mutex::new(node)),
            http: reqwest::Client::new(),
            clock,
            base_url: None,
            worker: None,
        }
    }

    /// The same client joining route paths to `base_url` (e.g. `http://127.0.0.1:8080`).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        let base: String = base_url.into();
        self.base_url = Some(base.trim_end_matches('/').to_owned());
        self
    }

    /// The same client sending the routes that name no worker to `worker`.
    #[must_use]
    pub fn with_worker(mut self, worker: CoID) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Imports CoValue content (pieces as jazz-tools exports them) into the client's node:
    /// the worker's account, a CoValue to send, …
    ///
    /// Pieces may come in any order within one call: one that needs another (the account that
    /// signed it, the group that owns it) waits for it and is applied when it arrives. If some
    /// still wait at the end, the call fails with [`ImportError::Waiting`], naming them and
    /// what they wait for (they stay queued: importing what is missing applies them); a piece
    /// that is not content or does not verify fails with the piece's index.
    pub fn import_pieces(&self, pieces: &[Value]) -> Result<(), ImportError> {
        let mut node = self.node()?;
        // What each queued CoValue waited for when its pieces came.
        let mut queued: Vec<Waiting> = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            let message = crate::cojson::ContentMessage::from_json(piece)
                .map_err(|source| ImportError::NotAPiece { index, source })?;
            let covalue = message.id.clone();
            match node.import(message) {
                Ok(crate::cojson::ImportOutcome::Queued { missing }) => {
                    let missing = missing.into_iter().filter(|id| id != &covalue);
                    match queued.iter_mut().find(|w| w.covalue == covalue) {
                        Some(waiting) => waiting.missing.extend(missing),
                        None => queued.push(Waiting {
                            missing: missing.collect(),
                            covalue,
                        }),
                    }
                }
                Ok(crate::cojson::ImportOutcome::Applied(_)) => {}
                Err(source) => {
                    return Err(ImportError::Refused {
                        index,
                        covalue,
                        source: Box::new(source),
                    });
                }
            }
        }
        // Those still queued at the end, with what of their dependencies is still absent
        // (all they waited for, if that arrived and they wait on something deeper).
        let waiting: Vec<Waiting> = queued
            .into_iter()
            .filter(|w| node.pending().iter().any(|m| m.id == w.covalue))
            .map(|mut w| {
                let mut absent: Vec<CoID> = Vec::new();
                for id in &w.missing {
                    if node.get(id).is_none() && !absent.contains(id) {
                        absent.push(id.clone());
                    }
                }
                if !absent.is_empty() {
                    w.missing = absent;
                }
                w
            })
            .collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(ImportError::Waiting(waiting))
        }
    }

    /// Reads the CoMap `id` as `T` from the client's node, loading what `resolve` names.
    ///
    /// Fails naming the CoValue and what to do: [`ClientLoadError::NotLoaded`] (import it
    /// first), [`ClientLoadError::NotReadable`] (the account has no key for it: a map read
    /// without its key would otherwise look like a map missing its fields), or
    /// [`ClientLoadError::Schema`] (it does not fit `T`).
    pub fn load<T: CoMapSchema>(
        &self,
        id: &CoID,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, ClientLoadError> {
        let node = self.node()?;
        read_loaded(&node, id, &resolve.into_query())
            .map_err(|error| ClientLoadError::explain(&node, T::NAME, error))
    }

    /// Sends a typed request on the route `R` (what the stub `#[jazz_request]` generates
    /// calls): its worker and URL come from the route (or this client's defaults), and the
    /// response comes back loaded as the route's response resolve says.
    ///
    /// The body carries what jazz-tools 0.20.19's `send` puts in it: the envelope alone
    /// (`resolve: true`: with its group and the accounts in it), not the CoValues its
    /// fields name. A worker (jazz-tools' or [`RequestWorker`](super::RequestWorker)) takes
    /// only the envelope and what it directly depends on from a request, and finds what the
    /// request names (loaded as the route's request resolve says) in its store or on its sync
    /// server: anything more would be signed, sent and dropped.
    pub async fn send_route<R: Route>(
        &self,
        request: R::Request,
    ) -> Result<Loaded<R::Response>, SendError> {
        let worker = R::WORKER.resolve(self.worker.as_ref())?;
        let url = if R::URL.contains("://") {
            R::URL.to_owned()
        } else {
            let base = self
                .base_url
                .as_deref()
                .ok_or(SendError::NoBaseUrl(R::URL))?;
            format!("{base}{}", R::URL)
        };
        let values = to_json_fields(&request);
        let response_resolve = R::response_resolve();
        let body = self.request_body(&worker, &values)?;
        let response = self.post(&url, &worker, &body, &response_resolve).await?;
        let node = self.node()?;
        Ok(read_loaded(&node, &response.id, &response_resolve)?)
    }

    /// The client's node (to load the worker's account, read responses further, …).
    pub fn node(&self) -> Result<MutexGuard<'_, LocalNode>, NodeError> {
        self.node.lock().map_err(|_| NodeError::CannotWrite {
            id: CoID::from_bytes(&[0]),
            reason: "the client's node lock is poisoned".into(),
        })
    }

    /// Builds the signed body `send` would POST: a group where the worker is writer, an
    /// envelope with `values` in it, its pieces (`resolve: true`) and the token.
    pub fn request_body(
        &self,
        worker: &CoID,
        values: &Map<String, Value>,
    ) -> Result<SignedBody, SendError> {
        let mut node = self.node()?;
        let worker_loaded = node
            .get(worker)
            .is_some_and(|v| v.header().account_agent().is_some());
        if !worker_loaded {
            return Err(JazzRequestError::new("Worker account not found", 400).into());
        }
        let envelope = create_envelope(&mut node, worker, Role::Writer, values)?;
        let body = sign_envelope(&node, &envelope, &ResolveQuery::Value, self.clock.now_ms())?;
        node.flush()?;
        Ok(body)
    }

    /// Sends `values` to the worker `worker` on `route` and returns the loaded response, or
    /// the typed error the worker answered.
    pub async fn send(
        &self,
        route: &RouteSpec,
        worker: &CoID,
        values: &Map<String, Value>,
    ) -> Result<Response, SendError> {
        let body = self.request_body(worker, values)?;
        self.post(&route.url, worker, &body, &route.response_resolve)
            .await
    }

    /// POSTs a signed body for `worker` and reads the answer, then forgets the request's
    /// envelope.
    async fn post(
        &self,
        url: &str,
        worker: &CoID,
        body: &SignedBody,
        response_resolve: &ResolveQuery,
    ) -> Result<Response, SendError> {
        let answer = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_json().to_string())
            .send()
            .await
            .map_err(|e| SendError::Transport(e.to_string()))?;
        let status = answer.status().as_u16();
        let is_error = answer.headers().contains_key(JAZZ_REQUEST_ERROR_HEADER);
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| SendError::Transport(e.to_string()))?;
        let response = self.read_response(worker, status, is_error, &bytes, response_resolve);
        self.forget_request(&body.id)?;
        response
    }

    /// Drops a sent request's envelope and its group from memory (they were stored, if the
    /// node has storage, when the request was made).
    fn forget_request(&self, envelope: &CoID) -> Result<(), SendError> {
        let mut node = self.node()?;
        let group = node.get(envelope).and_then(|v| match &v.header().ruleset {
            crate::cojson::header::Ruleset::OwnedByGroup { group, .. } => Some(group.clone()),
            _ => None,
        });
        let ids: Vec<CoID> = std::iter::once(envelope.clone()).chain(group).collect();
        node.evict(&ids);
        Ok(())
    }

    /// Reads a worker's answer as jazz-tools' client does: a non-2xx status is a
    /// `JazzRequestError` (the body's when the error header is set, else "Request failed");
    /// a 2xx body must be `{type: "success", payload}` whose payload verifies, imports and
    /// loads with `resolve`.
    ///
    /// More than jazz-tools, the answer must come from `worker`, the worker the request was
    /// sent to: its body signed by the worker's agent (else
    /// [`SendError::ResponseNotSignedByWorker`], checked before anything is imported) and its
    /// envelope made by the worker's account (else [`SendError::ResponseNotFromWorker`]). A
    /// valid response of another account (a proxy or a server answering for a worker it is
    /// not) is never taken for the worker's.
    pub fn read_response(
        &self,
        worker: &CoID,
        status: u16,
        is_jazz_error: bool,
        body: &Bytes,
        resolve: &ResolveQuery,
    ) -> Result<Response, SendError> {
        if !(200..300).contains(&status) {
            let error = is_jazz_error
                .then(|| serde_json::from_slice::<Value>(body).ok())
                .flatten()
                .and_then(|b| JazzRequestError::from_body(&b))
                .unwrap_or_else(|| JazzRequestError::new("Request failed", status));
            return Err(error.into());
        }
        let invalid = || JazzRequestError::new("Response payload is not valid", 400);
        let json: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
        if json.get("type") != Some(&json!("success")) {
            return Err(invalid().into());
        }
        let payload = json.get("payload").ok_or_else(invalid)?;
        let signed = SignedBody::from_json(payload)?;
        signed.verify_token()?;
        let mut node = self.node()?;
        let worker_signer = node
            .get(worker)
            .and_then(|v| v.header().account_agent().map(|a| a.signer));
        if worker_signer != Some(signed.signer_id) {
            return Err(SendError::ResponseNotSignedByWorker {
                worker: worker.clone(),
                signer: signed.signer_id,
            });
        }
        let pieces = pieces_to_import(&signed, false)?;
        import_pieces(&mut node, pieces)?;
        let made_by = read_envelope(&node, &signed.id)?.sender;
        if &made_by != worker {
            return Err(SendError::ResponseNotFromWorker {
                expected: worker.clone(),
                made_by,
            });
        }
        if node.missing_for(&signed.id, resolve).is_some() {
            return Err(JazzRequestError::new("Value not found", 400).into());
        }
        let value = node
            .loaded_tree(&signed.id)
            .map_err(|_| JazzRequestError::new("Value not found", 400))?;
        node.flush()?;
        Ok(Response {
            id: signed.id,
            made_by,
            value,
        })
    }
}
