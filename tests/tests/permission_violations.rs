//! Writes that break permissions are ignored exactly where cojson ignores them: a reader's
//! write to a map owned by a group, a writer's role change, a writer's `readKey` change and a
//! revoked member's stale write. Each is checked in Rust and, for the same pieces, in the real
//! cojson 0.20.19.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{LocalNode, Privacy, comap::MapOp, permissions_role::Role};
use jazz_req_core::crypto::CoID;
use jazz_req_tests::people::{self, Person, all_pieces};
use serde_json::{Value, json};

fn person(name: &str) -> Person {
    people::person(name).unwrap()
}

fn give(from: &LocalNode, to: &mut LocalNode) {
    people::give(from, to, &[]).unwrap();
}

fn cojson_reads(p: &Person, ids: &[&CoID]) -> Value {
    people::cojson_reads(&p.secret, &p.account, &all_pieces(&p.node), ids).unwrap()
}

/// Alice's group with Bob as writer and Carol as reader, a map in it, and every node
/// holding everything.
fn setup() -> (Person, Person, Person, CoID, CoID) {
    let (mut alice, mut bob, mut carol) = (person("Alice"), person("Bob"), person("Carol"));
    give(&bob.node, &mut alice.node);
    give(&carol.node, &mut alice.node);
    let group = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&group, bob.account.as_str(), Role::Writer)
        .unwrap();
    alice
        .node
        .add_member(&group, carol.account.as_str(), Role::Reader)
        .unwrap();
    let map = alice
        .node
        .create_map(&group, &[("title", json!("draft"))], Privacy::Private)
        .unwrap();
    give(&alice.node, &mut bob.node);
    give(&alice.node, &mut carol.node);
    (alice, bob, carol, group, map)
}

#[test]
fn a_readers_write_to_a_group_owned_map_is_ignored() {
    let (mut alice, _bob, carol_before, _group, map) = setup();
    let mut carol = carol_before;
    // Carol's node refuses to make the write her role does not allow; made anyway (as a
    // modified client could), it is ignored.
    assert!(
        carol
            .node
            .map_set(&map, "title", json!("by a reader"), Privacy::Private)
            .is_err()
    );
    carol.node.allow_writes_without_role(true);
    carol
        .node
        .map_set(&map, "title", json!("by a reader"), Privacy::Private)
        .unwrap();
    carol
        .node
        .map_set(&map, "carol", json!(true), Privacy::Trusting)
        .unwrap();
    give(&carol.node, &mut alice.node);
    let value = alice.node.read(&map).unwrap().value;
    assert_eq!(value, json!({"title": "draft"}));
    // The transactions are there and verified; they just do not count.
    let carol_txs: usize = alice
        .node
        .get(&map)
        .unwrap()
        .sessions()
        .filter(|l| l.session_id().author().to_string() == carol.account.to_string())
        .map(|l| l.len())
        .sum();
    assert_eq!(carol_txs, 2);
    assert_eq!(cojson_reads(&alice, &[&map])[map.as_str()]["value"], value);
}

#[test]
fn a_writers_role_change_and_read_key_change_are_ignored() {
    let (mut alice, mut bob, carol, group, map) = setup();
    // Bob (writer) tries to make Carol admin, himself admin, and to replace the read key.
    let set = |key: &str, value: Value| {
        vec![
            MapOp::Set {
                key: key.to_owned(),
                value,
            }
            .to_change(),
        ]
    };
    bob.node
        .write_trusting(&group, &set(carol.account.as_str(), json!("admin")))
        .unwrap();
    bob.node
        .write_trusting(&group, &set(bob.account.as_str(), json!("admin")))
        .unwrap();
    bob.node
        .write_trusting(&group, &set("readKey", json!("key_zBobsOwnKey1")))
        .unwrap();
    give(&bob.node, &mut alice.node);
    let roles = alice.node.read(&group).unwrap().roles.unwrap();
    assert_eq!(roles[carol.account.as_str()], Role::Reader);
    assert_eq!(roles[bob.account.as_str()], Role::Writer);
    let state = alice.node.group_state(&group).unwrap();
    assert_ne!(
        state.map().get_str("readKey", None),
        Some("key_zBobsOwnKey1")
    );
    // Values still decrypt with the real key.
    assert_eq!(
        alice.node.read(&map).unwrap().value,
        json!({"title": "draft"})
    );
    let js = cojson_reads(&alice, &[&group, &map]);
    assert_eq!(
        js[group.as_str()]["roles"][carol.account.as_str()],
        json!("reader")
    );
    assert_eq!(
        js[group.as_str()]["roles"][bob.account.as_str()],
        json!("writer")
    );
    assert_eq!(js[map.as_str()]["value"], json!({"title": "draft"}));
}

#[test]
fn a_revoked_members_stale_write_is_ignored() {
    let (mut alice, mut bob, _carol, group, map) = setup();
    alice
        .node
        .remove_member(&group, bob.account.as_str())
        .unwrap();
    // Bob has not seen the removal and writes from his stale copy (made after it).
    std::thread::sleep(std::time::Duration::from_millis(3));
    bob.node
        .map_set(&map, "bob", json!("after removal"), Privacy::Private)
        .unwrap();
    give(&bob.node, &mut alice.node);
    assert_eq!(
        alice.node.read(&map).unwrap().value,
        json!({"title": "draft"})
    );
    let js = cojson_reads(&alice, &[&map, &group]);
    assert_eq!(js[map.as_str()]["value"], json!({"title": "draft"}));
    assert_eq!(
        js[group.as_str()]["roleEntries"][bob.account.as_str()],
        json!("revoked")
    );
}
