//! Transaction meta in the Rust node alone (the comparison with the real cojson is in
//! `tests/tests/meta_vectors.rs`): first writer wins on a unique CoMap created by two nodes
//! at once, a reader's trusting branch pointer counts with its changes dropped while a
//! private one does not, merged transactions take their source's time (and a tampered one is
//! invalid), and an account is admin in itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    CoValueType, ContentMessage, LocalNode, Privacy, Uniqueness, group::GroupState,
    permissions_role::Role,
};
use jazz_req_core::crypto::{CoID, random::new_random_agent_secret};
use serde_json::{Map, Value, json};

fn person(name: &str) -> (LocalNode, CoID) {
    LocalNode::create_account(new_random_agent_secret().unwrap(), name).unwrap()
}

fn give(from: &LocalNode, to: &mut LocalNode) {
    let mut pieces: Vec<ContentMessage> = Vec::new();
    for id in from.ids() {
        for piece in from.get(id).unwrap().new_content_since(None) {
            pieces.push(piece);
        }
    }
    // Dependencies first: accounts and groups before what they own, as a peer would send.
    for _ in 0..3 {
        for piece in &pieces {
            let _ = to.import(piece.clone());
        }
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[test]
fn the_first_writer_of_a_unique_map_wins_on_both_nodes() {
    let (mut alice, alice_id) = person("Alice");
    let (mut bob, bob_id) = person("Bob");
    give(&bob, &mut alice);
    let group = alice.create_group().unwrap();
    alice
        .add_member(&group, bob_id.as_str(), Role::Writer)
        .unwrap();
    give(&alice, &mut bob);
    let key = Uniqueness::String("settings".into());
    let id = LocalNode::unique_id(CoValueType::CoMap, &group, &key);
    // Both create before seeing the other's; Alice first.
    let made = alice
        .create_unique_map(&group, key.clone(), &[("by", json!("alice"))], true)
        .unwrap();
    assert_eq!(made, id);
    std::thread::sleep(std::time::Duration::from_millis(3));
    bob.create_unique_map(
        &group,
        key,
        &[("by", json!("bob")), ("extra", json!(1))],
        true,
    )
    .unwrap();
    give(&bob, &mut alice);
    give(&alice, &mut bob);
    for node in [&alice, &bob] {
        assert_eq!(node.read(&id).unwrap().value, json!({"by": "alice"}));
        let verdicts = node.transaction_verdicts(&id).unwrap();
        let valid: Vec<bool> = verdicts.iter().map(|v| v.valid).collect();
        assert_eq!(valid.iter().filter(|v| **v).count(), 1, "{verdicts:?}");
        let winner = verdicts.iter().find(|v| v.valid).unwrap();
        assert!(winner.id.session_id.as_str().starts_with(alice_id.as_str()));
        assert_eq!(winner.meta, Some(object(json!({"fww": "init"}))));
    }
}

#[test]
fn a_readers_branch_pointer_counts_only_in_plain_text() {
    let (mut alice, _) = person("Alice");
    let (mut carol, carol_id) = person("Carol");
    give(&carol, &mut alice);
    let group = alice.create_group().unwrap();
    alice
        .add_member(&group, carol_id.as_str(), Role::Reader)
        .unwrap();
    let map = alice
        .create_map(&group, &[("title", json!("v1"))], Privacy::Private)
        .unwrap();
    give(&alice, &mut carol);
    carol.allow_writes_without_role(true);
    let pointer = object(json!({"branch": "draft", "ownerId": group.as_str(), "fww": "x"}));
    carol
        .write_with_meta(
            &map,
            &[json!({"op": "set", "key": "title", "value": "by a reader"})],
            Privacy::Trusting,
            &pointer,
        )
        .unwrap();
    carol
        .write_with_meta(
            &map,
            &[json!({"op": "set", "key": "title", "value": "private, by a reader"})],
            Privacy::Private,
            &pointer,
        )
        .unwrap();
    give(&carol, &mut alice);
    assert_eq!(alice.read(&map).unwrap().value, json!({"title": "v1"}));
    let verdicts = alice.transaction_verdicts(&map).unwrap();
    let carols: Vec<_> = verdicts
        .iter()
        .filter(|v| v.id.session_id.as_str().starts_with(carol_id.as_str()))
        .collect();
    assert_eq!(carols.len(), 2);
    assert!(carols[0].valid && carols[0].changes_dropped);
    assert_eq!(
        carols[0].meta,
        Some(object(
            json!({"branch": "draft", "ownerId": group.as_str()})
        ))
    );
    assert!(
        !carols[1].valid,
        "a private pointer's meta is not visible to the check"
    );
}

#[test]
fn merged_transactions_take_their_source_time_and_a_tampered_one_is_invalid() {
    let (mut alice, _) = person("Alice");
    let group = alice.create_group().unwrap();
    let map = alice.create_map(&group, &[], Privacy::Private).unwrap();
    alice
        .map_set(&map, "title", json!("now"), Privacy::Private)
        .unwrap();
    // Merged from a "branch" an hour ago: older than the set above, so it loses.
    let session = alice.next_transaction_id(&map).unwrap().session_id;
    alice
        .write_with_meta(
            &map,
            &[json!({"op": "set", "key": "title", "value": "merged, old"})],
            Privacy::Private,
            &object(json!({"mi": 0, "t": 3_600_000, "s": session.as_str()})),
        )
        .unwrap();
    assert_eq!(alice.read(&map).unwrap().value, json!({"title": "now"}));
    // A negative `t` would put the source after the merge: invalid.
    alice
        .write_with_meta(
            &map,
            &[json!({"op": "set", "key": "title", "value": "tampered"})],
            Privacy::Private,
            &object(json!({"mi": 1, "t": -100_000})),
        )
        .unwrap();
    assert_eq!(alice.read(&map).unwrap().value, json!({"title": "now"}));
    let verdicts = alice.transaction_verdicts(&map).unwrap();
    let merged = &verdicts[verdicts.len() - 2];
    assert!(merged.valid);
    assert_eq!(merged.source.as_ref().map(|s| s.tx_index), Some(0));
    assert!(merged.made_at + 3_000_000 < verdicts[verdicts.len() - 3].made_at);
    assert!(!verdicts[verdicts.len() - 1].valid);
}

#[test]
fn an_account_is_admin_in_itself() {
    let (alice, alice_id) = person("Alice");
    let state = alice.group_state(&alice_id).unwrap();
    let no_parents = std::collections::HashMap::<String, GroupState>::new();
    assert_eq!(
        state.role_of(alice_id.as_str(), None, &no_parents),
        Some(Role::Admin)
    );
    let (_, bob_id) = person("Bob");
    assert_eq!(state.role_of(bob_id.as_str(), None, &no_parents), None);
}
