//! `LocalNode::atomically`: own writes made in a failing scope are undone (created CoValues
//! removed, appends cut back), imported content stays, nested scopes undo their own part,
//! and what is written after a rollback verifies on a fresh node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use jazz_req_core::cojson::{
    ContentMessage, LocalNode, NodeError, Privacy, ResolveQuery, keys::Reader,
    permissions_role::Role,
};
use jazz_req_core::crypto::{AgentSecret, CoID, SessionAuthor, random::new_random_agent_secret};
use jazz_req_core::storage::MemoryStorage;
use serde_json::{Value, json};

/// What a scope returns when it gives up.
#[derive(Debug)]
enum Abort {
    Node(NodeError),
    Requested,
}

impl From<NodeError> for Abort {
    fn from(error: NodeError) -> Self {
        Self::Node(error)
    }
}

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

fn with_storage(mut person: Person) -> Person {
    person.node.attach_storage(Arc::new(MemoryStorage::new()));
    person.node.flush().unwrap();
    person
}

/// Everything `from` holds, imported into `to`.
fn give(from: &LocalNode, to: &mut LocalNode) {
    for piece in all_pieces(from) {
        to.import(piece).unwrap();
    }
}

fn all_pieces(node: &LocalNode) -> Vec<ContentMessage> {
    node.ids()
        .filter_map(|id| node.get(id))
        .flat_map(|value| value.new_content_since(None))
        .collect()
}

/// The exported JSON text of `id` with what it depends on.
fn exported(node: &LocalNode, id: &CoID) -> String {
    serde_json::to_string(&node.export_json(id, &ResolveQuery::Value).unwrap()).unwrap()
}

/// Everything observable about `ids`: reads, exports, known states.
fn snapshot(node: &LocalNode, ids: &[&CoID]) -> Vec<String> {
    ids.iter()
        .flat_map(|id| {
            [
                format!("{:?}", node.read(id).unwrap()),
                exported(node, id),
                format!("{:?}", node.get(id).unwrap().known_state()),
            ]
        })
        .collect()
}

/// A fresh node acting as `person`, holding the exported pieces of `id` from `node`.
fn fresh_import(node: &LocalNode, person: &Person, id: &CoID) -> LocalNode {
    let mut fresh = LocalNode::new(Reader::new(
        Some(person.account.clone()),
        person.secret.clone(),
    ));
    for piece in node.export(id, &ResolveQuery::Value).unwrap() {
        fresh.import(piece).unwrap();
    }
    assert!(fresh.pending().is_empty());
    fresh
}

fn item(i: usize) -> Value {
    json!(format!("item {i}"))
}

#[test]
fn created_values_are_gone_after_failure() {
    let mut alice = with_storage(person("Alice"));
    let ids_before: Vec<CoID> = alice.node.ids().cloned().collect();
    let mut made = Vec::new();
    let result: Result<(), Abort> = alice.node.atomically(|node| {
        let group = node.create_group()?;
        node.add_member(&group, "everyone", Role::Reader)?;
        made.push(node.create_map(&group, &[("a", json!(1))], Privacy::Private)?);
        made.push(node.create_list(&group, &[item(0), item(1)], Privacy::Trusting)?);
        made.push(group);
        Err(Abort::Requested)
    });
    assert!(matches!(result, Err(Abort::Requested)));
    assert_eq!(made.len(), 3);
    for id in &made {
        assert!(alice.node.get(id).is_none(), "{id} still loaded");
        assert!(matches!(alice.node.read(id), Err(NodeError::NotLoaded(_))));
        assert!(alice.node.export_json(id, &ResolveQuery::Value).is_err());
    }
    assert_eq!(alice.node.ids().cloned().collect::<Vec<_>>(), ids_before);
    assert!(!alice.node.has_unsaved());
    assert!(alice.node.take_unsaved().unwrap().is_empty());
}

#[test]
fn appends_to_existing_values_are_undone_byte_for_byte() {
    let mut alice = with_storage(person("Alice"));
    let group = alice.node.create_group().unwrap();
    let map = alice
        .node
        .create_map(&group, &[("title", json!("first"))], Privacy::Private)
        .unwrap();
    let items: Vec<Value> = (0..20).map(item).collect();
    let list = alice
        .node
        .create_list(&group, &items, Privacy::Private)
        .unwrap();
    alice.node.flush().unwrap();
    let ids = [&alice.account, &group, &map, &list];
    let before = snapshot(&alice.node, &ids);

    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.map_set(&map, "title", json!("second"), Privacy::Private)?;
        node.map_delete(&map, "title", Privacy::Trusting)?;
        node.list_append(&list, json!("appended"), Privacy::Private)?;
        node.list_delete(&list, 3, Privacy::Private)?;
        node.set_account_field("root", &map)?;
        // Reads inside the scope see the writes.
        assert_eq!(node.list_entries(&list)?.len(), 20);
        assert_eq!(node.read(&map)?.value, json!({}));
        Err(Abort::Requested)
    });
    assert!(matches!(result, Err(Abort::Requested)));
    assert_eq!(snapshot(&alice.node, &ids), before);
    assert!(!alice.node.has_unsaved());
    assert!(alice.node.take_unsaved().unwrap().is_empty());
}

#[test]
fn writes_waiting_to_be_stored_before_the_scope_stay_queued() {
    let mut alice = with_storage(person("Alice"));
    let group = alice.node.create_group().unwrap();
    let map = alice
        .node
        .create_map(&group, &[("a", json!(1))], Privacy::Private)
        .unwrap();
    alice.node.flush().unwrap();
    alice
        .node
        .map_set(&map, "b", json!(2), Privacy::Private)
        .unwrap();
    let counts_before = alice.node.get(&map).unwrap().known_state();
    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.map_set(&map, "c", json!(3), Privacy::Private)?;
        // Nothing of the scope may reach storage while it can still be undone.
        assert!(node.take_unsaved()?.is_empty());
        Err(Abort::Requested)
    });
    assert!(result.is_err());
    let unsaved = alice.node.take_unsaved().unwrap();
    assert_eq!(unsaved.len(), 1);
    assert_eq!(unsaved[0].id, map);
    let sent: usize = unsaved[0]
        .new
        .iter()
        .map(|(_, s)| s.new_transactions.len())
        .sum();
    assert_eq!(sent, 1, "only the write made before the scope is stored");
    assert_eq!(alice.node.get(&map).unwrap().known_state(), counts_before);
}

#[test]
fn a_write_after_a_rollback_verifies_on_a_fresh_node() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let items: Vec<Value> = (0..5).map(item).collect();
    let list = alice
        .node
        .create_list(&group, &items, Privacy::Private)
        .unwrap();
    let map = alice
        .node
        .create_map(&group, &[("a", json!(1))], Privacy::Private)
        .unwrap();
    // Cached exports at the counts before the scope.
    let before = exported(&alice.node, &list);
    let _ = exported(&alice.node, &map);

    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.list_append(&list, json!("rolled back"), Privacy::Private)?;
        // Over 100 KiB closes a checkpoint, signed at once: an export made now caches the
        // map at a transaction count that the next write after the rollback reaches again.
        let big = "x".repeat(110 * 1024);
        node.map_set(&map, "big", json!(big), Privacy::Trusting)?;
        assert!(exported(node, &map).contains("xxxx"));
        Err(Abort::Requested)
    });
    assert!(result.is_err());
    assert_eq!(exported(&alice.node, &list), before);

    alice
        .node
        .list_append(&list, json!("kept"), Privacy::Private)
        .unwrap();
    alice
        .node
        .map_set(&map, "b", json!(2), Privacy::Private)
        .unwrap();
    assert!(!exported(&alice.node, &map).contains("xxxx"));

    let mut want: Vec<Value> = items.clone();
    want.push(json!("kept"));
    let fresh = fresh_import(&alice.node, &alice, &list);
    assert_eq!(fresh.read(&list).unwrap().value, json!(want));
    let fresh = fresh_import(&alice.node, &alice, &map);
    assert_eq!(fresh.read(&map).unwrap().value, json!({"a": 1, "b": 2}));
}

#[test]
fn nested_scopes_undo_their_own_writes() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let map = alice
        .node
        .create_map(&group, &[("base", json!(0))], Privacy::Private)
        .unwrap();
    let list = alice
        .node
        .create_list(&group, &[item(0)], Privacy::Private)
        .unwrap();

    // The inner scope fails; the outer one goes on and succeeds.
    let mut inner_map = None;
    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.map_set(&map, "outer", json!(1), Privacy::Private)?;
        let inner: Result<(), Abort> = node.atomically(|node| {
            node.map_set(&map, "inner", json!(2), Privacy::Private)?;
            node.list_append(&list, json!("inner"), Privacy::Private)?;
            inner_map = Some(node.create_map(&group, &[], Privacy::Private)?);
            Err(Abort::Requested)
        });
        assert!(inner.is_err());
        node.map_set(&map, "after", json!(3), Privacy::Private)?;
        Ok(())
    });
    assert!(result.is_ok());
    assert!(alice.node.get(&inner_map.unwrap()).is_none());
    assert_eq!(
        alice.node.read(&map).unwrap().value,
        json!({"base": 0, "outer": 1, "after": 3})
    );
    assert_eq!(alice.node.read(&list).unwrap().value, json!([item(0)]));
    let fresh = fresh_import(&alice.node, &alice, &map);
    assert_eq!(
        fresh.read(&map).unwrap().value,
        json!({"base": 0, "outer": 1, "after": 3})
    );

    // The inner scope succeeds (its first writes to the map and a new list); the outer fails.
    let ids = [&group, &map, &list];
    let before = snapshot(&alice.node, &ids);
    let mut inner_list = None;
    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.list_append(&list, json!("outer"), Privacy::Private)?;
        let inner: Result<(), Abort> = node.atomically(|node| {
            node.map_set(&map, "inner", json!(2), Privacy::Private)?;
            inner_list = Some(node.create_list(&group, &[item(9)], Privacy::Private)?);
            Ok(())
        });
        assert!(inner.is_ok());
        Err(Abort::Requested)
    });
    assert!(result.is_err());
    assert!(alice.node.get(&inner_list.unwrap()).is_none());
    assert_eq!(snapshot(&alice.node, &ids), before);
}

#[test]
fn a_member_added_then_rolled_back_has_no_role() {
    let mut alice = person("Alice");
    let bob = person("Bob");
    give(&bob.node, &mut alice.node);
    let group = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&group, bob.account.as_str(), Role::Writer)
        .unwrap();
    let map = alice
        .node
        .create_map(&group, &[("v", json!(1))], Privacy::Private)
        .unwrap();
    let carol = person("Carol");
    give(&carol.node, &mut alice.node);
    let before = snapshot(&alice.node, &[&group, &map]);

    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.add_member(&group, carol.account.as_str(), Role::Admin)?;
        // Bob removed: the read key rotates.
        node.remove_member(&group, bob.account.as_str())?;
        // Validated group states are cached with the member and the new key.
        let roles = node.read(&group)?.roles.unwrap_or_default();
        assert_eq!(roles.get(carol.account.as_str()), Some(&Role::Admin));
        assert!(!roles.contains_key(bob.account.as_str()));
        Err(Abort::Requested)
    });
    assert!(result.is_err());
    assert_eq!(snapshot(&alice.node, &[&group, &map]), before);
    let roles = alice.node.read(&group).unwrap().roles.unwrap();
    assert!(!roles.contains_key(carol.account.as_str()));
    assert_eq!(roles.get(bob.account.as_str()), Some(&Role::Writer));

    // The next write uses the key from before the rotation: Bob, still a writer, reads it.
    alice
        .node
        .map_set(&map, "v", json!(2), Privacy::Private)
        .unwrap();
    let fresh = fresh_import(&alice.node, &bob, &map);
    assert_eq!(fresh.read(&map).unwrap().value, json!({"v": 2}));
}

#[test]
fn imported_content_is_kept_and_a_new_own_session_is_removed() {
    let mut bob = person("Bob");
    let mut alice = person("Alice");
    let mut carol = person("Carol");
    give(&alice.node, &mut bob.node);
    give(&carol.node, &mut bob.node);
    let group = bob.node.create_group().unwrap();
    bob.node
        .add_member(&group, alice.account.as_str(), Role::Writer)
        .unwrap();
    bob.node
        .add_member(&group, carol.account.as_str(), Role::Writer)
        .unwrap();
    let map = bob
        .node
        .create_map(&group, &[("bob", json!(1))], Privacy::Private)
        .unwrap();
    give(&bob.node, &mut alice.node);
    give(&bob.node, &mut carol.node);
    carol
        .node
        .map_set(&map, "carol", json!(1), Privacy::Private)
        .unwrap();
    let sessions_before = alice.node.get(&map).unwrap().sessions().count();

    let result: Result<(), Abort> = alice.node.atomically(|node| {
        // Alice's first session in the map, then Carol's, which arrives meanwhile.
        node.map_set(&map, "alice", json!(1), Privacy::Private)?;
        for piece in carol.node.export(&map, &ResolveQuery::Value)? {
            node.import(piece)?;
        }
        Err(Abort::Requested)
    });
    assert!(result.is_err());
    let value = alice.node.get(&map).unwrap();
    assert_eq!(value.sessions().count(), sessions_before + 1);
    assert!(
        value
            .sessions()
            .all(|log| log.session_id().author() != &SessionAuthor::Account(alice.account.clone()))
    );
    let carol_session = value
        .sessions()
        .find(|log| log.session_id().author() == &SessionAuthor::Account(carol.account.clone()))
        .map(|log| log.session_id().clone())
        .unwrap();
    assert!(value.session(&carol_session).is_some());
    assert_eq!(
        alice.node.read(&map).unwrap().value,
        json!({"bob": 1, "carol": 1})
    );

    // Alice writes again: her session starts over and Bob reads everything.
    alice
        .node
        .map_set(&map, "alice", json!(2), Privacy::Private)
        .unwrap();
    let fresh = fresh_import(&alice.node, &bob, &map);
    assert_eq!(
        fresh.read(&map).unwrap().value,
        json!({"bob": 1, "carol": 1, "alice": 2})
    );
}

#[test]
fn success_is_a_batch() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let by_batch = alice
        .node
        .create_list(&group, &[item(0)], Privacy::Private)
        .unwrap();
    let atomic = alice
        .node
        .create_list(&group, &[item(0)], Privacy::Private)
        .unwrap();
    let writes = |node: &mut LocalNode, list: &CoID| -> Result<CoID, NodeError> {
        for i in 1..10 {
            node.list_append(list, item(i), Privacy::Private)?;
        }
        node.create_map(&group, &[("list", json!(list.as_str()))], Privacy::Trusting)
    };
    let map_by_batch = alice.node.batch(|node| writes(node, &by_batch)).unwrap();
    let exported_atomic = std::cell::RefCell::new(String::new());
    let map_atomic = alice
        .node
        .atomically(|node| {
            let map = writes(node, &atomic)?;
            // Signed once at the end: nothing of the scope is exported before.
            *exported_atomic.borrow_mut() = exported(node, &atomic);
            Ok::<_, NodeError>(map)
        })
        .unwrap();
    assert!(!exported_atomic.borrow().contains("item 9") && !alice.node.in_atomic_scope());

    for (list, map) in [(&by_batch, &map_by_batch), (&atomic, &map_atomic)] {
        let value = alice.node.get(list).unwrap();
        let pieces: Vec<_> = value
            .sessions()
            .map(|log| log.pieces_since(0).len())
            .collect();
        assert_eq!(pieces, [1]);
        assert!(!value.has_unsigned());
        let fresh = fresh_import(&alice.node, &alice, list);
        let want: Vec<Value> = (0..10).map(item).collect();
        assert_eq!(fresh.read(list).unwrap().value, json!(want));
        assert_eq!(
            alice.node.read(map).unwrap().value,
            json!({"list": list.as_str()})
        );
    }
}

#[test]
fn an_evicted_value_inside_a_failed_scope_does_not_panic() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let map = alice
        .node
        .create_map(&group, &[("a", json!(1))], Privacy::Private)
        .unwrap();
    let result: Result<(), Abort> = alice.node.atomically(|node| {
        node.map_set(&map, "a", json!(2), Privacy::Private)?;
        node.evict(std::slice::from_ref(&map));
        Err(Abort::Requested)
    });
    assert!(result.is_err());
    assert!(alice.node.get(&map).is_none());
    assert_eq!(alice.node.read(&group).unwrap().co_type, {
        alice.node.get(&group).unwrap().header().co_type
    });
}

#[test]
fn a_failed_scope_inside_a_batch_keeps_the_batch_writes() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let map = alice
        .node
        .create_map(&group, &[], Privacy::Private)
        .unwrap();
    alice
        .node
        .batch(|node| {
            node.map_set(&map, "a", json!(1), Privacy::Private)?;
            let undone: Result<(), NodeError> = node.atomically(|node| {
                node.map_set(&map, "b", json!(2), Privacy::Private)?;
                Err(NodeError::NotLoaded(map.clone()))
            });
            assert!(undone.is_err());
            // The batch's own write is still waiting for its signature.
            assert!(node.get(&map).is_some_and(|v| v.has_unsigned()));
            node.map_set(&map, "c", json!(3), Privacy::Private)
        })
        .unwrap();
    assert!(!alice.node.get(&map).unwrap().has_unsigned());
    let fresh = fresh_import(&alice.node, &alice, &map);
    assert_eq!(fresh.read(&map).unwrap().value, json!({"a": 1, "c": 3}));
}

#[test]
fn a_failing_write_undoes_the_scope_and_its_error_comes_back() {
    let mut alice = person("Alice");
    let group = alice.node.create_group().unwrap();
    let before = snapshot(&alice.node, &[&group]);
    let missing = CoID::from_bytes(&[7]);
    let mut made = None;
    let result: Result<(), Abort> = alice.node.atomically(|node| {
        made = Some(node.create_map(&group, &[("a", json!(1))], Privacy::Private)?);
        node.map_set(&group, "note", json!("undone"), Privacy::Trusting)?;
        node.map_set(&missing, "a", json!(2), Privacy::Private)?;
        Ok(())
    });
    match result {
        Err(Abort::Node(NodeError::NotLoaded(id))) => assert_eq!(id, missing),
        other => panic!("unexpected {other:?}"),
    }
    assert!(alice.node.get(&made.unwrap()).is_none());
    assert_eq!(snapshot(&alice.node, &[&group]), before);
}
