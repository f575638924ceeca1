//! Issue 22, deliverable 2, live: a Rust worker and a jazz-tools 0.20.19 app race to create
//! one unique CoMap through a real sync server (`tests/js/sync-server.mjs`).
//!
//! The worker serves `POST /api/unique-settings`, whose handler calls
//! `ctx.get_or_create_unique(key, &group, …)`; the jazz-tools app (`tests/js/unique-race.mjs`)
//! calls `Settings.getOrCreateUnique` for the same key and owner. So that both really
//! create — each before seeing the other's value — the app's creator drops its sync server
//! peer while it creates (its node then finds nothing and creates, as jazz-tools does for a
//! value it cannot load), and the worker is asked (by a second account of the app, which
//! never holds the value) while the server does not have the creator's. Then the creator
//! reconnects, and both sides must read the same value: the first writer's init, with
//! nothing of the other's. Both orders: jazz-tools first, Rust first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jazz_req::prelude::*;
use jazz_req_tests::sync_apps::run_sync_app;
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::unique_peer::{Settings, UniqueRacer, UniqueSettings};
use serde_json::{Value, json};

/// A new SQLite file for the worker's store (with its -wal and -shm, removed on drop).
struct Store(PathBuf);

impl Store {
    fn fresh() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir.join(format!("unique-race-{}-{n}.sqlite", std::process::id())))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Who creates first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    JazzTools,
    Rust,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jazz_tools_first_both_sides_keep_the_jazz_tools_init() {
    race(First::JazzTools).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_first_both_sides_keep_the_rust_init() {
    race(First::Rust).await;
}

/// Runs one racer command off the runtime.
async fn command(racer: &std::sync::Arc<std::sync::Mutex<UniqueRacer>>, command: Value) -> Value {
    let racer = racer.clone();
    tokio::task::spawn_blocking(move || racer.lock().unwrap().command(&command))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn race(first: First) {
    let started = Instant::now();
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();

    // The worker: an account jazz-tools made on the server, a new store, the route.
    let input = json!({"op": "account", "url": url, "name": "Unique worker"});
    let made = tokio::task::spawn_blocking(move || run_sync_app(&input))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let account = CoID::parse(made["accountID"].as_str().unwrap()).unwrap();
    let secret = AgentSecret::parse(made["agentSecret"].as_str().unwrap()).unwrap();
    let store = Store::fresh();
    let worker = WorkerOptions::new(account.clone(), secret, &store.0)
        .with_sync_server(&url)
        .start()
        .await
        .unwrap_or_else(|e| panic!("the Rust worker did not start: {e}"))
        .register(UniqueSettings);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap()
        .addr();
    let base_url = format!("http://{addr}");

    let (sync_url, worker_id) = (url.clone(), account.clone());
    let racer =
        tokio::task::spawn_blocking(move || UniqueRacer::start(&sync_url, &base_url, &worker_id))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
    let group = Group::new(racer.group.clone());
    let creator = racer.creator.clone();
    let racer = std::sync::Arc::new(std::sync::Mutex::new(racer));
    let key = format!("settings {first:?}");
    let id = unique_id::<Settings>(key.as_str(), &group);

    let create = json!({"op": "create", "key": key, "label": "from jazz-tools", "mark": "js"});
    let call = json!({"op": "call", "key": key, "label": "from rust", "mark": "rust"});
    let (js, rust) = match first {
        First::JazzTools => {
            command(&racer, json!({"op": "offline"})).await;
            let js = command(&racer, create).await;
            let rust = command(&racer, call).await;
            command(&racer, json!({"op": "online"})).await;
            (js, rust)
        }
        First::Rust => {
            let rust = command(&racer, call).await;
            command(&racer, json!({"op": "offline"})).await;
            // Later than the worker's init, whatever the clocks' resolution.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let js = command(&racer, create).await;
            command(&racer, json!({"op": "online"})).await;
            (js, rust)
        }
    };
    // Each created its own init at the id Rust computes, without seeing the other's.
    let js_init = json!({"label": "from jazz-tools", "js": "js"});
    let rust_init = json!({"label": "from rust", "rust": "rust"});
    assert_eq!(js["id"], json!(id.as_str()), "{js}");
    assert_eq!(js["view"], js_init, "{js}");
    let mut answered = rust["ok"].clone();
    assert_eq!(answered["id"], json!(id.as_str()), "{rust}");
    answered.as_object_mut().unwrap().remove("id");
    assert_eq!(answered, rust_init, "{rust}");
    let (winner, winning_author) = match first {
        First::JazzTools => (js_init, creator.clone()),
        First::Rust => (rust_init, account.clone()),
    };

    // jazz-tools, once it holds the worker's init too, reads the first writer's alone.
    let read = command(
        &racer,
        json!({"op": "read", "key": key, "waitForAuthor": account.as_str()}),
    )
    .await;
    assert_eq!(read["id"], json!(id.as_str()), "{read}");
    assert_eq!(read["view"], winner, "{read}");
    assert!(
        read["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with(creator.as_str())),
        "{read}"
    );

    // The worker, once it holds the creator's init too (the server forwards it), reads the
    // same: two inits, the first writer's the only valid one. (When the worker created it,
    // it left memory once the server acknowledged it: the forwarded init brought it back
    // from the store; read from the store until then.)
    let deadline = Instant::now() + Duration::from_secs(30);
    let verdicts = loop {
        let verdicts = worker
            .with_node(|node| {
                if node.get(&id).is_none() {
                    node.load_from_storage(&id)?;
                }
                node.transaction_verdicts(&id)
            })
            .await
            .unwrap();
        if verdicts.len() >= 2 {
            break verdicts;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never got the other init: {verdicts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    let valid: Vec<_> = verdicts.iter().filter(|v| v.valid).collect();
    assert_eq!(valid.len(), 1, "{verdicts:?}");
    assert!(
        valid[0].id.session_id.author_str() == winning_author.as_str(),
        "{verdicts:?}"
    );
    let held = worker.load::<Settings>(&id, Settings::resolve()).unwrap();
    assert_eq!(held.view(), winner);

    // Asking the route again finds it and leaves it as it is.
    let again = command(
        &racer,
        json!({"op": "call", "key": key, "label": "third", "mark": "third"}),
    )
    .await;
    let mut answered = again["ok"].clone();
    assert_eq!(answered["id"], json!(id.as_str()), "{again}");
    answered.as_object_mut().unwrap().remove("id");
    assert_eq!(answered, winner, "{again}");

    drop(racer);
    drop(server);
    drop(store);
    eprintln!(
        "{first:?} first: both sides on the first writer in {:?}",
        started.elapsed()
    );
}
