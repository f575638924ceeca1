//! Exporting reproduces jazz-tools' `exportCoValue`: the pieces of every request body in
//! `requests.json` (resolve `true`) and of every response payload (the route's response
//! resolve, `{ticket: true}` when the response references a ticket), piece for piece.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery, keys::Reader};
use jazz_req_core::crypto::{AgentSecret, CoID, stable_stringify};
use jazz_req_tests::fixtures::{load_from, vectors_dir};
use serde_json::{Value, json};

fn node_holding(account: &str, secret: &str, pieces: &[Value]) -> LocalNode {
    let reader = Reader::new(
        Some(CoID::parse(account).unwrap()),
        AgentSecret::parse(secret).unwrap(),
    );
    let mut node = LocalNode::new(reader);
    // Reversed: dependencies arrive after what needs them and wait in the queue.
    for piece in pieces.iter().rev() {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    assert!(node.pending().is_empty(), "pieces still waiting");
    node
}

fn assert_same_pieces(got: &[ContentMessage], want: &[Value], what: &str) {
    let got_ids: Vec<String> = got.iter().map(|m| m.id.to_string()).collect();
    let want_ids: Vec<&str> = want.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(got_ids, want_ids, "{what}: piece order");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            stable_stringify(&g.to_json()),
            stable_stringify(w),
            "{what}: piece {}",
            g.id
        );
    }
}

#[test]
fn request_and_response_pieces_export_in_jazz_tools_order() {
    let dir = vectors_dir();
    let requests = load_from(&dir, "requests.json").unwrap();
    let crypto = load_from(&dir, "crypto.json").unwrap();
    let client_secret = crypto["agents"][0]["agentSecret"].as_str().unwrap();
    let worker_secret = crypto["agents"][2]["agentSecret"].as_str().unwrap();
    let client = requests["clientAccountID"].as_str().unwrap();
    let worker = requests["workerAccountID"].as_str().unwrap();
    let mut checked = 0;
    for exchange in requests["exchanges"].as_array().unwrap() {
        let label = exchange["label"].as_str().unwrap_or("?");
        let body = &exchange["requestBody"];
        let pieces = body["contentPieces"].as_array().unwrap();
        let node = node_holding(worker, worker_secret, pieces);
        let envelope = CoID::parse(body["id"].as_str().unwrap()).unwrap();
        let exported = node.export(&envelope, &ResolveQuery::Value).unwrap();
        assert_same_pieces(&exported, pieces, &format!("{label} request"));
        checked += 1;

        let Some(payload) = exchange["responseBody"].get("payload") else {
            continue;
        };
        let pieces = payload["contentPieces"].as_array().unwrap();
        let node = node_holding(client, client_secret, pieces);
        let response = CoID::parse(payload["id"].as_str().unwrap()).unwrap();
        let has_ticket = node.read(&response).unwrap().value.get("ticket").is_some();
        let resolve = if has_ticket {
            json!({"ticket": true})
        } else {
            json!(true)
        };
        let exported = node
            .export(&response, &ResolveQuery::from_json(&resolve).unwrap())
            .unwrap();
        assert_same_pieces(&exported, pieces, &format!("{label} response"));
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} exports checked");
}
