//! Issue 22, deliverable 2: unique CoValues in the typed API (`unique_id`,
//! `Tx::get_or_create_unique`, `Tx::upsert_unique`, `Tx::load_unique`, the list forms).
//!
//! - the ids match jazz-tools 0.20.19's (`tests/js/unique-ids.mjs`: `findUnique` and
//!   `getOrCreateUnique`) for every form of key, both kinds and both owners (a group, an
//!   account); Rust reads the values jazz-tools creates, and jazz-tools reads (`loadUnique`)
//!   the ones Rust creates;
//! - get-or-create twice gives one value with one init, also across the node's store;
//! - upsert creates, then writes only what differs;
//! - two Rust nodes that each create the value before seeing the other's converge on the
//!   first writer's init once they exchange content — and the real cojson reads the same;
//! - a node that may not write to the owner cannot create it (403 in a route);
//! - concurrent requests to one worker whose handler calls `ctx.get_or_create_unique` create
//!   one value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jazz_req::cojson::{CoValueType, LocalNode, TxVerdict, Uniqueness};
use jazz_req::prelude::*;
use jazz_req::schema::{MAX_SAFE_INTEGER, UniqueKind};
use jazz_req_tests::people::{Person, cojson_reads, give, person, pieces};
use jazz_req_tests::unique_peer::{
    Settings, UniqueMisc, UniqueSettings, UpsertRead, run_unique_ids,
};
use serde_json::{Value, json};

/// Every form of key jazz-tools accepts as `unique`: strings (empty, non-ASCII, escapes, a
/// CoValue id), booleans, integers (0, negative, the largest safe), null, objects.
fn keys() -> Vec<Uniqueness> {
    vec![
        "user-settings".into(),
        "ключ 🎷 \"quoted\" \\ \n tab\t".into(),
        "".into(),
        "co_zMgSQNu1pdo8WVeScfDVdkTy5xy".into(),
        true.into(),
        false.into(),
        0.into(),
        7.into(),
        (-3).into(),
        Uniqueness::Integer(MAX_SAFE_INTEGER),
        Uniqueness::Null,
        BTreeMap::from([
            ("kind".to_owned(), "settings".to_owned()),
            ("user".to_owned(), "ada".to_owned()),
        ])
        .into(),
        BTreeMap::new().into(),
    ]
}

/// The key as JSON (what a jazz-tools app passes as `unique`).
fn key_json(key: &Uniqueness) -> Value {
    match key {
        Uniqueness::String(s) => json!(s),
        Uniqueness::Bool(b) => json!(b),
        Uniqueness::Integer(i) => json!(i),
        Uniqueness::Null => Value::Null,
        Uniqueness::Object(entries) => json!(entries),
    }
}

/// Whether JS finds the key truthy: jazz-tools' create options drop a falsy `unique`.
fn js_truthy(key: &Uniqueness) -> bool {
    match key {
        Uniqueness::String(s) => !s.is_empty(),
        Uniqueness::Bool(b) => *b,
        Uniqueness::Integer(i) => *i != 0,
        Uniqueness::Null => false,
        Uniqueness::Object(_) => true,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Map,
    List,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Map, Kind::List];

    fn name(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::List => "list",
        }
    }

    /// `unique_id` for this kind.
    fn unique_id(self, key: &Uniqueness, owner: &impl AccountOrGroup) -> CoID {
        match self {
            Kind::Map => unique_id::<Settings>(key.clone(), owner),
            Kind::List => unique_id::<CoList<String>>(key.clone(), owner),
        }
    }
}

#[test]
fn unique_kinds_are_the_header_types_jazz_tools_uses() {
    assert_eq!(<Settings as UniqueKind>::CO_TYPE, CoValueType::CoMap);
    assert_eq!(
        <CoList<Settings> as UniqueKind>::CO_TYPE,
        CoValueType::CoList
    );
}

/// What an init of `kind` written by `who` for case `n` holds, as jazz-tools shows it.
fn rust_init(kind: Kind, n: usize) -> (Option<Settings>, Vec<String>) {
    match kind {
        Kind::Map => (
            Some(Settings {
                label: format!("rust {n}"),
                js: None,
                rust: Some(n.to_string()),
            }),
            Vec::new(),
        ),
        Kind::List => (None, vec!["rust".to_owned(), n.to_string()]),
    }
}

/// The verdicts of `id`'s transactions on `node`.
fn verdicts(node: &LocalNode, id: &CoID) -> Vec<TxVerdict> {
    node.transaction_verdicts(id).unwrap()
}

/// A person's group where everyone may read.
fn readable_group(who: &mut Person) -> Group {
    let mut tx = Tx::new(&mut who.node);
    let group = tx.create_group().unwrap();
    tx.add_member(&group, Member::Everyone, Role::Reader)
        .unwrap();
    group
}

#[test]
fn ids_match_jazz_tools_and_each_reads_what_the_other_creates() {
    let keys = keys();
    // Rust's side first: a value of each kind for each key in a group everyone may read.
    let mut ada = person("Ada").unwrap();
    let ada_group = readable_group(&mut ada);
    let mut rust_cases = Vec::new();
    let mut rust_made = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        for kind in Kind::ALL {
            let mut tx = Tx::new(&mut ada.node);
            let (map, list) = rust_init(kind, n);
            let (id, view) = match kind {
                Kind::Map => {
                    let made = tx
                        .get_or_create_unique(key.clone(), &ada_group, map.unwrap())
                        .unwrap();
                    (made.id().clone(), made.view())
                }
                Kind::List => {
                    let made = tx
                        .get_or_create_unique_list(key.clone(), &ada_group, list)
                        .unwrap();
                    (made.id().clone(), json!(made.items().unwrap()))
                }
            };
            assert_eq!(id, kind.unique_id(key, &ada_group));
            rust_cases.push(json!({"kind": kind.name(), "unique": key_json(key)}));
            rust_made.push((id, view));
        }
    }
    let mut ids: Vec<&CoID> = rust_made.iter().map(|(id, _)| id).collect();
    ids.extend([&ada.account, ada_group.id()]);
    let rust_pieces = pieces(&ada.node, &ids);

    // jazz-tools' side: each key, each kind, owned by its account and by its group.
    let mut cases = Vec::new();
    for key in &keys {
        for kind in Kind::ALL {
            for owner in ["account", "group"] {
                cases.push((key.clone(), kind, owner));
            }
        }
    }
    let input = json!({
        "cases": cases.iter().map(|(key, kind, owner)| json!({
            "kind": kind.name(), "unique": key_json(key), "owner": owner,
        })).collect::<Vec<_>>(),
        "rust": {"groupID": ada_group.id().as_str(), "pieces": rust_pieces, "cases": rust_cases},
    });
    let out = run_unique_ids(&input).unwrap_or_else(|e| panic!("{e}"));

    // jazz-tools read every value Rust made, at the id Rust computed, as Rust wrote it.
    let reads = out["rustReads"].as_array().unwrap();
    assert_eq!(reads.len(), rust_made.len());
    for ((id, view), read) in rust_made.iter().zip(reads) {
        assert_eq!(read, &json!({"id": id.as_str(), "view": view}), "{id}");
    }

    // Rust computes the ids jazz-tools computes, and reads what it created.
    let js_account = Account::new(CoID::parse(out["accountID"].as_str().unwrap()).unwrap());
    let js_group = Group::new(CoID::parse(out["groupID"].as_str().unwrap()).unwrap());
    let mut bob = person("Bob").unwrap();
    for piece in out["pieces"].as_array().unwrap() {
        bob.node
            .import(jazz_req::cojson::ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    let results = out["cases"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let mut created = 0;
    for (n, ((key, kind, owner), result)) in cases.iter().zip(results).enumerate() {
        let context = format!("case {n}: {kind:?} {key:?} owned by its {owner}: {result}");
        let id = match *owner {
            "account" => kind.unique_id(key, &js_account),
            _ => kind.unique_id(key, &js_group),
        };
        assert_eq!(result["found"], json!(id.as_str()), "{context}");
        if !js_truthy(key) {
            // jazz-tools 0.20.19 creates a falsy key's value with a random header (its
            // create options drop `unique`), so getOrCreateUnique finds nothing there.
            assert_eq!(result["created"], Value::Null, "{context}");
            continue;
        }
        assert_eq!(result["created"], json!(id.as_str()), "{context}");
        created += 1;
        let verdicts = verdicts(&bob.node, &id);
        assert_eq!(verdicts.len(), 1, "{context}");
        assert!(verdicts[0].valid, "{context}");
        if *owner == "account" {
            continue; // encrypted for the jazz-tools account only
        }
        // getOrCreateUnique marks its init first-writer-wins.
        assert_eq!(
            verdicts[0].meta.as_ref().map(|m| Value::Object(m.clone())),
            Some(json!({"fww": "init"})),
            "{context}"
        );
        let mut tx = Tx::new(&mut bob.node);
        let read = match kind {
            Kind::Map => tx
                .load_unique::<Settings>(key.clone(), &js_group, Settings::resolve())
                .unwrap()
                .map(|s| s.view()),
            Kind::List => tx
                .load_unique_list::<String>(key.clone(), &js_group)
                .unwrap()
                .map(|l| json!(l.items().unwrap())),
        };
        assert_eq!(read.as_ref(), Some(&result["view"]), "{context}");
    }
    assert!(created > cases.len() / 2, "most keys are truthy");
}

/// Gets or creates the unique settings of one key in one owner.
type CreateIn<'a> = &'a dyn Fn(&mut Tx<'_>, Settings) -> Loaded<Settings>;

#[test]
fn get_or_create_twice_gives_one_value_with_one_init() {
    for key in keys() {
        let mut ada = person("Ada").unwrap();
        let group = readable_group(&mut ada);
        let me = Account::new(ada.account.clone());
        let owners: [CreateIn<'_>; 2] = [
            &|tx, value| tx.get_or_create_unique(key.clone(), &group, value).unwrap(),
            &|tx, value| tx.get_or_create_unique(key.clone(), &me, value).unwrap(),
        ];
        for create in owners {
            let mut tx = Tx::new(&mut ada.node);
            let first = create(&mut tx, rust_init(Kind::Map, 1).0.unwrap());
            let again = create(&mut tx, rust_init(Kind::Map, 2).0.unwrap());
            assert_eq!(again.id(), first.id(), "{key:?}");
            assert_eq!(
                again.view(),
                json!({"label": "rust 1", "rust": "1"}),
                "{key:?}"
            );
            let verdicts = verdicts(&ada.node, first.id());
            assert_eq!(verdicts.len(), 1, "{key:?}: one init");
            assert_eq!(
                verdicts[0].meta.as_ref().map(|m| Value::Object(m.clone())),
                Some(json!({"fww": "init"})),
                "{key:?}"
            );
        }

        let mut tx = Tx::new(&mut ada.node);
        let list = tx
            .get_or_create_unique_list(key.clone(), &group, vec![1u32, 2])
            .unwrap();
        let again = tx
            .get_or_create_unique_list(key.clone(), &group, vec![3u32])
            .unwrap();
        assert_eq!(again.id(), list.id());
        assert_eq!(again.items().unwrap(), [1, 2]);
        assert_ne!(
            list.id(),
            &unique_id::<Settings>(key.clone(), &group),
            "a list and a map never share an id"
        );
    }
}

#[test]
fn load_unique_is_none_until_created_and_get_or_create_finds_it_in_the_store() {
    let mut ada = person("Ada").unwrap();
    ada.node.attach_storage(Arc::new(MemoryStorage::default()));
    let group = readable_group(&mut ada);
    let key = "settings";
    let mut tx = Tx::new(&mut ada.node);
    assert!(
        tx.load_unique::<Settings>(key, &group, Settings::resolve())
            .unwrap()
            .is_none()
    );
    assert!(
        tx.load_unique_list::<String>(key, &group)
            .unwrap()
            .is_none()
    );
    let made = tx
        .get_or_create_unique(key, &group, rust_init(Kind::Map, 1).0.unwrap())
        .unwrap();
    let list = tx
        .get_or_create_unique_list(key, &group, vec!["a".to_owned()])
        .unwrap();
    ada.node.flush().unwrap();

    // Gone from memory, still in the store: found there, not created again.
    ada.node.evict(&[made.id().clone(), list.id().clone()]);
    assert!(ada.node.get(made.id()).is_none());
    let mut tx = Tx::new(&mut ada.node);
    let again = tx
        .get_or_create_unique(key, &group, rust_init(Kind::Map, 2).0.unwrap())
        .unwrap();
    assert_eq!(again.id(), made.id());
    assert_eq!(again.view(), made.view());
    let list_again = tx
        .get_or_create_unique_list(key, &group, vec!["b".to_owned()])
        .unwrap();
    assert_eq!(list_again.items().unwrap(), ["a".to_owned()]);
    assert_eq!(verdicts(&ada.node, made.id()).len(), 1);
    assert_eq!(verdicts(&ada.node, list.id()).len(), 1);
}

#[test]
fn upsert_creates_then_writes_only_what_differs() {
    let mut ada = person("Ada").unwrap();
    let group = readable_group(&mut ada);
    let mut tx = Tx::new(&mut ada.node);
    let start = Settings {
        label: "one".into(),
        js: None,
        rust: Some("r".into()),
    };
    let made = tx.upsert_unique("upserted", &group, start.clone()).unwrap();
    assert_eq!(*made, start);
    assert_eq!(made.id(), &unique_id::<Settings>("upserted", &group));
    let id = made.id().clone();
    let after_create = verdicts(tx.node(), &id);
    assert_eq!(after_create.len(), 1);
    // jazz-tools does not mark an upsert's init first-writer-wins.
    assert_eq!(after_create[0].meta, None);

    // The same value again writes nothing.
    let same = tx.upsert_unique("upserted", &group, start.clone()).unwrap();
    assert_eq!(*same, start);
    assert_eq!(verdicts(tx.node(), &id).len(), 1);

    // A new label, a field set, a field unset: exactly those are written.
    let next = Settings {
        label: "two".into(),
        js: Some("j".into()),
        rust: None,
    };
    let updated = tx.upsert_unique("upserted", &group, next.clone()).unwrap();
    assert_eq!(*updated, next);
    assert_eq!(tx.reload(&updated).unwrap().into_inner(), next);
    let written = verdicts(tx.node(), &id).len() - 1;
    assert!(
        (1..=3).contains(&written),
        "{written} transactions for 3 fields"
    );

    // get_or_create leaves it as it is.
    let kept = tx
        .get_or_create_unique("upserted", &group, start.clone())
        .unwrap();
    assert_eq!(*kept, next);
}

/// Who writes first in a race.
#[derive(Clone, Copy, Debug)]
enum First {
    Ada,
    Bob,
}

#[test]
fn two_rust_nodes_racing_converge_on_the_first_writer() {
    for kind in Kind::ALL {
        for first in [First::Ada, First::Bob] {
            race(kind, first);
        }
    }
}

/// Ada's group lets Bob write; each creates the unique value before seeing the other's,
/// `first` a few milliseconds earlier; then they exchange content.
fn race(kind: Kind, first: First) {
    let context = format!("{kind:?}, {first:?} first");
    let mut ada = person("Ada").unwrap();
    let mut bob = person("Bob").unwrap();
    let group = readable_group(&mut ada);
    give(&bob.node, &mut ada.node, &[&bob.account]).unwrap();
    Tx::new(&mut ada.node)
        .add_member(&group, &bob.account, Role::Writer)
        .unwrap();
    give(&ada.node, &mut bob.node, &[&ada.account, group.id()]).unwrap();
    let key = "race";

    let create = |who: &mut Person, mark: &str| -> (CoID, Value) {
        let mut tx = Tx::new(&mut who.node);
        match kind {
            Kind::Map => {
                // The first writer sets `js`, the second `rust`: the loser's field must
                // not show.
                let value = Settings {
                    label: mark.to_owned(),
                    js: (mark == "first").then(|| mark.to_owned()),
                    rust: (mark == "second").then(|| mark.to_owned()),
                };
                let made = tx.get_or_create_unique(key, &group, value).unwrap();
                (made.id().clone(), made.view())
            }
            Kind::List => {
                let items = vec![format!("{mark}-a"), format!("{mark}-b")];
                let made = tx.get_or_create_unique_list(key, &group, items).unwrap();
                (made.id().clone(), json!(made.items().unwrap()))
            }
        }
    };
    let (winner, loser) = match first {
        First::Ada => (&mut ada, &mut bob),
        First::Bob => (&mut bob, &mut ada),
    };
    let (id, won) = create(winner, "first");
    std::thread::sleep(Duration::from_millis(3));
    let (loser_id, lost) = create(loser, "second");
    assert_eq!(id, loser_id, "{context}");
    assert_ne!(won, lost, "{context}: each created its own init");

    give(&ada.node, &mut bob.node, &[&id]).unwrap();
    give(&bob.node, &mut ada.node, &[&id]).unwrap();
    for who in [&mut ada, &mut bob] {
        let read = match kind {
            Kind::Map => Tx::new(&mut who.node)
                .load_unique::<Settings>(key, &group, Settings::resolve())
                .unwrap()
                .unwrap()
                .view(),
            Kind::List => json!(
                Tx::new(&mut who.node)
                    .load_unique_list::<String>(key, &group)
                    .unwrap()
                    .unwrap()
                    .items()
                    .unwrap()
            ),
        };
        assert_eq!(read, won, "{context}: the first writer's init, alone");
        let verdicts = verdicts(&who.node, &id);
        assert_eq!(verdicts.len(), 2, "{context}: both inits are there");
        let valid: Vec<bool> = verdicts.iter().map(|v| v.valid).collect();
        assert_eq!(
            valid.iter().filter(|v| **v).count(),
            1,
            "{context}: {verdicts:?}"
        );
        let earliest = verdicts.iter().min_by_key(|v| v.made_at).unwrap();
        assert!(
            earliest.valid,
            "{context}: the earliest init is the valid one"
        );
    }

    // The real cojson reads the same from what Ada holds.
    let all = pieces(&ada.node, &[&ada.account, &bob.account, group.id(), &id]);
    let cojson = cojson_reads(&ada.secret, &ada.account, &all, &[&id]).unwrap();
    assert_eq!(cojson[id.as_str()]["value"], won, "{context}: {cojson}");
}

#[test]
fn only_a_writer_of_the_owner_can_create_it() {
    let mut ada = person("Ada").unwrap();
    let mut bob = person("Bob").unwrap();
    let group = readable_group(&mut ada);
    let ada_account = Account::new(ada.account.clone());
    give(&ada.node, &mut bob.node, &[&ada.account, group.id()]).unwrap();
    let mut tx = Tx::new(&mut bob.node);
    for error in [
        tx.get_or_create_unique("settings", &group, rust_init(Kind::Map, 1).0.unwrap())
            .unwrap_err(),
        tx.get_or_create_unique("settings", &ada_account, rust_init(Kind::Map, 1).0.unwrap())
            .unwrap_err(),
        tx.get_or_create_unique_list("settings", &group, vec![true])
            .unwrap_err(),
    ] {
        assert!(
            matches!(error, UniqueError::Node(NodeError::NotPermitted { .. })),
            "{error:?}"
        );
        assert_eq!(JazzRequestError::from(error).code, 403);
    }
    // Nothing was left behind, and the owner itself can.
    assert!(
        bob.node
            .get(&unique_id::<Settings>("settings", &group))
            .is_none()
    );
    let made = Tx::new(&mut ada.node)
        .get_or_create_unique("settings", &ada_account, rust_init(Kind::Map, 1).0.unwrap())
        .unwrap();
    assert_eq!(made.id(), &unique_id::<Settings>("settings", &ada_account));
}

/// Requests of one worker asking for the same unique value at once, each finding nothing
/// in the worker's store (there is no sync server), create it once: the creation re-reads
/// the node inside its transaction. Then a route using the handler's other unique forms
/// (load, upsert, the list's get-or-create and load). Owned by the worker's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_one_worker_create_one_value_and_upsert_it() {
    const CLIENTS: usize = 8;
    let secret = jazz_req::crypto::random::new_random_agent_secret().unwrap();
    let (mut node, account) = LocalNode::create_account(secret, "Worker").unwrap();
    node.attach_storage(Arc::new(MemoryStorage::default()));
    let shared = node
        .export_json(&account, &jazz_req::cojson::ResolveQuery::Value)
        .unwrap();
    let worker = RequestWorker::new(node)
        .unwrap()
        .register(UniqueSettings)
        .register(UniqueMisc);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap()
        .addr();
    let owner = Account::new(account.clone());

    let calls: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (node, _) = LocalNode::create_account(
                jazz_req::crypto::random::new_random_agent_secret().unwrap(),
                &format!("Client {i}"),
            )
            .unwrap();
            let client = RequestClient::new(node)
                .with_base_url(format!("http://{addr}"))
                .with_worker(account.clone());
            client.import_pieces(&shared).unwrap();
            let owner = account.as_str().to_owned();
            tokio::spawn(async move {
                UniqueSettings::send(
                    &client,
                    owner,
                    "shared".into(),
                    format!("client {i}"),
                    i.to_string(),
                )
                .await
                .unwrap()
                .into_inner()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let id = unique_id::<Settings>("shared", &owner);
    let first = &answers[0];
    assert_eq!(first.id, id.as_str());
    for answer in &answers {
        assert_eq!(answer, first, "every request reads the one value");
    }
    let verdicts = worker
        .read_node(|node| node.transaction_verdicts(&id))
        .unwrap();
    assert_eq!(verdicts.len(), 1, "one init: {verdicts:?}");
    let held = worker.load::<Settings>(&id, Settings::resolve()).unwrap();
    assert_eq!(
        (held.label.as_str(), held.rust.as_deref()),
        (first.label.as_str(), first.rust.as_deref())
    );

    // The other forms, one request after another: the first creates (upsert), the next
    // ones find and update; the list is created once.
    let (node, _) = LocalNode::create_account(
        jazz_req::crypto::random::new_random_agent_secret().unwrap(),
        "Upserter",
    )
    .unwrap();
    let client = RequestClient::new(node)
        .with_base_url(format!("http://{addr}"))
        .with_worker(account.clone());
    client.import_pieces(&shared).unwrap();
    let id = unique_id::<Settings>("misc", &owner);
    for (round, label) in ["one", "two", "two"].into_iter().enumerate() {
        let answer = UniqueMisc::send(
            &client,
            account.as_str().to_owned(),
            "misc".into(),
            label.into(),
            round.to_string(),
        )
        .await
        .unwrap()
        .into_inner();
        assert_eq!(
            answer,
            UpsertRead {
                existed: round > 0,
                id: id.as_str().to_owned(),
                label: label.to_owned(),
                rust: Some(round.to_string()),
                tags: "0".to_owned(),
            },
            "round {round}"
        );
    }
    let verdicts = worker
        .read_node(|node| node.transaction_verdicts(&id))
        .unwrap();
    // The init, then `label` and `rust` in round 1, then `rust` alone in round 2.
    let changed_fields = verdicts.len() - 1;
    assert!((2..=3).contains(&changed_fields), "{verdicts:?}");
    assert!(
        verdicts.iter().all(|v| v.valid && v.meta.is_none()),
        "{verdicts:?}"
    );
}
