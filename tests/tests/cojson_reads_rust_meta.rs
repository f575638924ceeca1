//! Real cojson 0.20.19 reads transaction meta written in Rust as the Rust nodes do: unique
//! values created with first-writer-wins by two Rust nodes (`create_unique_map`,
//! `create_unique_list`), and meta written with `write_with_meta` on a plain map (fww races,
//! merged-transaction meta {mi,t,s} with a tampered `t`, a reader's branch pointers). For every
//! value the npm package's `toJSON()` and per-transaction verdicts (`read-pieces.mjs` with
//! `"verdicts": true`) must equal what a fresh Rust node importing the same pieces gives, and
//! what the writers' own nodes read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use jazz_req_core::cojson::{CoValueType, LocalNode, Privacy, Uniqueness, permissions_role::Role};
use jazz_req_core::crypto::{CoID, stable_stringify};
use jazz_req_tests::covalue_vectors::node_with;
use jazz_req_tests::meta_vectors::{MetaChecks, compare_verdicts};
use jazz_req_tests::people::{self, Person, all_pieces, cojson_reads_with_verdicts};
use serde_json::{Map, Value, json};

fn person(name: &str) -> Person {
    people::person(name).unwrap()
}

fn give(from: &LocalNode, to: &mut LocalNode, ids: &[&CoID]) {
    people::give(from, to, ids).unwrap();
}

fn set(key: &str, value: Value) -> Value {
    json!({"op": "set", "key": key, "value": value})
}

fn meta(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("meta must be an object: {other}"),
    }
}

/// Lets the millisecond clock move on, so that two writes have different madeAt.
fn tick() {
    std::thread::sleep(Duration::from_millis(5));
}

fn js(value: &Value) -> String {
    stable_stringify(value)
}

/// What cojson reads from `pieces` as `observer`, checked against a fresh Rust node that
/// imported the same pieces and against `writer_nodes` (nodes that wrote or received the
/// content themselves): values and every transaction's verdict. Returns the values (by id)
/// and the verdict counts; panics naming every disagreement.
fn cojson_agrees(
    what: &str,
    observer: &Person,
    pieces: &[Value],
    ids: &[&CoID],
    writer_nodes: &[(&str, &LocalNode)],
) -> (BTreeMap<String, Value>, MetaChecks) {
    let cojson = cojson_reads_with_verdicts(&observer.secret, &observer.account, pieces, ids)
        .unwrap_or_else(|e| panic!("{e}"));
    let fresh = node_with(
        observer.account.as_str(),
        observer.secret.to_secret_string().as_str(),
        pieces,
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut problems = Vec::new();
    let mut checks = MetaChecks::default();
    let mut values = BTreeMap::new();
    for id in ids {
        let theirs = &cojson[id.as_str()];
        assert!(
            theirs.get("error").is_none(),
            "{what}: cojson cannot read {id}: {theirs}"
        );
        let value = theirs["value"].clone();
        let verdicts = theirs["transactions"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no verdicts for {id}: {theirs}"));
        for (name, node) in [("a fresh Rust node", &fresh)]
            .into_iter()
            .chain(writer_nodes.iter().copied())
        {
            let who = format!("{what}, {id} in {name}");
            let read = node.read(id).unwrap_or_else(|e| panic!("{who}: {e}")).value;
            if js(&read) != js(&value) {
                problems.push(format!(
                    "{who}: reads {}, cojson reads {}",
                    js(&read),
                    js(&value)
                ));
            }
            let ours = node
                .transaction_verdicts(id)
                .unwrap_or_else(|e| panic!("{who}: {e}"));
            let part = compare_verdicts(&who, verdicts, &ours, &mut problems);
            if name == "a fresh Rust node" {
                checks.transactions += part.transactions;
                checks.invalid += part.invalid;
                checks.dropped += part.dropped;
                checks.merged += part.merged;
            }
        }
        values.insert(id.to_string(), value);
    }
    assert!(
        problems.is_empty(),
        "{} disagreement(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    (values, checks)
}

#[test]
fn cojson_reads_the_first_writer_of_unique_values_two_rust_nodes_created() {
    let mut alice = person("Alice");
    let mut bob = person("Bob");
    give(&bob.node, &mut alice.node, &[&bob.account]);
    give(&alice.node, &mut bob.node, &[&alice.account]);
    let group = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&group, bob.account.as_str(), Role::Writer)
        .unwrap();
    give(&alice.node, &mut bob.node, &[&group]);

    // Both create the same unique map and list before seeing each other's; Alice first.
    let settings = Uniqueness::String("settings".into());
    let items = Uniqueness::Object(BTreeMap::from([
        ("kind".to_owned(), "items".to_owned()),
        ("of".to_owned(), "settings".to_owned()),
    ]));
    let map = alice
        .node
        .create_unique_map(
            &group,
            settings.clone(),
            &[("theme", json!("dark")), ("by", json!("Alice"))],
            true,
        )
        .unwrap();
    let list = alice
        .node
        .create_unique_list(&group, items.clone(), &[json!("a1"), json!("a2")], true)
        .unwrap();
    tick();
    let bobs_map = bob
        .node
        .create_unique_map(
            &group,
            settings.clone(),
            &[
                ("theme", json!("light")),
                ("by", json!("Bob")),
                ("extra", json!("only Bob's")),
            ],
            true,
        )
        .unwrap();
    let bobs_list = bob
        .node
        .create_unique_list(&group, items.clone(), &[json!("b1")], true)
        .unwrap();
    assert_eq!(map, bobs_map);
    assert_eq!(list, bobs_list);
    assert_eq!(
        map,
        LocalNode::unique_id(CoValueType::CoMap, &group, &settings)
    );
    assert_eq!(
        list,
        LocalNode::unique_id(CoValueType::CoList, &group, &items)
    );

    give(&bob.node, &mut alice.node, &[&map, &list]);
    give(&alice.node, &mut bob.node, &[&map, &list]);
    let first = BTreeMap::from([
        (map.to_string(), json!({"theme": "dark", "by": "Alice"})),
        (list.to_string(), json!(["a1", "a2"])),
    ]);
    for (who, node) in [("Alice", &alice.node), ("Bob", &bob.node)] {
        for (id, want) in &first {
            let read = node.read(&CoID::parse(id).unwrap()).unwrap().value;
            assert_eq!(js(&read), js(want), "{who}'s node reads {id}");
        }
    }
    // cojson, from each node's content (its own session arrived first there).
    for (observer, other) in [(&alice, &bob), (&bob, &alice)] {
        let what = format!("unique values from {}'s node", observer.account);
        let (values, checks) = cojson_agrees(
            &what,
            observer,
            &all_pieces(&observer.node),
            &[&map, &list],
            &[
                ("its own node", &observer.node),
                ("the other writer's node", &other.node),
            ],
        );
        for (id, want) in &first {
            assert_eq!(js(&values[id]), js(want), "{what}: cojson reads {id}");
        }
        // The later init of each value is the invalid one.
        assert_eq!(checks.invalid, 2, "{what}: {checks:?}");
    }
}

#[test]
fn cojson_reads_fww_merge_meta_and_branch_pointers_written_in_rust() {
    let mut alice = person("Alice");
    let mut bob = person("Bob");
    let mut carol = person("Carol");
    for other in [&bob, &carol] {
        give(&other.node, &mut alice.node, &[&other.account]);
    }
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
        .create_map(&group, &[("k", json!("start"))], Privacy::Private)
        .unwrap();
    give(&alice.node, &mut bob.node, &[]);
    give(&alice.node, &mut carol.node, &[]);
    tick();

    // First writer wins on a plain map: Bob writes first, Alice later.
    bob.node
        .write_with_meta(
            &map,
            &[set("title", json!("Bob's")), set("by", json!("Bob"))],
            Privacy::Private,
            &meta(json!({"fww": "title"})),
        )
        .unwrap();
    tick();
    alice
        .node
        .write_with_meta(
            &map,
            &[set("title", json!("Alice's")), set("by", json!("Alice"))],
            Privacy::Private,
            &meta(json!({"fww": "title"})),
        )
        .unwrap();
    tick();
    let bobs_session = bob
        .node
        .transaction_verdicts(&map)
        .unwrap()
        .into_iter()
        .map(|v| v.id.session_id)
        .find(|s| s.author_str() == bob.account.as_str())
        .expect("Bob's session");
    // Merged-transaction meta as mergeBranch writes it, and a tampered one.
    alice
        .node
        .write_with_meta(
            &map,
            &[set("m1", json!("merged, t = 25"))],
            Privacy::Private,
            &meta(json!({"mi": 0, "t": 25, "s": bobs_session.to_string()})),
        )
        .unwrap();
    tick();
    alice
        .node
        .write_with_meta(
            &map,
            &[set("m2", json!("merged, t omitted"))],
            Privacy::Trusting,
            &meta(json!({"mi": 1})),
        )
        .unwrap();
    tick();
    alice
        .node
        .write_with_meta(
            &map,
            &[set("k", json!("tampered"))],
            Privacy::Private,
            &meta(json!({"mi": 2, "t": -100_000})),
        )
        .unwrap();
    tick();
    // Carol (reader): a trusting branch pointer (valid, changes dropped) and a private one.
    let carols_group = carol.node.create_group().unwrap();
    carol.node.allow_writes_without_role(true);
    carol
        .node
        .write_with_meta(
            &map,
            &[set("title", json!("Carol's"))],
            Privacy::Trusting,
            &meta(json!({"branch": "carol", "ownerId": carols_group.to_string(), "extra": 1})),
        )
        .unwrap();
    tick();
    carol
        .node
        .write_with_meta(
            &map,
            &[set("title", json!("Carol's, private"))],
            Privacy::Private,
            &meta(json!({"branch": "carol-2", "ownerId": carols_group.to_string()})),
        )
        .unwrap();

    give(&bob.node, &mut alice.node, &[&map]);
    give(&carol.node, &mut alice.node, &[&map]);
    let (values, checks) = cojson_agrees(
        "meta written in Rust",
        &alice,
        &all_pieces(&alice.node),
        &[&map],
        &[("Alice's node", &alice.node)],
    );
    let value = &values[map.as_str()];
    assert_eq!(
        js(value),
        js(
            &json!({"k": "start", "title": "Bob's", "by": "Bob", "m1": "merged, t = 25", "m2": "merged, t omitted"})
        ),
        "cojson's reading"
    );
    // Alice's fww, the tampered merge and Carol's private pointer are invalid; Carol's trusting
    // pointer keeps none of its changes; three merged transactions carry a source.
    assert_eq!(checks.invalid, 3, "{checks:?}");
    assert_eq!(checks.dropped, 1, "{checks:?}");
    assert_eq!(checks.merged, 3, "{checks:?}");
}
