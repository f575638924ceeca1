//! The Rust sync client against a real Jazz sync server (cojson 0.20.19 + cojson-transport-ws,
//! in memory, `tests/js/sync-server.mjs`), with cojson clients (`tests/js/sync-peer.mjs`) on the
//! other side: values cross both ways, updates arrive unasked, the server's own loads are
//! answered, a restart of the server is survived, and batched frames parse. The frames the
//! server sent in such a run are kept as fixtures and parsed here too.
//!
//! `measure_load_and_push` (ignored) prints the median time of a load and of a push+ack:
//! `cargo test --release -p jazz-req-tests --test sync_live -- --ignored measure --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jazz_req_core::cojson::permissions_role::Role;
use jazz_req_core::cojson::{ContentMessage, LocalNode, Privacy, ResolveQuery};
use jazz_req_core::crypto::CoID;
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::sync::{
    Backoff, ConnectionState, Incoming, SyncClient, SyncMessage, SyncOptions, parse_frame,
};
use jazz_req_tests::sync_server::{SyncServer, SyncServerOptions, run_sync_peer};
use serde_json::{Value, json};

/// Quick to notice a lost server and to come back.
fn options() -> SyncOptions {
    SyncOptions::default()
        .with_backoff(Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
            factor: 2.0,
            jitter: 0.2,
        })
        .with_load_timeout(Duration::from_secs(20))
        .with_ack_timeout(Duration::from_secs(30))
}

async fn peer(input: Value) -> Value {
    tokio::task::spawn_blocking(move || run_sync_peer(&input))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn start_server(options: SyncServerOptions) -> SyncServer {
    tokio::task::spawn_blocking(move || SyncServer::start_with(options))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn id(value: &Value) -> CoID {
    CoID::parse(value.as_str().unwrap()).unwrap()
}

fn new_node(name: &str) -> LocalNode {
    LocalNode::create_account(new_random_agent_secret().unwrap(), name)
        .unwrap()
        .0
}

fn import_all(node: &mut LocalNode, messages: Vec<ContentMessage>) {
    for message in messages {
        node.import(message).unwrap();
    }
    assert!(node.pending().is_empty(), "content waits for dependencies");
}

fn ids(messages: &[ContentMessage]) -> Vec<CoID> {
    let mut ids: Vec<CoID> = Vec::new();
    for message in messages {
        if !ids.contains(&message.id) {
            ids.push(message.id.clone());
        }
    }
    ids
}

/// A Rust account with a group everyone may read, a list and a map referring to it.
struct RustValues {
    node: Arc<Mutex<LocalNode>>,
    group: CoID,
    map: CoID,
    list: CoID,
}

fn rust_values() -> RustValues {
    let mut node = new_node("Rust writer");
    let group = node.create_group().unwrap();
    node.add_member(&group, "everyone", Role::Reader).unwrap();
    let list = node
        .create_list(
            &group,
            &[json!("eins"), json!(2), json!({"drei": [3, "✓"]})],
            Privacy::Private,
        )
        .unwrap();
    let map = node
        .create_map(
            &group,
            &[
                ("title", json!("Made by Rust ✓")),
                ("count", json!(7)),
                ("list", json!(list.as_str())),
            ],
            Privacy::Private,
        )
        .unwrap();
    node.map_set(&map, "plain", json!("trusting"), Privacy::Trusting)
        .unwrap();
    RustValues {
        node: Arc::new(Mutex::new(node)),
        group,
        map,
        list,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_loads_what_cojson_created_with_its_dependencies() {
    let server = start_server(SyncServerOptions::default()).await;
    let created = peer(json!({"op": "create", "url": server.url()})).await;
    let (account, group, map, list) = (
        id(&created["account"]),
        id(&created["group"]),
        id(&created["map"]),
        id(&created["list"]),
    );
    let client = SyncClient::connect(&server.url(), options()).await.unwrap();

    let messages = client.load(&map).await.unwrap().expect("the server has it");
    let order = ids(&messages);
    let at = |id: &CoID| order.iter().position(|x| x == id).unwrap();
    assert!(
        at(&account) < at(&group) && at(&group) < at(&map),
        "{order:?}"
    );
    let mut node = new_node("Rust reader");
    import_all(&mut node, messages);
    assert_eq!(node.read(&map).unwrap().value, created["mapValue"]);

    let messages = client
        .load(&list)
        .await
        .unwrap()
        .expect("the server has it");
    import_all(&mut node, messages);
    assert_eq!(node.read(&list).unwrap().value, created["listValue"]);

    // A CoValue the server never saw.
    let unknown = node.create_group().unwrap();
    assert_eq!(client.load(&unknown).await.unwrap(), None);
    client.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_gets_again_the_dependencies_an_earlier_load_took() {
    let server = start_server(SyncServerOptions::default()).await;
    let created = peer(json!({"op": "create", "url": server.url()})).await;
    let (account, group, map, list) = (
        id(&created["account"]),
        id(&created["group"]),
        id(&created["map"]),
        id(&created["list"]),
    );

    // With a source: the node holds nothing (the map's load was not imported), so the
    // list's load asks the server again for the group and the account.
    let node = Arc::new(Mutex::new(new_node("Rust reader")));
    let client = SyncClient::connect(&server.url(), options().with_source(node.clone()))
        .await
        .unwrap();
    let first = client.load(&map).await.unwrap().unwrap();
    assert!(ids(&first).contains(&group));
    let second = client.load(&list).await.unwrap().unwrap();
    let order = ids(&second);
    assert!(
        order.contains(&group) && order.contains(&account),
        "{order:?}"
    );
    assert_eq!(order.last(), Some(&list));
    let mut fresh = new_node("Rust reader 2");
    import_all(&mut fresh, second);
    assert_eq!(fresh.read(&list).unwrap().value, created["listValue"]);
    client.shutdown().await.unwrap();

    // Without a source: what earlier loads returned counts as held by the caller.
    let client = SyncClient::connect(&server.url(), options()).await.unwrap();
    let first = client.load(&map).await.unwrap().unwrap();
    let second = client.load(&list).await.unwrap().unwrap();
    assert_eq!(ids(&second), vec![list.clone()]);
    let mut node = new_node("Rust reader 3");
    import_all(&mut node, first);
    import_all(&mut node, second);
    assert_eq!(node.read(&list).unwrap().value, created["listValue"]);
    client.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cojson_reads_what_rust_pushed_once_acknowledged() {
    let server = start_server(SyncServerOptions::default()).await;
    let values = rust_values();
    let client = SyncClient::connect(&server.url(), options().with_source(values.node.clone()))
        .await
        .unwrap();

    // The map alone: the server asks for its group and account, the source answers.
    let (map_only, expected_map) = {
        let node = values.node.lock().unwrap();
        let map = node.get(&values.map).unwrap().new_content_since(None);
        (map, node.read(&values.map).unwrap().value)
    };
    assert_eq!(ids(&map_only), vec![values.map.clone()]);
    client.push(map_only).await.unwrap();

    // The list with its dependencies, in export order.
    let (list_export, expected_list) = {
        let node = values.node.lock().unwrap();
        let export = node.export(&values.list, &ResolveQuery::Value).unwrap();
        (export, node.read(&values.list).unwrap().value)
    };
    assert!(ids(&list_export).contains(&values.group));
    client.push(list_export).await.unwrap();

    // Once `push` returned, a fresh cojson client finds both on the server.
    let read = peer(json!({
        "op": "read",
        "url": server.url(),
        "ids": [values.map.as_str(), values.list.as_str()],
    }))
    .await;
    assert_eq!(read["values"][values.map.as_str()], expected_map);
    assert_eq!(read["values"][values.list.as_str()], expected_list);
    assert_eq!(expected_map["title"], "Made by Rust ✓");
    client.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_by_cojson_arrives_unasked() {
    let server = start_server(SyncServerOptions::default()).await;
    let created = peer(json!({"op": "create", "url": server.url()})).await;
    let map = id(&created["map"]);
    let client = SyncClient::connect(&server.url(), options()).await.unwrap();
    let mut updates = client.updates().unwrap();
    assert!(client.updates().is_none(), "one stream per client");
    let mut node = new_node("Rust reader");
    import_all(&mut node, client.load(&map).await.unwrap().unwrap());
    assert_eq!(node.read(&map).unwrap().value["count"], 42);

    let updated = peer(json!({
        "op": "update", "url": server.url(), "id": map.as_str(), "key": "count", "value": 43,
    }))
    .await;
    assert_eq!(updated["value"]["count"], 43);
    // The update, and first the account of its author (a new dependency).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while node.read(&map).unwrap().value["count"] != 43 {
        let left = deadline.saturating_duration_since(Instant::now());
        let update = tokio::time::timeout(left, updates.recv())
            .await
            .expect("the update arrives")
            .expect("the client runs");
        seen.push(update.id.clone());
        node.import(update).unwrap();
    }
    assert!(seen.contains(&id(&updated["account"])), "{seen:?}");
    assert_eq!(node.read(&map).unwrap().value, updated["value"]);
    client.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_made_while_the_server_is_down_is_delivered_after_it_restarts() {
    let mut server = start_server(SyncServerOptions::default()).await;
    let values = rust_values();
    let client = SyncClient::connect(&server.url(), options().with_source(values.node.clone()))
        .await
        .unwrap();
    let export = values
        .node
        .lock()
        .unwrap()
        .export(&values.map, &ResolveQuery::Value)
        .unwrap();
    client.push(export).await.unwrap();

    let mut status = client.status();
    tokio::task::block_in_place(|| server.stop());
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| !matches!(s, ConnectionState::Connected { .. })),
    )
    .await
    .expect("the client notices")
    .unwrap();

    // Written and pushed during the outage: only the new transaction.
    let update = {
        let mut node = values.node.lock().unwrap();
        let before = node.get(&values.map).unwrap().known_state();
        node.map_set(&values.map, "count", json!(8), Privacy::Private)
            .unwrap();
        node.get(&values.map)
            .unwrap()
            .new_content_since(Some(&before))
    };
    let push = tokio::spawn({
        let client = client.clone();
        async move { client.push(update).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!push.is_finished(), "nobody to acknowledge it yet");

    // A new, empty server on the same port: it learns everything again from the client.
    tokio::task::block_in_place(|| server.restart()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), push)
        .await
        .expect("acknowledged after the restart")
        .unwrap()
        .unwrap();
    assert!(matches!(
        *client.status().borrow(),
        ConnectionState::Connected { connection } if connection >= 2
    ));
    let read = peer(json!({"op": "read", "url": server.url(), "ids": [values.map.as_str()]})).await;
    assert_eq!(read["values"][values.map.as_str()]["count"], 8);
    assert_eq!(
        read["values"][values.map.as_str()]["title"],
        "Made by Rust ✓"
    );
    client.shutdown().await.unwrap();
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("jazz-req-{name}-{}.jsonl", std::process::id()))
}

/// The frames of a capture file, as `(dir, frame)`.
fn captured(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            (
                entry["dir"].as_str().unwrap().to_owned(),
                entry["frame"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_with_several_messages_go_both_ways() {
    let capture = temp_file("batched-frames");
    let _ = std::fs::remove_file(&capture);
    let server = start_server(SyncServerOptions {
        batch: true,
        capture: Some(capture.clone()),
        ..SyncServerOptions::default()
    })
    .await;
    let created = peer(json!({"op": "create", "url": server.url()})).await;
    let map = id(&created["map"]);
    let client = SyncClient::connect(&server.url(), options()).await.unwrap();
    let mut node = new_node("Rust reader");
    import_all(&mut node, client.load(&map).await.unwrap().unwrap());
    assert_eq!(node.read(&map).unwrap().value, created["mapValue"]);

    let values = rust_values();
    let export = values
        .node
        .lock()
        .unwrap()
        .export(&values.map, &ResolveQuery::Value)
        .unwrap();
    client.push(export).await.unwrap();
    client.shutdown().await.unwrap();

    let frames = captured(&capture);
    let batched = |dir: &str, needle: &str| {
        frames
            .iter()
            .any(|(d, f)| d == dir && f.lines().count() > 1 && f.contains(needle))
    };
    assert!(
        batched("out", map.as_str()),
        "the server batched the map's load"
    );
    assert!(
        batched("in", values.map.as_str()),
        "the client batched its push"
    );
    let _ = std::fs::remove_file(&capture);
}

/// Every frame of a capture parses, message by message, and each message is written back
/// as something that parses to the same message.
fn check_frames(frames: &[(String, String)]) -> Vec<String> {
    let mut kinds = Vec::new();
    for (dir, frame) in frames {
        let messages: Vec<Incoming> = parse_frame(frame)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{dir} frame does not parse ({e}): {frame}"));
        let several = messages.len() > 1;
        for message in messages {
            let kind = match &message {
                Incoming::Ping { .. } => "ping".to_owned(),
                Incoming::Sync(SyncMessage::Known(known)) if known.is_correction => {
                    format!("{dir} known isCorrection")
                }
                Incoming::Sync(sync) => format!("{dir} {}", sync.action()),
            };
            if let Incoming::Sync(sync) = &message {
                let again = Incoming::parse(&sync.to_json_string()).unwrap();
                assert_eq!(again, message);
            }
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if several && !kinds.contains(&format!("{dir} batched")) {
            kinds.push(format!("{dir} batched"));
        }
    }
    kinds
}

const FIXTURE: &str = "fixtures/sync/server-frames.jsonl";

#[test]
fn frames_captured_from_the_server_parse() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let kinds = check_frames(&captured(&path));
    for kind in [
        "ping",
        "out known",
        "out known isCorrection",
        "out load",
        "out content",
        "out batched",
        "in load",
        "in content",
        "in known",
        "in batched",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}

/// Regenerates the fixture: `cargo test -p jazz-req-tests --test sync_live -- --ignored
/// capture_fixture_frames`. A session with every kind of message: a cojson client creating,
/// reading and updating; the Rust client loading, pushing content whose dependencies the
/// server asks for, and surviving a restart (which brings corrections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "rewrites tests/fixtures/sync/server-frames.jsonl"]
async fn capture_fixture_frames() {
    let capture = temp_file("fixture-frames");
    let _ = std::fs::remove_file(&capture);
    let mut server = start_server(SyncServerOptions {
        batch: true,
        capture: Some(capture.clone()),
        ..SyncServerOptions::default()
    })
    .await;
    let created = peer(json!({"op": "create", "url": server.url()})).await;
    let map = id(&created["map"]);
    let values = rust_values();
    let client = SyncClient::connect(&server.url(), options().with_source(values.node.clone()))
        .await
        .unwrap();
    client.load(&map).await.unwrap().unwrap();
    let map_only = values
        .node
        .lock()
        .unwrap()
        .get(&values.map)
        .unwrap()
        .new_content_since(None);
    client.push(map_only).await.unwrap();
    peer(json!({"op": "update", "url": server.url(), "id": map.as_str(), "key": "count", "value": 1})).await;
    tokio::task::block_in_place(|| server.restart()).unwrap();
    let update = {
        let mut node = values.node.lock().unwrap();
        let before = node.get(&values.map).unwrap().known_state();
        node.map_set(&values.map, "count", json!(9), Privacy::Private)
            .unwrap();
        node.get(&values.map)
            .unwrap()
            .new_content_since(Some(&before))
    };
    client.push(update).await.unwrap();
    // Long enough for the server's ping (every 1.5 s).
    tokio::time::sleep(Duration::from_millis(1700)).await;
    client.shutdown().await.unwrap();
    drop(server);

    let frames = captured(&capture);
    check_frames(&frames);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
    std::fs::copy(&capture, &fixture).unwrap();
    let _ = std::fs::remove_file(&capture);
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median of 100 loads of a small CoValue (a fresh client each, so the server sends it with
/// its group and account) and of 100 push+acks of one small write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --release --nocapture"]
async fn measure_load_and_push() {
    let server = start_server(SyncServerOptions::default()).await;
    let created = peer(json!({"op": "create", "url": server.url()})).await;
    let map = id(&created["map"]);
    let mut loads = Vec::new();
    let mut warm_loads = Vec::new();
    for _ in 0..100 {
        let client = SyncClient::connect(&server.url(), options()).await.unwrap();
        let started = Instant::now();
        let loaded = client.load(&map).await.unwrap().unwrap();
        loads.push(started.elapsed());
        assert_eq!(ids(&loaded).last(), Some(&map));
        // Again on the same connection: only the map itself comes.
        let started = Instant::now();
        client.load(&map).await.unwrap().unwrap();
        warm_loads.push(started.elapsed());
        client.shutdown().await.unwrap();
    }

    let values = rust_values();
    let client = SyncClient::connect(&server.url(), options().with_source(values.node.clone()))
        .await
        .unwrap();
    let export = values
        .node
        .lock()
        .unwrap()
        .export(&values.map, &ResolveQuery::Value)
        .unwrap();
    client.push(export).await.unwrap();
    let mut pushes = Vec::new();
    for n in 0..100 {
        let update = {
            let mut node = values.node.lock().unwrap();
            let before = node.get(&values.map).unwrap().known_state();
            node.map_set(&values.map, "count", json!(n), Privacy::Private)
                .unwrap();
            node.get(&values.map)
                .unwrap()
                .new_content_since(Some(&before))
        };
        let started = Instant::now();
        client.push(update).await.unwrap();
        pushes.push(started.elapsed());
    }
    client.shutdown().await.unwrap();
    println!(
        "load (fresh connection: account + group + map): median {:?}\n\
         load (same connection: map only): median {:?}\n\
         push + ack of one write: median {:?}",
        median(loads),
        median(warm_loads),
        median(pushes)
    );
}
