//! Transactions parse as cojson 0.20.19 parses them (checked against `cojson-core-napi`'s
//! `SessionMap.addTransactions`) and hash over their canonical form.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{Transaction, TransactionError};
use serde_json::json;

const ENCRYPTED: &str = "encrypted_UvmzRLd7wYrg2FphlonSwhuIplWytQBeEQ1tC6H2mbtrrNQ0pOYb7vPosvQ==";

#[test]
fn canonical_form_sorts_fields_drops_unknown_ones_and_keeps_strings_exact() {
    let wire = json!({
        "privacy": "trusting",
        "extra": 1,
        "madeAt": 1000,
        "meta": "{\"b\":1,\"a\":2}",
        "changes": "[{\"op\":\"set\",\"key\":\"é\\n\",\"value\":\"\\u0001 ✓\"}]",
    });
    let tx = Transaction::from_json(&wire).unwrap();
    assert_eq!(
        tx.canonical_json(),
        r#"{"changes":"[{\"op\":\"set\",\"key\":\"é\\n\",\"value\":\"\\u0001 ✓\"}]","madeAt":1000,"meta":"{\"b\":1,\"a\":2}","privacy":"trusting"}"#
    );
    assert_eq!(
        tx.to_json().to_string(),
        tx.canonical_json(),
        "the wire form is canonical"
    );
}

#[test]
fn a_null_meta_is_no_meta() {
    let with_null = json!({"changes": "[]", "madeAt": 5, "meta": null, "privacy": "trusting"});
    let without = json!({"changes": "[]", "madeAt": 5, "privacy": "trusting"});
    assert_eq!(
        Transaction::from_json(&with_null).unwrap(),
        Transaction::from_json(&without).unwrap()
    );
}

#[test]
fn private_transactions_keep_their_ciphertext_text() {
    let unpadded = ENCRYPTED.trim_end_matches('=');
    let wire = json!({"encryptedChanges": unpadded, "keyUsed": "key_z4KzjE2WZq6AWKXS4B", "madeAt": 7, "meta": ENCRYPTED, "privacy": "private"});
    let tx = Transaction::from_json(&wire).unwrap();
    assert_eq!(
        tx.canonical_json(),
        format!(
            r#"{{"encryptedChanges":"{unpadded}","keyUsed":"key_z4KzjE2WZq6AWKXS4B","madeAt":7,"meta":"{ENCRYPTED}","privacy":"private"}}"#
        )
    );
    assert_eq!(tx.size_bytes(), unpadded.len());
}

#[test]
fn made_at_must_be_a_non_negative_integer() {
    for made_at in [json!(1.5), json!(-1), json!(1e3)] {
        let wire = json!({"changes": "[]", "madeAt": made_at, "privacy": "trusting"});
        assert!(
            matches!(
                Transaction::from_json(&wire),
                Err(TransactionError::MadeAtNotInteger(_))
            ),
            "{made_at}"
        );
    }
    let wire = json!({"changes": "[]", "madeAt": "5", "privacy": "trusting"});
    assert!(matches!(
        Transaction::from_json(&wire),
        Err(TransactionError::BadField {
            field: "madeAt",
            ..
        })
    ));
}

#[test]
fn malformed_transactions_name_what_is_wrong() {
    let cases = [
        (json!([]), TransactionError::NotAnObject),
        (
            json!({"madeAt": 1, "changes": "[]"}),
            TransactionError::MissingField("privacy"),
        ),
        (
            json!({"madeAt": 1, "privacy": "trusting"}),
            TransactionError::MissingField("changes"),
        ),
        (
            json!({"changes": "[]", "privacy": "trusting"}),
            TransactionError::MissingField("madeAt"),
        ),
        (
            json!({"madeAt": 1, "changes": "[]", "privacy": "secret"}),
            TransactionError::UnknownPrivacy("secret".into()),
        ),
        (
            json!({"madeAt": 1, "keyUsed": "key_z4KzjE2WZq6AWKXS4B", "privacy": "private"}),
            TransactionError::MissingField("encryptedChanges"),
        ),
    ];
    for (wire, want) in cases {
        assert_eq!(Transaction::from_json(&wire).unwrap_err(), want, "{wire}");
    }
    for (field, wire) in [
        (
            "changes",
            json!({"madeAt": 1, "changes": [], "privacy": "trusting"}),
        ),
        (
            "meta",
            json!({"madeAt": 1, "changes": "[]", "meta": {}, "privacy": "trusting"}),
        ),
        (
            "encryptedChanges",
            json!({"madeAt": 1, "encryptedChanges": "sealed_Uabc", "keyUsed": "key_z4KzjE2WZq6AWKXS4B", "privacy": "private"}),
        ),
        (
            "keyUsed",
            json!({"madeAt": 1, "encryptedChanges": ENCRYPTED, "keyUsed": "key_0", "privacy": "private"}),
        ),
    ] {
        match Transaction::from_json(&wire) {
            Err(TransactionError::BadField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{wire}: {other:?}"),
        }
    }
}

#[test]
fn sizes_count_bytes_for_checkpoints_and_utf16_units_for_pieces() {
    let tx = Transaction::new_trusting("[\"é😀\"]", 1, None);
    assert_eq!(tx.size_bytes(), 4 + 2 + 4);
    assert_eq!(tx.size_utf16(), 4 + 1 + 2);
    assert_eq!(tx.changes_bytes(), 10);
}
