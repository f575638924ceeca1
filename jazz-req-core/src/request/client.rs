//! The client side: jazz-tools' `send(values)` — build and sign an envelope for the worker,
//! POST it, and verify, import and load the response.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::body::SignedBody;
use super::clock::{Clock, SystemClock};
use super::envelope::{
    create_envelope, import_pieces, pieces_to_import, read_envelope, sign_envelope,
};
use super::error::{JAZZ_REQUEST_ERROR_HEADER, JazzRequestError, SendError};
use super::route::RouteSpec;
use crate::cojson::permissions_role::Role;
use crate::cojson::{LocalNode, NodeError, ResolveQuery};
use crate::crypto::CoID;

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
        }
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
        let answer = self
            .http
            .post(&route.url)
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
        let response = self.read_response(status, is_error, &bytes, &route.response_resolve);
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
    pub fn read_response(
        &self,
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
        let pieces = pieces_to_import(&signed, false)?;
        let mut node = self.node()?;
        import_pieces(&mut node, pieces)?;
        let made_by = read_envelope(&node, &signed.id)?.sender;
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
