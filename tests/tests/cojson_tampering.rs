//! Tampered content is rejected with the right typed error and nothing of it is applied.
//!
//! Every piece of `covalues.json` (committed fixtures, or `JAZZ_REQ_VECTORS_DIR`) is tampered
//! with in each way, for each of its sessions (and each transaction where that applies),
//! against the state built from the pieces before it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::HashMap;

use jazz_req_core::cojson::{
    AccountSigners, ContentError, ContentMessage, HeaderError, SessionLogError, VerifiedCoValue,
};
use jazz_req_core::crypto::{self, CoID, SessionID};
use jazz_req_tests::fixtures::{load_from, vectors_dir};
use serde_json::Value;

/// The pieces of `covalues.json` in file order, and the signers of its accounts.
fn pieces() -> (Vec<Value>, AccountSigners) {
    let file = load_from(&vectors_dir(), "covalues.json").unwrap_or_else(|e| panic!("{e}"));
    let pieces: Vec<Value> = file["pieces"]
        .as_object()
        .expect("`pieces` is an object")
        .values()
        .flat_map(|list| list.as_array().expect("a list of pieces").clone())
        .collect();
    assert!(!pieces.is_empty());
    let mut signers = AccountSigners::new();
    for piece in &pieces {
        let message = ContentMessage::from_json(piece).unwrap();
        if let Some(header) = message
            .header
            .as_ref()
            .filter(|h| h.account_agent().is_some())
        {
            signers.insert_account(header).unwrap();
        }
    }
    (pieces, signers)
}

/// Runs `tamper` on every piece, each time against the state built from the pieces before
/// it (then applies the genuine piece). `tamper` gets the piece and the CoValue as it is
/// before the piece, and returns how many tampered variants it checked.
fn for_every_piece(mut tamper: impl FnMut(&Value, &mut VerifiedCoValue, &AccountSigners) -> usize) {
    let (pieces, signers) = pieces();
    let mut values: HashMap<CoID, VerifiedCoValue> = HashMap::new();
    let mut checked = 0;
    for piece in &pieces {
        let message = ContentMessage::from_json(piece).unwrap();
        let value = values.entry(message.id.clone()).or_insert_with(|| {
            let header = message.header.clone().expect("first piece has the header");
            VerifiedCoValue::with_id(&message.id, header).unwrap()
        });
        let before = value.known_state();
        checked += tamper(piece, value, &signers);
        assert_eq!(
            value.known_state(),
            before,
            "nothing of a tampered piece is applied"
        );
        value
            .apply_content(&message, |a| signers.resolve(a))
            .unwrap();
    }
    assert!(checked > 0, "no tampered variant was checked");
}

/// The session ids of a piece and, for each, a mutable view of its content.
fn sessions(piece: &Value) -> Vec<String> {
    piece["new"].as_object().unwrap().keys().cloned().collect()
}

fn apply(
    tampered: &Value,
    value: &mut VerifiedCoValue,
    signers: &AccountSigners,
) -> Result<(), ContentError> {
    let message = ContentMessage::from_json(tampered).expect("a tampered piece still parses");
    value
        .apply_content(&message, |a| signers.resolve(a))
        .map(|_| ())
}

fn assert_invalid_signature(result: Result<(), ContentError>, session: &str, what: &str) {
    match result {
        Err(ContentError::Session(SessionLogError::InvalidSignature { session: s, .. })) => {
            assert_eq!(s.as_str(), session, "{what}: error names the session");
        }
        other => panic!("{what}: expected an invalid signature for {session}, got {other:?}"),
    }
}

/// Tampers with each transaction of each session of `piece` through `edit`.
fn tamper_each_transaction(
    piece: &Value,
    value: &mut VerifiedCoValue,
    signers: &AccountSigners,
    what: &str,
    edit: impl Fn(&mut serde_json::Map<String, Value>),
) -> usize {
    let mut checked = 0;
    for session in sessions(piece) {
        let count = piece["new"][&session]["newTransactions"]
            .as_array()
            .unwrap()
            .len();
        for index in 0..count {
            let mut tampered = piece.clone();
            let tx = tampered["new"][&session]["newTransactions"][index]
                .as_object_mut()
                .unwrap();
            edit(tx);
            let result = apply(&tampered, value, signers);
            assert_invalid_signature(result, &session, &format!("{what} of tx {index}"));
            checked += 1;
        }
    }
    checked
}

#[test]
fn a_changed_transaction_text_is_rejected() {
    for_every_piece(|piece, value, signers| {
        tamper_each_transaction(piece, value, signers, "changed changes", |tx| {
            if let Some(Value::String(changes)) = tx.get_mut("changes") {
                changes.push(' ');
            } else if let Some(Value::String(encrypted)) = tx.get_mut("encryptedChanges") {
                // Change one base64url character in the middle of the ciphertext.
                let at = "encrypted_U".len() + 2;
                let replacement = if encrypted[at..].starts_with('A') {
                    "B"
                } else {
                    "A"
                };
                encrypted.replace_range(at..at + 1, replacement);
            } else {
                panic!("a transaction without changes: {tx:?}");
            }
        })
    });
}

#[test]
fn a_changed_made_at_is_rejected() {
    for_every_piece(|piece, value, signers| {
        tamper_each_transaction(piece, value, signers, "changed madeAt", |tx| {
            let made_at = tx["madeAt"].as_u64().unwrap();
            tx.insert("madeAt".into(), Value::from(made_at + 1));
        })
    });
}

#[test]
fn a_swapped_last_signature_is_rejected() {
    let (pieces, _) = pieces();
    let all_signatures: Vec<String> = pieces
        .iter()
        .flat_map(|p| {
            p["new"]
                .as_object()
                .unwrap()
                .values()
                .map(|s| s["lastSignature"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(all_signatures.len() > 1, "need two signatures to swap");
    for_every_piece(|piece, value, signers| {
        let mut checked = 0;
        for session in sessions(piece) {
            let original = piece["new"][&session]["lastSignature"].as_str().unwrap();
            let other = all_signatures.iter().find(|s| *s != original).unwrap();
            let mut tampered = piece.clone();
            tampered["new"][&session]["lastSignature"] = Value::from(other.as_str());
            assert_invalid_signature(
                apply(&tampered, value, signers),
                &session,
                "swapped signature",
            );
            checked += 1;
        }
        checked
    });
}

#[test]
fn a_wrong_after_is_a_gap() {
    for_every_piece(|piece, value, signers| {
        let mut checked = 0;
        for session in sessions(piece) {
            let after = piece["new"][&session]["after"].as_u64().unwrap();
            let mut tampered = piece.clone();
            tampered["new"][&session]["after"] = Value::from(after + 1);
            let known = value
                .session(&SessionID::parse(&session).unwrap())
                .map_or(0, |log| log.len());
            match apply(&tampered, value, signers) {
                Err(ContentError::Session(SessionLogError::Gap {
                    session: s,
                    known: k,
                    after: a,
                })) => {
                    assert_eq!(s.as_str(), session);
                    assert_eq!((k, a), (known, usize::try_from(after + 1).unwrap()));
                }
                other => panic!("wrong after in {session}: expected a gap, got {other:?}"),
            }
            checked += 1;
        }
        checked
    });
}

#[test]
fn an_extra_header_field_is_an_id_mismatch() {
    let (pieces, _) = pieces();
    let mut checked = 0;
    for piece in pieces.iter().filter(|p| p.get("header").is_some()) {
        let original_id = piece["id"].as_str().unwrap();
        let mut tampered = piece.clone();
        tampered["header"]
            .as_object_mut()
            .unwrap()
            .insert("extra".into(), Value::Bool(true));
        // The id a JS writer would give this header (`idforHeader`, over every field).
        let id_with_extra = crypto::id_for_header(&tampered["header"]);
        tampered["id"] = Value::from(id_with_extra.as_str());
        match ContentMessage::from_json(&tampered) {
            Err(ContentError::Header(HeaderError::IdMismatch { expected, actual })) => {
                assert_eq!(expected, id_with_extra);
                assert_eq!(actual.as_str(), original_id, "the extra field is dropped");
            }
            other => panic!("extra header field: expected an id mismatch, got {other:?}"),
        }
        // Nothing of it can be applied to the CoValue either.
        let signers = AccountSigners::new();
        assert!(matches!(
            ContentMessage::from_json(&tampered)
                .and_then(|m| VerifiedCoValue::from_content(&m, |a| signers.resolve(a))),
            Err(ContentError::Header(HeaderError::IdMismatch { .. }))
        ));
        // Under the original id the canonical header (without the field) still matches,
        // as in cojson: the field is dropped and ignored.
        tampered["id"] = Value::from(original_id);
        let message = ContentMessage::from_json(&tampered).unwrap();
        assert_eq!(message.to_json(), *piece);
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn an_account_session_whose_account_is_unknown_is_refused() {
    let no_accounts = AccountSigners::new();
    let mut checked = 0;
    for_every_piece(|piece, value, _| {
        let message = ContentMessage::from_json(piece).unwrap();
        let account_session = message
            .new
            .iter()
            .find(|(s, _)| matches!(s.author(), crypto::SessionAuthor::Account(_)));
        let Some((session, _)) = account_session else {
            return 1;
        };
        if value.session(session).is_some() {
            return 1; // its signer is already cached by the log
        }
        match value.apply_content(&message, |a| no_accounts.resolve(a)) {
            Err(ContentError::SignerUnavailable { session: s, source }) => {
                assert_eq!(*s, *session);
                let crypto::SessionAuthor::Account(account) = session.author() else {
                    unreachable!()
                };
                assert_eq!(
                    source,
                    jazz_req_core::cojson::SignerUnavailable::AccountNotLoaded(account.clone())
                );
            }
            other => panic!("{session}: expected an unavailable signer, got {other:?}"),
        }
        checked += 1;
        1
    });
    assert!(checked > 0, "no piece has an account session");
}
