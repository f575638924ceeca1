//! Real cojson 0.20.19 reads a list whose own session had an append undone by a failed
//! `LocalNode::atomically` scope (one of its items large enough to close a checkpoint),
//! followed by a successful append: it accepts every session and sees only what was kept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{ContentMessage, LocalNode, NodeError, Privacy, keys::Reader};
use jazz_req_core::crypto::{self, CoID};
use jazz_req_tests::people::{self, all_pieces};
use serde_json::{Value, json};

#[test]
fn cojson_reads_a_list_after_a_rolled_back_append() {
    let mut alice = people::person("Alice").unwrap();
    let group = alice.node.create_group().unwrap();
    let list = alice
        .node
        .create_list(&group, &[json!("a"), json!("b")], Privacy::Private)
        .unwrap();

    let big = "x".repeat(110 * 1024);
    let undone: Result<(), NodeError> = alice.node.atomically(|node| {
        node.list_append(&list, json!("rolled back"), Privacy::Private)?;
        node.list_append(&list, json!(big), Privacy::Private)?;
        node.map_set(&group, "rolled", json!("back"), Privacy::Trusting)?;
        Err(NodeError::NotLoaded(CoID::from_bytes(&[0])))
    });
    assert!(undone.is_err());
    let kept: Result<(), NodeError> = alice.node.atomically(|node| {
        node.list_append(&list, json!("kept"), Privacy::Private)?;
        node.list_append(&list, json!("kept too"), Privacy::Trusting)
    });
    kept.unwrap();

    let want = json!(["a", "b", "kept", "kept too"]);
    let pieces = all_pieces(&alice.node);
    let seen = people::cojson_reads(&alice.secret, &alice.account, &pieces, &[&list, &group])
        .unwrap_or_else(|e| panic!("{e}"));
    for id in [&list, &group] {
        assert!(
            seen[id.as_str()].get("importErrors").is_none(),
            "cojson rejected sessions of {id}: {}",
            seen[id.as_str()]
        );
    }
    assert_eq!(
        crypto::stable_stringify(&seen[list.as_str()]["value"]),
        crypto::stable_stringify(&want),
        "{}",
        seen[list.as_str()]
    );
    assert!(seen[group.as_str()]["value"].get("rolled").is_none());

    // A fresh Rust node agrees.
    let mut fresh = LocalNode::new(Reader::new(
        Some(alice.account.clone()),
        alice.secret.clone(),
    ));
    for piece in &pieces {
        fresh
            .import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    assert!(fresh.pending().is_empty());
    assert_eq!(fresh.read(&list).unwrap().value, want);
    assert_eq!(
        fresh.read(&group).unwrap().value.get("rolled"),
        None::<&Value>
    );
}
