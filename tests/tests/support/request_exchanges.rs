//! Checks of the request/response exchanges of a `requests.json`, made by jazz-tools 0.20.19
//! (`experimental_defineRequest`, `tests/js/generator/gen-vectors.mjs`). Shared by
//! `request_vectors.rs` (the committed vectors) and `regenerated_vectors.rs` (vectors
//! regenerated under a fresh salt).
//!
//! - [`check_worker_decodes`]: the Rust worker decodes each request body (its exact text,
//!   the clock at its `createdAt`) into the sender and the values the JS worker got, every
//!   reference expanded as jazz-tools' `toJSON()` shows it (the event with its name, capacity
//!   and reservations, not its id);
//! - [`check_worker_handles`]: the same through `RequestWorker::handle` on the exchange's
//!   route, the handler seeing those values (loaded as the route's resolve asks) and sender;
//! - [`check_request_bytes`] / [`check_response_bytes`]: exporting the envelope from a node
//!   holding the pieces and signing it again gives the exact text the JS client POSTed and
//!   the JS worker answered, byte for byte (piece order, key order, numbers, token);
//! - [`check_client_reads`]: the Rust client reads each response (its exact text) into the
//!   whole tree the JS client's `toJSON()` showed, or into the same typed error.
//!
//! Each returns how many exchanges it checked, or the first mismatch with the exchange's
//! label.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery, keys::Reader};
use jazz_req_core::crypto::{AgentSecret, CoID};
use jazz_req_core::request::{
    JazzRequestError, ManualClock, OutgoingBody, RequestClient, RequestContext, RequestWorker,
    RouteSpec, SignedBody, WorkerConfig,
};
use serde_json::{Map, Value, json};

/// Which agent of `crypto.json` the client and the worker of `requests.json` are.
const CLIENT_AGENT: usize = 0;
const WORKER_AGENT: usize = 2;

/// The vectors an exchange check reads.
pub struct Exchanges<'a> {
    requests: &'a Value,
    crypto: &'a Value,
}

/// One exchange, with what every check needs of it.
struct Exchange<'a> {
    label: String,
    raw: &'a Value,
    request_text: &'a str,
    request: &'a Value,
    route: RouteSpec,
}

impl<'a> Exchanges<'a> {
    /// The exchanges of `requests` (a parsed `requests.json`) with the agents of `crypto`.
    pub fn new(requests: &'a Value, crypto: &'a Value) -> Self {
        Self { requests, crypto }
    }

    fn text(&self, key: &str) -> Result<&'a str, String> {
        self.requests
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("requests.json: {key} missing"))
    }

    fn account(&self, key: &str) -> Result<CoID, String> {
        CoID::parse(self.text(key)?).map_err(|e| format!("{key}: {e}"))
    }

    fn secret(&self, agent: usize) -> Result<AgentSecret, String> {
        let text = self.crypto["agents"][agent]["agentSecret"]
            .as_str()
            .ok_or_else(|| format!("crypto.json: agents[{agent}] missing"))?;
        AgentSecret::parse(text).map_err(|e| e.to_string())
    }

    fn event_pieces(&self) -> Result<&'a [Value], String> {
        self.requests["eventPieces"]
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| "requests.json: eventPieces missing (regenerate the vectors)".into())
    }

    fn exchanges(&self) -> Result<Vec<Exchange<'a>>, String> {
        let all = self.requests["exchanges"]
            .as_array()
            .filter(|e| !e.is_empty())
            .ok_or("requests.json: no exchanges")?;
        all.iter()
            .enumerate()
            .map(|(i, raw)| {
                let label = raw["label"].as_str().unwrap_or("?").to_owned();
                let request_text = raw["requestBodyText"]
                    .as_str()
                    .ok_or_else(|| format!("{label}: requestBodyText missing"))?;
                let url = raw["url"]
                    .as_str()
                    .ok_or_else(|| format!("{label}: url missing"))?;
                Ok(Exchange {
                    label: format!("exchange {i} ({label})"),
                    raw,
                    request_text,
                    request: &raw["requestBody"],
                    route: route_of(url),
                })
            })
            .collect()
    }

    /// A node acting as `account` with agent `agent`, holding `pieces` (imported last
    /// first: dependencies arrive after what needs them and wait in the queue).
    fn node(&self, agent: usize, account: &CoID, pieces: &[&Value]) -> Result<LocalNode, String> {
        let mut node = LocalNode::new(Reader::new(Some(account.clone()), self.secret(agent)?));
        for piece in pieces.iter().rev() {
            let message = ContentMessage::from_json(piece).map_err(|e| e.to_string())?;
            node.import(message).map_err(|e| e.to_string())?;
        }
        if !node.pending().is_empty() {
            return Err(format!("{} piece(s) still waiting", node.pending().len()));
        }
        if node.get(account).is_none() {
            return Err(format!(
                "{account} (the node's own account) not among the pieces"
            ));
        }
        Ok(node)
    }

    /// The worker's node: its account and the event, as the JS worker held them.
    fn worker_node(&self, exchange: &Exchange<'_>) -> Result<LocalNode, String> {
        let worker = self.account("workerAccountID")?;
        let mut pieces: Vec<&Value> = self.event_pieces()?.iter().collect();
        if !pieces.iter().any(|p| p["id"] == json!(worker.as_str())) {
            let own = pieces_of(exchange.request)?
                .iter()
                .find(|p| p["id"] == json!(worker.as_str()))
                .ok_or("the worker's account piece is in neither the event nor the request")?;
            pieces.insert(0, own);
        }
        self.node(WORKER_AGENT, &worker, &pieces)
    }

    /// The client's node: its account (from the request) and the event it loaded.
    fn client_node(&self, exchange: &Exchange<'_>) -> Result<LocalNode, String> {
        let client = self.account("clientAccountID")?;
        let mut pieces: Vec<&Value> = pieces_of(exchange.request)?
            .iter()
            .filter(|p| p["id"] == json!(client.as_str()))
            .collect();
        pieces.extend(self.event_pieces()?);
        self.node(CLIENT_AGENT, &client, &pieces)
    }

    fn clock(exchange: &Exchange<'_>) -> Result<Arc<ManualClock>, String> {
        Ok(Arc::new(ManualClock::new(created_at(exchange.request)?)))
    }

    fn each(
        &self,
        mut check: impl FnMut(&Exchange<'a>) -> Result<(), String>,
    ) -> Result<usize, String> {
        let exchanges = self.exchanges()?;
        for exchange in &exchanges {
            check(exchange).map_err(|e| format!("{}: {e}", exchange.label))?;
        }
        Ok(exchanges.len())
    }

    /// The values the JS worker got, with each reference expanded.
    fn want_values(exchange: &Exchange<'a>) -> Result<&'a Map<String, Value>, String> {
        exchange.raw["requestValues"]
            .as_object()
            .ok_or_else(|| "requestValues missing".into())
    }
}

/// The route of an exchange's URL, with the resolve queries gen-vectors.mjs gave it.
fn route_of(url: &str) -> RouteSpec {
    let spec = RouteSpec::new(url);
    if url.ends_with("/book-event-ticket") {
        let query = |q: Value| ResolveQuery::from_json(&q).unwrap_or(ResolveQuery::Value);
        spec.with_request_resolve(query(json!({"event": {"reservations": true}})))
            .with_response_resolve(query(json!({"ticket": true})))
    } else {
        spec
    }
}

fn pieces_of(body: &Value) -> Result<&[Value], String> {
    body["contentPieces"]
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| "contentPieces missing".into())
}

fn created_at(body: &Value) -> Result<u64, String> {
    body["createdAt"]
        .as_u64()
        .ok_or_else(|| format!("createdAt is not an integer: {}", body["createdAt"]))
}

fn id_of(body: &Value) -> Result<CoID, String> {
    CoID::parse(body["id"].as_str().unwrap_or_default()).map_err(|e| format!("id: {e}"))
}

/// `values` with every field holding a reference the node can read replaced by its whole
/// tree (`toJSON()`): what jazz-tools' handler received.
fn expanded(node: &LocalNode, values: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    values
        .iter()
        .map(|(key, value)| {
            let reference = value.as_str().and_then(|s| CoID::parse(s).ok());
            let value = match reference {
                Some(id) if node.get(&id).is_some() => {
                    node.loaded_tree(&id).map_err(|e| format!("{key}: {e}"))?
                }
                _ => value.clone(),
            };
            Ok((key.clone(), value))
        })
        .collect()
}

/// Whole-value equality: every key and element, numbers by value (`30` and `30.0` are one JS
/// number); an id never stands in for an object.
pub fn same_json(got: &Value, want: &Value, path: &str) -> Result<(), String> {
    let differ = || Err(format!("at {path}: got {got}, want {want}"));
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            if a.as_f64() == b.as_f64() {
                Ok(())
            } else {
                differ()
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return differ();
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_json(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Object(a), Value::Object(b)) => {
            let mut keys_a: Vec<&String> = a.keys().collect();
            let mut keys_b: Vec<&String> = b.keys().collect();
            keys_a.sort();
            keys_b.sort();
            if keys_a != keys_b {
                return Err(format!("at {path}: keys {keys_a:?}, want {keys_b:?}"));
            }
            for (key, value) in a {
                same_json(value, &b[key], &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        _ if got == want => Ok(()),
        _ => differ(),
    }
}

/// Byte equality of two texts, naming where they first differ.
fn same_bytes(what: &str, got: &str, want: &str) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got
        .bytes()
        .zip(want.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| got.len().min(want.len()));
    let around = |text: &str| {
        let start = at.saturating_sub(60);
        String::from_utf8_lossy(&text.as_bytes()[start..(at + 60).min(text.len())]).into_owned()
    };
    Err(format!(
        "{what}: first difference at byte {at} (lengths {} and {}):\n  got  …{}…\n  want …{}…",
        got.len(),
        want.len(),
        around(got),
        around(want)
    ))
}

/// The worker decodes each request into the JS worker's sender and values.
pub fn check_worker_decodes(v: &Exchanges<'_>) -> Result<usize, String> {
    let client = v.account("clientAccountID")?;
    v.each(|exchange| {
        let node = v.worker_node(exchange)?;
        let worker =
            RequestWorker::with_clock(node, Exchanges::clock(exchange)?, WorkerConfig::default())
                .map_err(|e| e.to_string())?;
        let decoded = worker
            .decode(exchange.request_text.as_bytes())
            .map_err(|e| format!("decode: {e}"))?;
        if decoded.sender != client {
            return Err(format!("sender {}, want {client}", decoded.sender));
        }
        if decoded.id != id_of(exchange.request)? {
            return Err(format!("id {}", decoded.id));
        }
        if Value::Number(decoded.created_at.clone()) != exchange.request["createdAt"] {
            return Err(format!("createdAt {}", decoded.created_at));
        }
        let values = worker
            .read_node(|node| Ok(expanded(node, &decoded.values)))
            .map_err(|e| e.to_string())??;
        same_json(
            &Value::Object(values),
            &Value::Object(Exchanges::want_values(exchange)?.clone()),
            "values",
        )
    })
}

/// What a handler saw: the sender and the values, references expanded.
type Seen = Arc<Mutex<Vec<(CoID, Result<Map<String, Value>, String>)>>>;

/// The worker handles each request on its route: the handler runs once and sees the JS
/// worker's sender and values (loaded as the route's resolve asks).
pub fn check_worker_handles(v: &Exchanges<'_>) -> Result<usize, String> {
    let client = v.account("clientAccountID")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    v.each(|exchange| {
        let node = v.worker_node(exchange)?;
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let worker =
            RequestWorker::with_clock(node, Exchanges::clock(exchange)?, WorkerConfig::default())
                .map_err(|e| e.to_string())?
                .route(exchange.route.clone(), move |ctx: RequestContext| {
                    let values = ctx
                        .with_node(|node| Ok::<_, JazzRequestError>(expanded(node, ctx.values())))
                        .unwrap_or_else(|e| Err(e.to_string()));
                    if let Ok(mut seen) = record.lock() {
                        seen.push((ctx.made_by().id().clone(), values));
                    }
                    async move { Ok(Map::new()) }
                });
        let request = http::Request::builder()
            .method("POST")
            .uri(exchange.route.path())
            .header("content-type", "application/json")
            .body(Bytes::copy_from_slice(exchange.request_text.as_bytes()))
            .map_err(|e| e.to_string())?;
        let response = runtime.block_on(worker.handle(request));
        if response.status() != 200 {
            return Err(format!(
                "answered {}: {}",
                response.status(),
                String::from_utf8_lossy(response.body())
            ));
        }
        let seen = seen.lock().map_err(|e| e.to_string())?;
        let [(sender, values)] = seen.as_slice() else {
            return Err(format!("the handler ran {} times", seen.len()));
        };
        if *sender != client {
            return Err(format!("the handler saw sender {sender}, want {client}"));
        }
        let values = values
            .clone()
            .map_err(|e| format!("reading the values: {e}"))?;
        same_json(
            &Value::Object(values),
            &Value::Object(Exchanges::want_values(exchange)?.clone()),
            "values",
        )
    })
}

/// Exporting each request envelope from a node holding its pieces and signing it again as
/// the client gives the exact text the JS client POSTed (what `RequestClient` sends).
pub fn check_request_bytes(v: &Exchanges<'_>) -> Result<usize, String> {
    let client = v.account("clientAccountID")?;
    let signer = v.secret(CLIENT_AGENT)?.signer;
    v.each(|exchange| {
        let pieces: Vec<&Value> = pieces_of(exchange.request)?.iter().collect();
        let node = v.node(CLIENT_AGENT, &client, &pieces)?;
        let id = id_of(exchange.request)?;
        let exported = node
            .export_json(&id, &ResolveQuery::Value)
            .map_err(|e| e.to_string())?;
        let body = SignedBody::sign(exported, id, created_at(exchange.request)?, &signer);
        same_bytes(
            "request body",
            &body.to_json().to_string(),
            exchange.request_text,
        )
    })
}

/// Exporting each response envelope (with the route's response resolve) from a node holding
/// its pieces and signing it again as the worker gives the exact text the JS worker
/// answered; an error answer is the exact `{message, code, details}` text with its status.
pub fn check_response_bytes(v: &Exchanges<'_>) -> Result<usize, String> {
    let worker = v.account("workerAccountID")?;
    let signer = v.secret(WORKER_AGENT)?.signer;
    v.each(|exchange| {
        let want = exchange.raw["responseBodyText"]
            .as_str()
            .ok_or("responseBodyText missing")?;
        let status = exchange.raw["responseStatus"].as_u64().unwrap_or_default();
        let Some(payload) = exchange.raw["responseBody"].get("payload") else {
            let error = JazzRequestError::from_body(&exchange.raw["responseBody"])
                .ok_or("an error body that is not {message, code, details}")?;
            let response = error.to_response();
            if u64::from(response.status().as_u16()) != status {
                return Err(format!("status {}, want {status}", response.status()));
            }
            let header = response.headers().get("x-jazz-request-error");
            if header.and_then(|h| h.to_str().ok()) != Some("true") {
                return Err("no x-jazz-request-error header".into());
            }
            return same_bytes(
                "error body",
                &String::from_utf8_lossy(response.body()),
                want,
            );
        };
        let mut pieces: Vec<&Value> = v.event_pieces()?.iter().collect();
        pieces.extend(pieces_of(payload)?);
        let node = v.node(WORKER_AGENT, &worker, &pieces)?;
        let id = id_of(payload)?;
        let exported = node
            .export_pieces(&id, &exchange.route.response_resolve)
            .map_err(|e| e.to_string())?;
        let body = OutgoingBody::sign(exported, id, created_at(payload)?, &signer);
        same_bytes("response body", &body.success_text(), want)
    })
}

/// The client reads each response into the whole tree the JS client showed, made by the
/// worker, or into the same typed error.
pub fn check_client_reads(v: &Exchanges<'_>) -> Result<usize, String> {
    let worker = v.account("workerAccountID")?;
    v.each(|exchange| {
        let node = v.client_node(exchange)?;
        let client = RequestClient::with_clock(node, Exchanges::clock(exchange)?);
        let status = u16::try_from(exchange.raw["responseStatus"].as_u64().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let is_error = exchange.raw["responseHeaders"]
            .get("x-jazz-request-error")
            .is_some();
        let text = exchange.raw["responseBodyText"]
            .as_str()
            .ok_or("responseBodyText missing")?;
        let result = client.read_response(
            &worker,
            status,
            is_error,
            &Bytes::copy_from_slice(text.as_bytes()),
            &exchange.route.response_resolve,
        );
        match (&exchange.raw["clientResult"], &exchange.raw["clientError"]) {
            (want, Value::Null) if !want.is_null() => {
                let response = result.map_err(|e| format!("reading the response: {e}"))?;
                if response.made_by != worker {
                    return Err(format!("made by {}, want {worker}", response.made_by));
                }
                same_json(&response.value, want, "response")
            }
            (_, want) => {
                let error = match result {
                    Ok(response) => return Err(format!("read {}, want an error", response.value)),
                    Err(error) => error,
                };
                let error = error
                    .as_jazz_request_error()
                    .ok_or_else(|| format!("{error}, not a JazzRequestError"))?;
                let got = json!({
                    "message": error.message,
                    "code": error.code,
                    "details": error.details.clone().unwrap_or(Value::Null),
                });
                same_json(&got, want, "error")
            }
        }
    })
}

/// A check of every exchange: how many it checked, or the first mismatch.
pub type Check = fn(&Exchanges<'_>) -> Result<usize, String>;

/// Every check above, on every exchange; returns each check's name and count.
#[allow(dead_code)] // used by regenerated_vectors.rs, not by request_vectors.rs
pub fn check_all(v: &Exchanges<'_>) -> Result<Vec<(&'static str, usize)>, String> {
    let checks: [(&'static str, Check); 5] = [
        ("worker decodes", check_worker_decodes),
        ("worker handles", check_worker_handles),
        ("request bytes", check_request_bytes),
        ("response bytes", check_response_bytes),
        ("client reads", check_client_reads),
    ];
    checks
        .into_iter()
        .map(|(name, check)| {
            check(v)
                .map(|n| (name, n))
                .map_err(|e| format!("{name}: {e}"))
        })
        .collect()
}
