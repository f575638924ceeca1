//! Real cojson 0.20.19 reads what Rust writes: accounts with profiles, groups with a writer,
//! a reader, `everyone`, a parent group and a removed member, CoMaps and CoLists with edits.
//! Each member's view from the npm package (via `tests/js/read-pieces.mjs`) must equal the
//! Rust node's view and the values written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    ContentMessage, LocalNode, NodeError, Privacy, keys::Reader, permissions_role::Role,
};
use jazz_req_core::crypto::{self, AgentSecret, CoID};
use jazz_req_tests::people::{self, Person, all_pieces};
use serde_json::{Value, json};

fn person(name: &str) -> Person {
    people::person(name).unwrap()
}

fn give(from: &LocalNode, to: &mut LocalNode, ids: &[&CoID]) {
    people::give(from, to, ids).unwrap();
}

fn rust_view(
    secret: &AgentSecret,
    account: &CoID,
    pieces: &[Value],
    id: &CoID,
) -> (Value, Option<Value>) {
    let mut node = LocalNode::new(Reader::new(Some(account.clone()), secret.clone()));
    for piece in pieces {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    assert!(node.pending().is_empty());
    let read = node.read(id).unwrap();
    let roles = read.roles.map(|roles| {
        Value::Object(
            roles
                .into_iter()
                .map(|(k, r)| (k, json!(r.as_str())))
                .collect(),
        )
    });
    (read.value, roles)
}

fn js_view(secret: &AgentSecret, account: &CoID, pieces: &[Value], ids: &[&CoID]) -> Value {
    people::cojson_reads(secret, account, pieces, ids).unwrap_or_else(|e| panic!("{e}"))
}

fn js(value: &Value) -> String {
    crypto::stable_stringify(value)
}

#[test]
fn cojson_reads_groups_maps_and_lists_written_in_rust() {
    let mut alice = person("Alice");
    let mut bob = person("Bob");
    let mut carol = person("Carol");
    give(&bob.node, &mut alice.node, &[]);
    give(&carol.node, &mut alice.node, &[]);

    // A group with a writer and a reader; a map and a list in it.
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
        .create_map(
            &group,
            &[
                ("title", json!("Concert – late show")),
                ("capacity", json!(100)),
                ("draft", json!(true)),
            ],
            Privacy::Private,
        )
        .unwrap();
    alice
        .node
        .map_set(&map, "capacity", json!(99), Privacy::Private)
        .unwrap();
    alice
        .node
        .map_delete(&map, "draft", Privacy::Private)
        .unwrap();
    alice
        .node
        .map_set(
            &map,
            "meta",
            json!({"nested": [1, "two", null]}),
            Privacy::Trusting,
        )
        .unwrap();
    let list = alice
        .node
        .create_list(
            &group,
            &[json!("a"), json!("b"), json!("c")],
            Privacy::Private,
        )
        .unwrap();
    alice
        .node
        .list_append(&list, json!("d"), Privacy::Private)
        .unwrap();
    alice
        .node
        .list_insert_after(&list, Some(0), json!("a2"), Privacy::Private)
        .unwrap();
    alice
        .node
        .list_insert_before(&list, Some(0), json!("first"), Privacy::Private)
        .unwrap();
    alice.node.list_delete(&list, 3, Privacy::Private).unwrap(); // "b"

    // Bob (writer) edits the map; Carol (reader) tries to.
    give(
        &alice.node,
        &mut bob.node,
        &[&alice.account, &carol.account, &group, &map],
    );
    bob.node
        .map_set(&map, "bob", json!("was here"), Privacy::Private)
        .unwrap();
    give(
        &alice.node,
        &mut carol.node,
        &[&alice.account, &bob.account, &group, &map],
    );
    // The node refuses a write its role does not allow; made anyway, every peer ignores it.
    assert!(matches!(
        carol
            .node
            .map_set(&map, "carol", json!("ignored"), Privacy::Private),
        Err(NodeError::NotPermitted { role: "reader", .. })
    ));
    carol.node.allow_writes_without_role(true);
    carol
        .node
        .map_set(&map, "carol", json!("ignored"), Privacy::Private)
        .unwrap();
    carol.node.allow_writes_without_role(false);
    give(&bob.node, &mut alice.node, &[&map]);
    give(&carol.node, &mut alice.node, &[&map]);

    // A group everyone reads, with a map.
    let public = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&public, "everyone", Role::Reader)
        .unwrap();
    let public_map = alice
        .node
        .create_map(&public, &[("hello", json!("world"))], Privacy::Private)
        .unwrap();

    // A parent group Carol reads; a child extending it; a map in the child.
    let parent = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&parent, carol.account.as_str(), Role::Reader)
        .unwrap();
    let child = alice.node.create_group().unwrap();
    alice.node.extend(&child, &parent, None).unwrap();
    let child_map = alice
        .node
        .create_map(&child, &[("via", json!("parent"))], Privacy::Private)
        .unwrap();

    // Bob removed from a group: the key rotates; what comes after uses the new key.
    let rotated = alice.node.create_group().unwrap();
    alice
        .node
        .add_member(&rotated, bob.account.as_str(), Role::Writer)
        .unwrap();
    alice
        .node
        .add_member(&rotated, carol.account.as_str(), Role::Reader)
        .unwrap();
    let secret_map = alice
        .node
        .create_map(&rotated, &[("secret", json!("v1"))], Privacy::Private)
        .unwrap();
    alice
        .node
        .remove_member(&rotated, bob.account.as_str())
        .unwrap();
    alice
        .node
        .map_set(
            &secret_map,
            "secret",
            json!("v2 after rotation"),
            Privacy::Private,
        )
        .unwrap();

    let expected = [
        (
            &map,
            json!({"title": "Concert – late show", "capacity": 99, "meta": {"nested": [1, "two", null]}, "bob": "was here"}),
        ),
        (&list, json!(["first", "a", "a2", "c", "d"])),
        (&public_map, json!({"hello": "world"})),
        (&child_map, json!({"via": "parent"})),
        (&secret_map, json!({"secret": "v2 after rotation"})),
    ];
    let everything = all_pieces(&alice.node);
    let ids: Vec<&CoID> = expected
        .iter()
        .map(|(id, _)| *id)
        .chain([&group, &public, &parent, &child, &rotated])
        .collect();

    // Alice reads everything, in Rust and in cojson.
    let alice_js = js_view(&alice.secret, &alice.account, &everything, &ids);
    for (id, want) in &expected {
        let (rust, _) = rust_view(&alice.secret, &alice.account, &everything, id);
        assert_eq!(js(&rust), js(want), "Rust read of {id}");
        assert_eq!(
            js(&alice_js[id.as_str()]["value"]),
            js(want),
            "cojson read of {id}: {}",
            alice_js[id.as_str()]
        );
    }
    // Roles, as both compute them.
    for group_id in [&group, &public, &parent, &child, &rotated] {
        let (_, rust_roles) = rust_view(&alice.secret, &alice.account, &everything, group_id);
        let js_roles = &alice_js[group_id.as_str()]["roles"];
        assert_eq!(
            js(&rust_roles.unwrap()),
            js(js_roles),
            "roles of {group_id}"
        );
    }
    assert_eq!(
        alice_js[group.as_str()]["roles"][bob.account.as_str()],
        json!("writer")
    );
    assert_eq!(
        alice_js[group.as_str()]["roles"][carol.account.as_str()],
        json!("reader")
    );
    assert_eq!(
        alice_js[public.as_str()]["roles"]["everyone"],
        json!("reader")
    );
    assert_eq!(
        alice_js[rotated.as_str()]["roleEntries"][bob.account.as_str()],
        json!("revoked")
    );

    // Carol reads the child map through the parent, and the rotated map with the new key;
    // Bob, removed, cannot read what came after the rotation.
    let carol_js = js_view(
        &carol.secret,
        &carol.account,
        &everything,
        &[&child_map, &secret_map, &map],
    );
    assert_eq!(
        carol_js[child_map.as_str()]["value"],
        json!({"via": "parent"})
    );
    assert_eq!(
        carol_js[secret_map.as_str()]["value"],
        json!({"secret": "v2 after rotation"})
    );
    let (carol_rust, _) = rust_view(&carol.secret, &carol.account, &everything, &child_map);
    assert_eq!(carol_rust, json!({"via": "parent"}));
    let bob_js = js_view(
        &bob.secret,
        &bob.account,
        &everything,
        &[&secret_map, &public_map],
    );
    let (bob_rust, _) = rust_view(&bob.secret, &bob.account, &everything, &secret_map);
    assert_eq!(js(&bob_rust), js(&bob_js[secret_map.as_str()]["value"]));
    assert_ne!(bob_rust.get("secret"), Some(&json!("v2 after rotation")));
    assert_eq!(
        bob_js[public_map.as_str()]["value"],
        json!({"hello": "world"})
    );

    // Profiles: cojson reads the names Rust wrote.
    let alice_account_js = js_view(
        &alice.secret,
        &alice.account,
        &everything,
        &[&alice.account],
    );
    let profile = alice_account_js[alice.account.as_str()]["value"]["profile"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile_id = CoID::parse(&profile).unwrap();
    let profile_js = js_view(&bob.secret, &bob.account, &everything, &[&profile_id]);
    assert_eq!(
        profile_js[profile.as_str()]["value"],
        json!({"name": "Alice"})
    );
}
