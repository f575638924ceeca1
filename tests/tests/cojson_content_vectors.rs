//! Every content piece of `covalues.json`, of every scenario of `scenarios.json` and of every
//! request and response body of `requests.json` (committed fixtures, or the folder named by
//! `JAZZ_REQ_VECTORS_DIR`): its header hashes to its id, every session verifies (account
//! signers resolved from the account headers found in the same file), writing it back gives
//! the same JSON, and exporting the imported CoValue gives back the same pieces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::HashMap;

use jazz_req_core::cojson::{AccountSigners, ContentMessage, VerifiedCoValue};
use jazz_req_core::crypto::CoID;
use jazz_req_tests::fixtures::{load_from, section, vectors_dir};
use serde_json::Value;

/// One exported list of pieces, with a label naming where it comes from.
struct PieceList {
    label: String,
    pieces: Vec<Value>,
}

fn file(name: &str) -> Value {
    load_from(&vectors_dir(), name).unwrap_or_else(|e| panic!("{e}"))
}

fn covalues_lists(file: &Value) -> Vec<PieceList> {
    let pieces = file["pieces"]
        .as_object()
        .expect("covalues.json: `pieces` is an object");
    assert!(!pieces.is_empty(), "covalues.json has no pieces");
    let all = pieces
        .iter()
        .flat_map(|(name, list)| {
            let list = list.as_array().unwrap_or_else(|| panic!("pieces.{name}"));
            assert!(!list.is_empty(), "pieces.{name} is empty");
            list.iter().cloned()
        })
        .collect();
    vec![PieceList {
        label: "covalues.json".into(),
        pieces: all,
    }]
}

fn scenario_lists(file: &Value) -> Vec<PieceList> {
    section(file, "scenarios")
        .unwrap_or_else(|e| panic!("scenarios.json: {e}"))
        .iter()
        .enumerate()
        .map(|(i, scenario)| PieceList {
            label: format!("scenarios[{i}] {}", scenario["name"]),
            pieces: section(scenario, "pieces")
                .unwrap_or_else(|e| panic!("scenarios[{i}]: {e}"))
                .to_vec(),
        })
        .collect()
}

fn request_lists(file: &Value) -> Vec<PieceList> {
    let mut lists = Vec::new();
    for (i, exchange) in section(file, "exchanges")
        .unwrap_or_else(|e| panic!("requests.json: {e}"))
        .iter()
        .enumerate()
    {
        lists.push(PieceList {
            label: format!("exchanges[{i}].requestBody"),
            pieces: section(&exchange["requestBody"], "contentPieces")
                .unwrap_or_else(|e| panic!("exchanges[{i}].requestBody: {e}"))
                .to_vec(),
        });
        if let Some(payload) = exchange["responseBody"].get("payload") {
            lists.push(PieceList {
                label: format!("exchanges[{i}].responseBody.payload"),
                pieces: section(payload, "contentPieces")
                    .unwrap_or_else(|e| panic!("exchanges[{i}] payload: {e}"))
                    .to_vec(),
            });
        }
    }
    lists
}

/// Parses every piece and learns the signer of every account whose header is among them.
fn parse_all(lists: &[PieceList]) -> (Vec<Vec<ContentMessage>>, AccountSigners) {
    let mut signers = AccountSigners::new();
    let parsed: Vec<Vec<ContentMessage>> = lists
        .iter()
        .map(|list| {
            list.pieces
                .iter()
                .enumerate()
                .map(|(i, piece)| {
                    ContentMessage::from_json(piece)
                        .unwrap_or_else(|e| panic!("{} piece {i}: {e}", list.label))
                })
                .collect()
        })
        .collect();
    for message in parsed.iter().flatten() {
        if let Some(header) = &message.header
            && header.account_agent().is_some()
        {
            let id = signers.insert_account(header).unwrap();
            assert_eq!(id, message.id);
        }
    }
    (parsed, signers)
}

/// Checks one list; returns the number of transactions verified.
fn check_list(list: &PieceList, messages: &[ContentMessage], signers: &AccountSigners) -> usize {
    let label = &list.label;
    let mut values: Vec<VerifiedCoValue> = Vec::new();
    let mut by_id: HashMap<CoID, usize> = HashMap::new();
    let mut pieces_by_id: HashMap<CoID, Vec<&Value>> = HashMap::new();
    let mut verified = 0;
    for (i, (message, piece)) in messages.iter().zip(&list.pieces).enumerate() {
        if let Some(header) = &message.header {
            assert_eq!(&header.id(), &message.id, "{label} piece {i}: header id");
        }
        assert_eq!(&message.to_json(), piece, "{label} piece {i}: to_json");
        // Byte for byte, key order included (the vectors keep the order cojson wrote).
        assert_eq!(
            message.to_json_string(),
            serde_json::to_string(piece).unwrap(),
            "{label} piece {i}: to_json_string"
        );

        let resolve = |author: &_| signers.resolve(author);
        let expected_new: usize = message
            .new
            .iter()
            .map(|(_, c)| c.new_transactions.len())
            .sum();
        let applied = match by_id.get(&message.id) {
            Some(&index) => values[index]
                .apply_content(message, resolve)
                .unwrap_or_else(|e| panic!("{label} piece {i}: {e}")),
            None => {
                let (value, applied) = VerifiedCoValue::from_content(message, resolve)
                    .unwrap_or_else(|e| panic!("{label} piece {i}: {e}"));
                by_id.insert(message.id.clone(), values.len());
                values.push(value);
                applied
            }
        };
        assert_eq!(applied.total(), expected_new, "{label} piece {i}: all new");
        verified += applied.total();
        pieces_by_id
            .entry(message.id.clone())
            .or_default()
            .push(piece);
    }
    for value in &values {
        let exported: Vec<Value> = value
            .new_content_since(None)
            .iter()
            .map(ContentMessage::to_json)
            .collect();
        let original: Vec<Value> = pieces_by_id[value.id()]
            .iter()
            .map(|v| (*v).clone())
            .collect();
        assert_eq!(exported, original, "{label}: export of {}", value.id());
    }
    verified
}

fn check_file(lists: &[PieceList]) {
    assert!(!lists.is_empty());
    let (parsed, signers) = parse_all(lists);
    for (list, messages) in lists.iter().zip(&parsed) {
        let verified = check_list(list, messages, &signers);
        assert!(verified > 0, "{}: no transaction verified", list.label);
    }
}

#[test]
fn every_covalues_piece_verifies_and_round_trips() {
    check_file(&covalues_lists(&file("covalues.json")));
}

#[test]
fn every_scenario_piece_verifies_and_round_trips() {
    check_file(&scenario_lists(&file("scenarios.json")));
}

#[test]
fn every_request_and_response_piece_verifies_and_round_trips() {
    check_file(&request_lists(&file("requests.json")));
}
