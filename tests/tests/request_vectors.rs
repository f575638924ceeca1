//! Every exchange of `requests.json`, made by jazz-tools 0.20.19: the Rust worker decodes each
//! request body (its clock at the body's `createdAt`) and gets the values and sender the JS
//! worker got; the Rust client reads each response as the JS client did (`clientResult` or
//! `clientError`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use bytes::Bytes;
use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery, keys::Reader};
use jazz_req_core::crypto::{AgentSecret, CoID};
use jazz_req_core::request::{ManualClock, RequestClient, RequestWorker, WorkerConfig};
use jazz_req_tests::fixtures::{load_from, vectors_dir};
use serde_json::{Value, json};

struct Vectors {
    requests: Value,
    crypto: Value,
}

fn vectors() -> Vectors {
    let dir = vectors_dir();
    Vectors {
        requests: load_from(&dir, "requests.json").unwrap(),
        crypto: load_from(&dir, "crypto.json").unwrap(),
    }
}

/// A node for agent `n` of crypto.json acting as `account`, holding `account`'s own piece
/// (taken from `pieces`, as a worker or client has its account from its own storage).
fn node_for(v: &Vectors, n: usize, account: &str, pieces: &[Value]) -> LocalNode {
    let secret =
        AgentSecret::parse(v.crypto["agents"][n]["agentSecret"].as_str().unwrap()).unwrap();
    let account = CoID::parse(account).unwrap();
    let mut node = LocalNode::new(Reader::new(Some(account.clone()), secret));
    for piece in pieces.iter().filter(|p| p["id"] == json!(account.as_str())) {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    assert!(node.get(&account).is_some(), "own account piece missing");
    node
}

/// `want` as the JS client showed it vs the Rust tree: equal, except that a reference the
/// Rust client cannot expand (its content was not in the vectors) may stay an id string.
fn same_tree(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::String(id), Value::Object(w)) => {
            w.get("$jazz").and_then(|j| j.get("id")) == Some(&json!(id))
        }
        (Value::Object(g), Value::Object(w)) => {
            g.len() == w.len()
                && g.iter()
                    .all(|(k, gv)| w.get(k).is_some_and(|wv| same_tree(gv, wv)))
        }
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| same_tree(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => got == want,
    }
}

fn created_at(body: &Value) -> u64 {
    body["createdAt"].as_u64().unwrap()
}

#[test]
fn the_worker_decodes_every_request_as_jazz_tools_did() {
    let v = vectors();
    let worker = v.requests["workerAccountID"].as_str().unwrap();
    let client = v.requests["clientAccountID"].as_str().unwrap();
    let exchanges = v.requests["exchanges"].as_array().unwrap();
    assert!(!exchanges.is_empty());
    for exchange in exchanges {
        let label = exchange["label"].as_str().unwrap_or("?");
        let body = &exchange["requestBody"];
        let pieces = body["contentPieces"].as_array().unwrap();
        let node = node_for(&v, 2, worker, pieces);
        let clock = Arc::new(ManualClock::new(created_at(body)));
        let rust_worker = RequestWorker::with_clock(node, clock, WorkerConfig::default()).unwrap();
        let decoded = rust_worker
            .decode(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(decoded.sender.as_str(), client, "{label}: sender");
        assert_eq!(decoded.id.as_str(), body["id"].as_str().unwrap());
        let want = exchange["requestValues"].as_object().unwrap();
        assert_eq!(decoded.values.len(), want.len(), "{label}: fields");
        for (field, value) in want {
            assert!(
                same_tree(&decoded.values[field], value),
                "{label}: {field}: {} vs {value}",
                decoded.values[field]
            );
        }
    }
}

#[test]
fn the_client_reads_every_response_as_jazz_tools_did() {
    let v = vectors();
    let client = v.requests["clientAccountID"].as_str().unwrap();
    for exchange in v.requests["exchanges"].as_array().unwrap() {
        let label = exchange["label"].as_str().unwrap_or("?");
        let request_pieces = exchange["requestBody"]["contentPieces"].as_array().unwrap();
        let node = node_for(&v, 0, client, request_pieces);
        let body = &exchange["responseBody"];
        let clock = Arc::new(ManualClock::new(
            exchange["requestBody"]["createdAt"].as_u64().unwrap(),
        ));
        let rust_client = RequestClient::with_clock(node, clock);
        let status = u16::try_from(exchange["responseStatus"].as_u64().unwrap()).unwrap();
        let is_error = exchange["responseHeaders"]
            .get("x-jazz-request-error")
            .is_some();
        let has_ticket = body["payload"]["contentPieces"]
            .as_array()
            .is_some_and(|p| p.len() > 4);
        let resolve = ResolveQuery::from_json(&if has_ticket {
            json!({"ticket": true})
        } else {
            json!(true)
        })
        .unwrap();
        let result =
            rust_client.read_response(status, is_error, &Bytes::from(body.to_string()), &resolve);
        match (&exchange["clientResult"], &exchange["clientError"]) {
            (want, Value::Null) if !want.is_null() => {
                let response = result.unwrap_or_else(|e| panic!("{label}: {e}"));
                assert!(
                    same_tree(&response.value, want),
                    "{label}: {} vs {want}",
                    response.value
                );
                assert_eq!(
                    response.made_by.as_str(),
                    v.requests["workerAccountID"].as_str().unwrap()
                );
            }
            (_, want) => {
                let error = result
                    .err()
                    .unwrap_or_else(|| panic!("{label}: expected an error"));
                let error = error
                    .as_jazz_request_error()
                    .unwrap_or_else(|| panic!("{label}: {error}"));
                assert_eq!(error.message, want["message"].as_str().unwrap(), "{label}");
                assert_eq!(
                    u64::from(error.code),
                    want["code"].as_u64().unwrap(),
                    "{label}"
                );
                assert_eq!(
                    error.details.clone().unwrap_or(Value::Null),
                    want["details"],
                    "{label}"
                );
            }
        }
    }
}
