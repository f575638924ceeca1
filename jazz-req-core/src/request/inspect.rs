//! Inspecting a captured request body as a worker would see it: verified, decrypted with the
//! worker's secret, with its sender and values — without handling it or storing anything.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::clock::ManualClock;
use super::error::JazzRequestError;
use super::worker::{RequestWorker, WorkerConfig};
use crate::cojson::keys::Reader;
use crate::cojson::{ContentMessage, LocalNode};
use crate::crypto::{AgentSecret, account_id_for_agent};

/// What `jazz-req inspect` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct InspectReport {
    /// Whether the worker would accept the request.
    pub valid: bool,
    /// The envelope id, if the body has one.
    pub id: Option<String>,
    /// `createdAt`, if the body has one.
    pub created_at: Option<Value>,
    /// The sender's account, when valid.
    pub sender: Option<String>,
    /// The envelope's values, when valid.
    pub values: Option<Map<String, Value>>,
    /// Why the worker would refuse it.
    pub error: Option<JazzRequestError>,
}

impl InspectReport {
    /// `{"valid", "id", "createdAt", "sender", "values", "error": {"code", "message"}}`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("valid".into(), json!(self.valid));
        out.insert("id".into(), json!(self.id));
        out.insert(
            "createdAt".into(),
            self.created_at.clone().unwrap_or(Value::Null),
        );
        out.insert("sender".into(), json!(self.sender));
        out.insert(
            "values".into(),
            self.values.clone().map_or(Value::Null, Value::Object),
        );
        if let Some(error) = &self.error {
            let mut e = Map::new();
            e.insert("code".into(), json!(error.code));
            e.insert("message".into(), json!(error.message));
            if let Some(details) = &error.details {
                e.insert("details".into(), details.clone());
            }
            out.insert("error".into(), Value::Object(e));
        }
        Value::Object(out)
    }
}

/// Verifies and decodes `body` as the worker whose agent secret is `worker`, at `now_ms`:
/// shape, expiry, token, pieces, sender, values. The worker's own account is taken from the
/// body (clients include it, as the envelope group's member).
pub fn inspect(body: &[u8], worker: &AgentSecret, now_ms: u64) -> InspectReport {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|b| b.get(name)).cloned();
    let mut report = InspectReport {
        valid: false,
        id: field("id").and_then(|v| v.as_str().map(str::to_owned)),
        created_at: field("createdAt"),
        sender: None,
        values: None,
        error: None,
    };
    match decode(body, parsed.as_ref(), worker, now_ms) {
        Ok((sender, values)) => {
            report.valid = true;
            report.sender = Some(sender);
            report.values = Some(values);
        }
        Err(error) => report.error = Some(error),
    }
    report
}

fn decode(
    body: &[u8],
    parsed: Option<&Value>,
    worker: &AgentSecret,
    now_ms: u64,
) -> Result<(String, Map<String, Value>), JazzRequestError> {
    let account = account_id_for_agent(&worker.agent_id());
    let mut node = LocalNode::new(Reader::new(Some(account.clone()), worker.clone()));
    let own = parsed
        .and_then(|b| b.get("contentPieces"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("id").and_then(Value::as_str) == Some(account.as_str()));
    for piece in own {
        if let Ok(message) = ContentMessage::from_json(piece) {
            // A piece that does not verify leaves the account unknown: reported below.
            let _ = node.import(message);
        }
    }
    if node.get(&account).is_none() {
        return Err(JazzRequestError::new(
            format!(
                "The body does not carry the worker account {account}: is it the right secret?"
            ),
            400,
        ));
    }
    let clock = Arc::new(ManualClock::new(now_ms));
    let worker = RequestWorker::with_clock(node, clock, WorkerConfig::default())
        .map_err(|e| JazzRequestError::internal(e.to_string()))?;
    let decoded = worker.decode(body)?;
    Ok((decoded.sender.to_string(), decoded.values))
}
