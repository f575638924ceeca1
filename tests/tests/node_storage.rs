//! A node on the embedded SQLite store: what it wrote and accepted is there after a restart,
//! and a restarted node can go on writing in a new session.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use jazz_req_core::cojson::{LocalNode, Privacy, keys::Reader, permissions_role::Role};
use jazz_req_core::storage::{SqliteStorage, Storage};
use jazz_req_tests::people::{give, person};
use serde_json::json;

#[test]
fn what_a_node_flushed_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("jazz-req-node-storage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("worker.sqlite");
    let _ = std::fs::remove_file(&path);

    let mut alice = person("Alice").unwrap();
    let bob = person("Bob").unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&path).unwrap());
    alice.node.attach_storage(storage.clone());
    give(&bob.node, &mut alice.node, &[]).unwrap(); // imported: stored on flush too
    let group = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&group, bob.account.as_str(), Role::Writer)
        .unwrap();
    let map = alice
        .node
        .create_map(&group, &[("title", json!("Jazz night"))], Privacy::Private)
        .unwrap();
    let list = alice
        .node
        .create_list(&group, &[json!(1), json!(2)], Privacy::Private)
        .unwrap();
    alice
        .node
        .map_set(&map, "capacity", json!(2), Privacy::Private)
        .unwrap();
    assert!(alice.node.has_unsaved());
    let summary = alice.node.flush().unwrap();
    assert!(summary.transactions_added > 10, "{summary:?}");
    assert!(!alice.node.has_unsaved());
    let before_map = alice.node.read(&map).unwrap().value;
    let before_roles = alice.node.read(&group).unwrap().roles;
    drop(alice.node);
    drop(storage);

    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&path).unwrap());
    let mut restarted = LocalNode::new(Reader::new(
        Some(alice.account.clone()),
        alice.secret.clone(),
    ));
    restarted.attach_storage(storage.clone());
    assert!(restarted.load_from_storage(&map).unwrap());
    assert!(restarted.load_from_storage(&list).unwrap());
    assert!(restarted.pending().is_empty());
    assert_eq!(restarted.read(&map).unwrap().value, before_map);
    assert_eq!(
        restarted.read(&map).unwrap().value,
        json!({"title": "Jazz night", "capacity": 2})
    );
    assert_eq!(restarted.read(&list).unwrap().value, json!([1, 2]));
    assert_eq!(restarted.read(&group).unwrap().roles, before_roles);
    // Loading brought nothing to store again.
    assert!(!restarted.has_unsaved());

    // The restarted node writes in a new session; that is stored too.
    restarted
        .map_set(&map, "capacity", json!(3), Privacy::Private)
        .unwrap();
    restarted.flush().unwrap();
    drop(restarted);
    let mut again = LocalNode::new(Reader::new(
        Some(alice.account.clone()),
        alice.secret.clone(),
    ));
    again.attach_storage(storage);
    assert!(again.load_from_storage(&map).unwrap());
    assert_eq!(
        again.read(&map).unwrap().value,
        json!({"title": "Jazz night", "capacity": 3})
    );
    let sessions = again.get(&map).unwrap().sessions().count();
    assert_eq!(sessions, 2, "one session per run of the node");
    std::fs::remove_dir_all(&dir).ok();
}
