//! What a handler created leaves the memory of a worker that is a peer of a sync server, once
//! the server acknowledged it (issue 16: memory flat over many bookings), and comes back up
//! to date: a later request that names it reads what others wrote to it meanwhile through
//! the server, not the store's older copy.
//!
//! A real Jazz sync server; an app account owns a group the worker writes in; the worker's
//! route creates a unique CoMap in that group (`ctx.get_or_create_unique`); the app changes
//! it through the server while it is out of the worker's memory; the route, asked again,
//! finds it and answers with the app's change.
//!
//! So that the change is not simply forwarded to the worker (the server forwards what
//! changes to the peers that sent it), the server is restarted empty in between: the worker
//! reconnects and loads again what it follows, not what left its memory; the app uploads
//! the value with its change; only a worker that asks the server about what it took back
//! from its store reads the change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::collections::HashSet;
use std::time::{Duration, Instant};

use jazz_req::cojson::ResolveQuery;
use jazz_req::prelude::*;
use jazz_req::sync::{ConnectionState, SyncClient};
use jazz_req_tests::sync_events::{Peer, account_on_server, sync_options, upload};
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::unique_peer::{Settings, UniqueSettings};

fn held(worker: &RequestWorker) -> HashSet<CoID> {
    worker
        .read_node(|node| Ok(node.ids().cloned().collect()))
        .unwrap()
}

/// Waits (bounded) until `check` holds, and returns whether it did.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_handler_created_leaves_memory_and_comes_back_with_what_others_wrote() {
    let mut server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();
    let (worker_peer, worker_pieces) = account_on_server(&url, "Releasing worker").await.unwrap();

    // The app: its account owns a group the worker writes in.
    let mut app = Peer::fresh("App").unwrap();
    for piece in &worker_pieces {
        app.node.import(piece.clone()).unwrap();
    }
    let group = {
        let mut tx = Tx::new(&mut app.node);
        let group = tx.create_group().unwrap();
        tx.add_member(&group, &worker_peer.account, Role::Writer)
            .unwrap();
        group
    };
    let mut pieces = app.account_pieces().unwrap();
    pieces.extend(app.node.export(group.id(), &ResolveQuery::Value).unwrap());
    upload(&url, pieces).await.unwrap();

    let dir = std::env::temp_dir().join(format!("jazz-req-released-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let worker = WorkerOptions::new(
        worker_peer.account.clone(),
        worker_peer.secret.clone(),
        dir.join("worker.sqlite"),
    )
    .with_sync_server(&url)
    .start()
    .await
    .unwrap_or_else(|e| panic!("the worker did not start: {e}"))
    .register(UniqueSettings);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap()
        .addr();
    let client = RequestClient::new(Peer::fresh("Caller").unwrap().node)
        .with_base_url(format!("http://{addr}"))
        .with_worker(worker_peer.account.clone());
    client
        .import_pieces(&jazz_req_tests::sync_worker::as_json(&worker_pieces))
        .unwrap();
    let owner = group.id().as_str().to_owned();
    let ask = |label: &str| {
        UniqueSettings::send(
            &client,
            owner.clone(),
            "released".to_owned(),
            label.to_owned(),
            "worker".to_owned(),
        )
    };

    // Created by the handler, acknowledged by the server: it leaves the worker's memory.
    let first = ask("first").await.unwrap();
    assert_eq!(first.label, "first");
    let settings = CoID::parse(&first.id).unwrap();
    assert!(
        eventually(|| !held(&worker).contains(&settings)).await,
        "what the handler created stayed in memory"
    );

    // The app loads it from the server.
    let app_sync = SyncClient::connect(&url, sync_options()).await.unwrap();
    for message in app_sync.load(&settings).await.unwrap().unwrap() {
        app.node.import(message).unwrap();
    }
    app_sync.shutdown().await.unwrap();

    // The server restarts empty; the worker reconnects.
    let sync = worker.sync_client().unwrap().clone();
    let mut status = sync.status();
    tokio::task::block_in_place(|| server.restart()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(
            |state| matches!(state, ConnectionState::Connected { connection } if *connection >= 2),
        ),
    )
    .await
    .expect("the worker did not reconnect")
    .unwrap();

    // The app changes it, and uploads it with what it depends on.
    {
        let mut tx = Tx::new(&mut app.node);
        let mut loaded = tx.load::<Settings>(&settings, Settings::resolve()).unwrap();
        tx.update(&mut loaded, |s| s.label = "changed by the app".to_owned())
            .unwrap();
    }
    let mut changed = worker_pieces.clone();
    changed.extend(app.node.export(&settings, &ResolveQuery::Value).unwrap());
    upload(&url, changed).await.unwrap();

    // Asked again, the route finds it, and reads the app's change.
    let again = ask("not used").await.unwrap();
    assert_eq!(again.id, first.id, "created twice");
    assert_eq!(again.label, "changed by the app");
    assert_eq!(again.rust.as_deref(), Some("worker"));

    worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// What a booking leaves in the memory of a worker that is a peer of a sync server: nothing
/// that grows with the bookings but the reservations list itself. The CoValues the worker
/// holds after a first round of bookings and after a second, longer one are the same count
/// (the tickets, their groups, the envelopes and their groups left; the event, its
/// reservations, the worker's and the recent senders' accounts stay).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_through_a_sync_server_leave_the_worker_holding_what_it_held() {
    use jazz_req_examples::event_tickets::{BookEventTicket, Event};
    use jazz_req_tests::sync_events::organise_event;
    use jazz_req_tests::sync_worker::SyncedWorker;

    const FIRST: usize = 20;
    const SECOND: usize = 60;
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();
    let (worker_peer, worker_pieces) = account_on_server(&url, "Flat worker").await.unwrap();
    let capacity = u32::try_from(FIRST + SECOND + 1).unwrap();
    let event = organise_event(&url, &worker_peer.account, &worker_pieces, "Flat", capacity)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("jazz-req-flat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let running = SyncedWorker::start(&worker_peer, &url, &dir.join("worker.sqlite"))
        .await
        .unwrap();
    let buyer = running
        .client("Buyer", &event.client_pieces(&worker_pieces))
        .unwrap();
    let with_list = || Event::resolve().reservations(|r| r);
    let book = |count: usize| {
        let buyer = &buyer;
        let event = &event;
        async move {
            for _ in 0..count {
                let loaded = buyer.load::<Event>(&event.event, with_list()).unwrap();
                BookEventTicket::send(buyer, loaded).await.unwrap();
            }
        }
    };
    let settled = |worker: &RequestWorker| {
        let worker = worker.clone();
        async move {
            let mut last = worker.memory().unwrap().covalues;
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = worker.memory().unwrap().covalues;
                if now == last {
                    break;
                }
                last = now;
            }
            last
        }
    };
    book(FIRST).await;
    let after_first = settled(&running.worker).await;
    book(SECOND).await;
    let after_second = settled(&running.worker).await;
    assert_eq!(
        after_second,
        after_first,
        "{} more CoValues held after {SECOND} more bookings",
        after_second as i64 - after_first as i64
    );
    running.worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
