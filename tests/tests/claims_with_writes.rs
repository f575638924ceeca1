//! A request's replay claim is durable before (or with) anything it wrote, whichever store
//! carries its writes.
//!
//! Concurrent requests share the worker's node, and a store takes everything queued in it:
//! request B, answered while request A's handler is still running, stores what A wrote so
//! far. If the worker dies before A answers, the store must still hold A's claim — otherwise
//! A, sent again after a restart, would run a second time on top of its own writes (the kill
//! -9 test once found a booking stored without its claim: the resent booking got "Event is
//! full" instead of "already handled"). Here the interleaving is forced, and the store is
//! read as a restarted worker reads it: a replay guard seeded from the store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::sync::Arc;

use bytes::Bytes;
use jazz_req_core::cojson::permissions_role::Role;
use jazz_req_core::cojson::{LocalNode, Privacy, ResolveQuery};
use jazz_req_core::crypto::{self, CoID};
use jazz_req_core::request::replay::{ReplayGuard, StoredReplayGuard};
use jazz_req_core::request::{
    JazzRequestError, RequestClient, RequestContext, RequestWorker, RouteSpec,
};
use jazz_req_core::storage::{MemoryStorage, Storage};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

fn post(path: &str, body: &Value) -> http::Request<Bytes> {
    http::Request::post(path)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_takes_another_requests_writes_takes_its_claim_too() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let secret = crypto::random::new_random_agent_secret().unwrap();
    let (mut node, worker_account) = LocalNode::create_account(secret, "Worker").unwrap();
    node.attach_storage(storage.clone());
    let notes = node
        .batch(|node| {
            let group = node.create_group()?;
            node.add_member(&group, "everyone", Role::Reader)?;
            node.create_map(&group, &[], Privacy::Private)
        })
        .unwrap();
    node.flush().unwrap();
    let account_pieces = node.export(&worker_account, &ResolveQuery::Value).unwrap();

    // `/slow` writes a note, says so, and waits to be let go; `/echo` answers at once.
    let wrote = Arc::new(Notify::new());
    let go_on = Arc::new(Notify::new());
    let (w, g, n) = (wrote.clone(), go_on.clone(), notes.clone());
    let worker = RequestWorker::new(node)
        .unwrap()
        .route(RouteSpec::new("/slow"), move |ctx: RequestContext| {
            let (wrote, go_on, notes) = (w.clone(), g.clone(), n.clone());
            async move {
                ctx.with_node(|node| {
                    node.map_set(&notes, "slow", json!("wrote"), Privacy::Private)
                })
                .map_err(JazzRequestError::internal)?;
                wrote.notify_one();
                go_on.notified().await;
                Ok(Map::new())
            }
        })
        .route(RouteSpec::new("/echo"), |ctx: RequestContext| async move {
            Ok(ctx.values().clone())
        });

    let client_secret = crypto::random::new_random_agent_secret().unwrap();
    let (mut client_node, _) = LocalNode::create_account(client_secret, "Client").unwrap();
    for piece in account_pieces {
        client_node.import(piece).unwrap();
    }
    let client = RequestClient::new(client_node);
    let values: Map<String, Value> = json!({"text": "hi"}).as_object().unwrap().clone();
    let slow = client.request_body(&worker_account, &values).unwrap();
    let echo = client.request_body(&worker_account, &values).unwrap();

    // A runs up to its write and waits; B is answered meanwhile, its store taking A's note.
    let a = {
        let (worker, body) = (worker.clone(), slow.to_json());
        tokio::spawn(async move { worker.handle(post("/slow", &body)).await })
    };
    wrote.notified().await;
    let b = worker.handle(post("/echo", &echo.to_json())).await;
    assert_eq!(b.status(), 200, "{:?}", b.body());
    assert!(
        note_in_store(&storage, &notes).is_some(),
        "B did not store A's note"
    );

    // What a worker restarted now would know: A's id is claimed.
    let restarted =
        StoredReplayGuard::new(Some(&storage), jazz_req_core::cojson::clock::now_ms()).unwrap();
    let now = jazz_req_core::cojson::clock::now_ms();
    assert_eq!(
        restarted.claim(&slow.id, now + 60_000, now).unwrap(),
        None,
        "A's note is stored without A's claim: a restarted worker would run A again"
    );

    // A finishes normally, and its replay is refused.
    go_on.notify_one();
    let a = a.await.unwrap();
    assert_eq!(a.status(), 200, "{:?}", a.body());
    let replay = worker.handle(post("/slow", &slow.to_json())).await;
    assert_eq!(replay.status(), 400);
    assert!(String::from_utf8_lossy(replay.body()).contains("already handled"));
}

/// The note as a restarted worker would read it from the store.
fn note_in_store(storage: &Arc<dyn Storage>, notes: &CoID) -> Option<Value> {
    let secret = crypto::random::new_random_agent_secret().unwrap();
    let (mut node, _) = LocalNode::create_account(secret, "Auditor").unwrap();
    node.attach_storage(storage.clone());
    assert!(node.load_from_storage(notes).unwrap());
    node.read(notes).unwrap().value.get("slow").cloned()
}
