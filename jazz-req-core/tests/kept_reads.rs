//! Reads kept between reads (`cojson/owned_read.rs`) always equal a fresh read: after
//! appends (extended in place), another session's transactions that sort earlier, inserts
//! in the middle and deletions, a rolled-back scope, a member removed from the owner group,
//! and an evicted value loaded again. The fresh read is a new node of the same account
//! importing everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    ContentMessage, LocalNode, NodeError, Privacy, keys::Reader, permissions_role::Role,
};
use jazz_req_core::crypto::{AgentSecret, CoID, random::new_random_agent_secret};
use serde_json::{Value, json};

struct Person {
    node: LocalNode,
    account: CoID,
    secret: AgentSecret,
}

fn person(name: &str) -> Person {
    let secret = new_random_agent_secret().unwrap();
    let (node, account) = LocalNode::create_account(secret.clone(), name).unwrap();
    Person {
        node,
        account,
        secret,
    }
}

fn pieces(node: &LocalNode) -> Vec<ContentMessage> {
    node.ids()
        .filter_map(|id| node.get(id))
        .flat_map(|value| value.new_content_since(None))
        .collect()
}

fn give(from: &LocalNode, to: &mut LocalNode) {
    for piece in pieces(from) {
        to.import(piece).unwrap();
    }
}

/// What a node that never read anything reads, as `person`.
fn fresh_read(person: &Person, id: &CoID) -> (Value, Vec<String>) {
    let mut node = LocalNode::new(Reader::new(
        Some(person.account.clone()),
        person.secret.clone(),
    ));
    give(&person.node, &mut node);
    assert!(node.pending().is_empty());
    read_both(&node, id)
}

/// The list as JSON and the op ids of its items.
fn read_both(node: &LocalNode, id: &CoID) -> (Value, Vec<String>) {
    let value = node.read(id).unwrap().value;
    let ops = node
        .list_entries(id)
        .unwrap()
        .into_iter()
        .map(|(op, _)| op.to_json().to_string())
        .collect();
    (value, ops)
}

fn assert_same(person: &Person, id: &CoID, when: &str) {
    assert_eq!(
        read_both(&person.node, id),
        fresh_read(person, id),
        "{when}"
    );
}

#[test]
fn kept_list_reads_equal_fresh_reads_through_every_kind_of_change() {
    let mut alice = person("Alice");
    let mut bob = person("Bob");
    give(&bob.node, &mut alice.node);
    let group = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&group, bob.account.as_str(), Role::Writer)
        .unwrap();
    let list = alice
        .node
        .create_list(&group, &[json!("first")], Privacy::Private)
        .unwrap();
    // Appends, read in between: each read extends the kept one.
    for i in 0..20 {
        alice
            .node
            .list_append(&list, json!(format!("a{i}")), Privacy::Private)
            .unwrap();
        assert_eq!(alice.node.list_entries(&list).unwrap().len(), i + 2);
    }
    assert_same(&alice, &list, "after 20 appends");

    // Bob writes from his copy; Alice goes on; then she gets Bob's, which sorts earlier.
    give(&alice.node, &mut bob.node);
    bob.node
        .list_append(&list, json!("bob, earlier"), Privacy::Private)
        .unwrap();
    bob.node
        .list_insert_before(
            &list,
            Some(3),
            json!("bob, in the middle"),
            Privacy::Trusting,
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    for i in 0..10 {
        alice
            .node
            .list_append(&list, json!(format!("b{i}")), Privacy::Private)
            .unwrap();
    }
    let _ = read_both(&alice.node, &list);
    give(&bob.node, &mut alice.node);
    assert_same(
        &alice,
        &list,
        "after another session's earlier transactions",
    );

    // Deletions and an insert in the middle.
    alice.node.list_delete(&list, 0, Privacy::Private).unwrap();
    let _ = read_both(&alice.node, &list);
    alice.node.list_delete(&list, 5, Privacy::Private).unwrap();
    alice
        .node
        .list_insert_after(&list, Some(2), json!("middle"), Privacy::Private)
        .unwrap();
    assert_same(&alice, &list, "after deletions and a middle insert");

    // A rolled-back scope leaves the read as it was.
    let before = read_both(&alice.node, &list);
    let failed: Result<(), NodeError> = alice.node.atomically(|node| {
        node.list_append(&list, json!("rolled back"), Privacy::Private)?;
        let _ = node.list_entries(&list)?;
        Err(NodeError::NotLoaded(list.clone()))
    });
    assert!(failed.is_err());
    assert_eq!(read_both(&alice.node, &list), before);
    alice
        .node
        .list_append(&list, json!("after the rollback"), Privacy::Private)
        .unwrap();
    assert_same(&alice, &list, "after a rollback and a new append");

    // Bob is removed; a write he makes from his stale copy no longer counts.
    let _ = read_both(&alice.node, &list);
    alice
        .node
        .remove_member(&group, bob.account.as_str())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    bob.node
        .list_append(&list, json!("bob, after removal"), Privacy::Trusting)
        .unwrap();
    give(&bob.node, &mut alice.node);
    let (items, _) = read_both(&alice.node, &list);
    assert!(!items.to_string().contains("after removal"), "{items}");
    assert_same(&alice, &list, "after a member's removal");

    // Evicted and brought back: read afresh.
    let saved: Vec<ContentMessage> = alice.node.get(&list).unwrap().new_content_since(None);
    alice.node.evict(std::slice::from_ref(&list));
    for piece in saved {
        alice.node.import(piece).unwrap();
    }
    assert_same(&alice, &list, "after eviction and import");
}

#[test]
fn kept_map_reads_follow_new_sets() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let map = alice
        .node
        .create_map(&group, &[("n", json!(0))], Privacy::Private)
        .unwrap();
    for n in 1..30 {
        alice
            .node
            .map_set(&map, "n", json!(n), Privacy::Private)
            .unwrap();
        assert_eq!(alice.node.read(&map).unwrap().value, json!({"n": n}));
    }
    let fresh = fresh_read(&alice, &map);
    assert_eq!(alice.node.read(&map).unwrap().value, fresh.0);
}
