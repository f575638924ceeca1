//! Requests whose callers leave while the worker loads what they name from its sync server
//! leave memory where it was: a real Jazz sync server, the worker its peer behind a proxy that
//! holds the server's answers, an event the worker does not hold (an organiser put it on the
//! server), and many requests naming it, each dropped by its caller while it waits for the
//! load (`accept` → `load_through_peers`). Once the proxy lets go, every request runs to the
//! end in its own task and takes out of memory what it brought; what stays is the event the
//! load brought (the node keeps what it loaded, as it keeps it for a request that is answered).
//!
//! The other waiting points (the handler, the `serialize` lock) are in `request_guards.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use jazz_req::prelude::*;
use jazz_req::request::WorkerMemory;
use jazz_req_examples::event_tickets::Event;
use jazz_req_tests::holding_proxy::HoldingProxy;
use jazz_req_tests::sync_events::{
    OrganisedEvent, account_on_server, organise_event, sync_options,
};
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::sync_worker::{SyncedWorker, as_json};
use serde_json::{Value, json};

/// The answer of [`look`].
#[derive(CoMap, Debug)]
pub struct Looked {
    pub ok: bool,
}

/// How many times [`look`] ran to its end.
static LOOKS: AtomicUsize = AtomicUsize::new(0);

/// Reads an event with its reservations and writes nothing (what stays in memory after it is
/// what the request brought and what the load brought, nothing a handler wrote).
#[jazz_request(url = "/api/look", resolve = { event: { reservations: true } })]
pub async fn look(ctx: RequestContext, event: Loaded<Event>) -> Result<Looked, JazzRequestError> {
    let _ = (ctx, event);
    LOOKS.fetch_add(1, Ordering::SeqCst);
    Ok(Looked { ok: true })
}

/// How many requests are cancelled while they wait for the load (`CANCELLED_LOADS`, default
/// 500).
fn cancelled_loads() -> usize {
    std::env::var("CANCELLED_LOADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500)
}

/// Waits (bounded: five minutes, for a debug build on a busy machine; 500 requests take a few
/// seconds) until `check` holds, then returns whether it did.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..6_000 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

fn http_request(path: &str, body: &Value) -> http::Request<Bytes> {
    http::Request::post(path)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

/// The CoValues in the worker's node.
fn held(worker: &RequestWorker) -> HashSet<CoID> {
    worker
        .read_node(|node| Ok(node.ids().cloned().collect()))
        .unwrap()
}

/// The CoValues `event`'s organiser put on the server: the event, its reservations, and what
/// they depend on (its group, the organiser's account).
fn on_server(event: &OrganisedEvent) -> HashSet<CoID> {
    event.pieces.iter().map(|piece| piece.id.clone()).collect()
}

/// The CoValues of `body`'s content pieces that are not in `held`.
fn new_in(body: &Value, held: &HashSet<CoID>) -> HashSet<CoID> {
    body["contentPieces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|piece| CoID::parse(piece["id"].as_str().unwrap()).unwrap())
        .filter(|id| !held.contains(id))
        .collect()
}

/// The worker's memory once no request pins anything (bounded wait).
async fn settled(worker: &RequestWorker) -> WorkerMemory {
    let mut memory = worker.memory().unwrap();
    eventually(|| {
        memory = worker.memory().unwrap();
        memory.pinned == 0
    })
    .await;
    memory
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_whose_callers_leave_while_the_worker_loads_leave_memory_where_it_was() {
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap();
    let url = server.url();
    let upstream: SocketAddr = ([127, 0, 0, 1], server.port()).into();
    let proxy = HoldingProxy::start(upstream).await.unwrap();

    let (worker_peer, worker_pieces) = account_on_server(&url, "Loading worker").await.unwrap();
    // Two events of other accounts, on the server only: one for the warm-up, one that the
    // cancelled requests name.
    let warm_event = organise_event(&url, &worker_peer.account, &worker_pieces, "Warm night", 5)
        .await
        .unwrap();
    let event = organise_event(&url, &worker_peer.account, &worker_pieces, "Held night", 5)
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("jazz-req-cancelled-loads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Timeouts far beyond how long the server's answers are held: the held load must not
    // fail (a 503 cleans up on a path of its own), nor the held connection be taken for dead.
    let options = sync_options()
        .with_load_timeout(Duration::from_secs(300))
        .with_keepalive(Duration::from_secs(5), Duration::from_secs(300))
        // The server acknowledges the envelopes of every request before shutdown returns:
        // thousands of them take a busy debug run longer than the usual timeouts.
        .with_ack_timeout(Duration::from_secs(300))
        .with_shutdown_timeout(Duration::from_secs(300));
    let running = SyncedWorker::start_with_options(
        &worker_peer,
        &proxy.url(),
        &dir.join("worker.sqlite"),
        options,
        |worker| worker.register(Look),
    )
    .await
    .unwrap();
    let worker = running.worker.clone();
    let client = running
        .client("Leaving client", &as_json(&worker_pieces))
        .unwrap();
    let body = |event: &CoID| {
        let values = json!({"event": event.as_str()});
        client
            .request_body(&worker_peer.account, values.as_object().unwrap())
            .unwrap()
            .to_json()
    };

    // Warm-up: one request of this client naming the other event, answered. From then on
    // its account is among the recent senders', its response group kept, and the worker
    // holds what a load of an event brings and keeps (the warm event).
    let before_warm_up = held(&worker);
    let response = worker
        .handle(http_request("/api/look", &body(&warm_event.event)))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    let baseline = settled(&worker).await;
    assert_eq!(baseline.pinned, 0);
    let baseline_held = held(&worker);
    let warm_loaded: HashSet<CoID> = baseline_held.difference(&before_warm_up).cloned().collect();
    assert!(
        warm_loaded.is_superset(&HashSet::from([
            warm_event.event.clone(),
            warm_event.reservations.clone()
        ])),
        "the warm-up loaded its event: {warm_loaded:?}"
    );
    // The event the cancelled requests name is not in the worker: they wait for its load.
    assert!(!baseline_held.contains(&event.event));
    assert!(!baseline_held.contains(&event.reservations));
    let looks_before = LOOKS.load(Ordering::SeqCst);

    // The server's answers held; the requests sent, each in a task its caller may drop.
    proxy.hold_server(true);
    let count = cancelled_loads();
    let bodies: Vec<Value> = (0..count).map(|_| body(&event.event)).collect();
    // What the requests bring that the worker lacks: each its envelope and the envelope's
    // group (the sender's account it holds since the warm-up).
    let brought: usize = bodies
        .iter()
        .map(|body| new_in(body, &baseline_held).len())
        .sum();
    assert!(brought >= count, "each request brings its envelope");
    let mut callers = Vec::with_capacity(count);
    for body in bodies {
        let handling = worker.clone();
        callers.push(tokio::spawn(async move {
            handling.handle(http_request("/api/look", &body)).await
        }));
    }
    // Every request imported what it brought (and only then loads what its resolve names)
    // and cannot go on before the load is answered: all of them wait for it.
    assert!(
        eventually(|| worker.memory().unwrap().covalues >= baseline.covalues + brought).await,
        "the requests did not reach the load: {:?}, baseline {baseline:?}",
        worker.memory().unwrap()
    );
    assert!(
        !held(&worker).contains(&event.event),
        "the event was loaded while the server's answers were held"
    );
    assert_eq!(LOOKS.load(Ordering::SeqCst), looks_before);
    for caller in &callers {
        caller.abort();
    }
    for caller in callers {
        assert!(caller.await.unwrap_err().is_cancelled());
    }

    // Let go: the load is answered, and every cancelled request runs to the end.
    proxy.hold_server(false);
    assert!(
        eventually(|| LOOKS.load(Ordering::SeqCst) - looks_before >= count).await,
        "{} of {count} cancelled requests ran to the end; memory {:?}, baseline {baseline:?}",
        LOOKS.load(Ordering::SeqCst) - looks_before,
        worker.memory().unwrap()
    );
    assert_eq!(LOOKS.load(Ordering::SeqCst) - looks_before, count);
    let loaded = on_server(&event);
    let mut after = settled(&worker).await;
    let mut after_held = held(&worker);
    // The last stores (and what leaves with them) may trail the handlers: bounded wait.
    eventually(|| {
        after = worker.memory().unwrap();
        after_held = held(&worker);
        after.pinned == 0
            && after_held
                .difference(&baseline_held)
                .all(|id| loaded.contains(id))
    })
    .await;
    let stayed: HashSet<CoID> = after_held.difference(&baseline_held).cloned().collect();
    let not_loaded: Vec<&CoID> = stayed.iter().filter(|id| !loaded.contains(*id)).collect();
    assert!(
        not_loaded.is_empty(),
        "{} CoValues the requests brought stayed in memory: {after:?}, baseline {baseline:?}",
        not_loaded.len()
    );
    assert!(
        stayed.contains(&event.event) && stayed.contains(&event.reservations),
        "the event was loaded: {stayed:?}"
    );
    assert!(
        baseline_held.is_subset(&after_held),
        "what the worker held before is gone"
    );
    assert_eq!(
        (after.covalues, after.pinned),
        (baseline.covalues + stayed.len(), 0),
        "cancelled at the load: {after:?}, baseline {baseline:?}, loaded {}",
        stayed.len()
    );

    running.worker.shutdown().await.unwrap();
    drop(proxy);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
