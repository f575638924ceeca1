//! The Rust worker as a peer of a real Jazz sync server (cojson 0.20.19 + cojson-transport-ws,
//! `tests/js/sync-server.mjs`): it starts from a new store with its account on the server,
//! loads the event another account keeps there, sells exactly its capacity under
//! contention, and every sold ticket is on the server when its response leaves — read back
//! by a third account that never talked to the worker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{BookEventTicket, Event, Ticket};
use jazz_req_tests::sync_events::{Peer, account_on_server, organise_event, read_reservations};
use jazz_req_tests::sync_server::SyncServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sells_an_event_kept_on_the_sync_server_and_syncs_every_ticket() {
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap();
    let url = server.url();
    let capacity = 3;

    // The worker's account is uploaded (as `jazz-req account create --sync-server` does);
    // an organiser creates the event on the server, the worker a writer of its group.
    let (worker_peer, worker_pieces) = account_on_server(&url, "Ticket worker").await.unwrap();
    let worker_account = worker_peer.account.clone();
    let event = organise_event(
        &url,
        &worker_account,
        &worker_pieces,
        "Jazz night",
        capacity,
    )
    .await
    .unwrap();

    // The worker starts on a new store: its account and the event come from the server.
    let dir = std::env::temp_dir().join(format!("jazz-req-worker-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("worker.sqlite");
    let worker = WorkerOptions::new(worker_account.clone(), worker_peer.secret.clone(), &store)
        .with_sync_server(&url)
        .start()
        .await
        .unwrap()
        .register(BookEventTicket);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap()
        .addr();

    // 3× capacity buyers at once.
    let shared = event.client_pieces(&worker_pieces);
    let mut buyers = Vec::new();
    for i in 0..capacity * 3 {
        let buyer = Peer::fresh(&format!("Buyer {i}")).unwrap();
        let me = buyer.account.clone();
        let client = RequestClient::new(buyer.node)
            .with_base_url(format!("http://{addr}"))
            .with_worker(worker_account.clone());
        client.import_pieces(&shared).unwrap();
        let event = client
            .load::<Event>(&event.event, Event::resolve().reservations(|r| r))
            .unwrap();
        buyers.push(tokio::spawn(async move {
            (me, BookEventTicket::send(&client, event).await)
        }));
    }
    let mut sold = Vec::new();
    let mut full = 0;
    for buyer in buyers {
        match buyer.await.unwrap() {
            (me, Ok(booked)) => sold.push((me, booked.ticket.id().clone())),
            (_, Err(SendError::Request(e))) if e.code == 400 && e.message == "Event is full" => {
                full += 1;
            }
            (_, Err(other)) => panic!("{other}"),
        }
    }
    assert_eq!(
        (sold.len(), full),
        (capacity as usize, capacity as usize * 2)
    );

    // A third account that never talked to the worker reads the reservations from the
    // server: exactly the tickets sold, each readable by its buyer.
    let mut listed: Vec<(CoID, Vec<CoID>)> = read_reservations(&url, &event.event)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.ticket, r.readers))
        .collect();
    let mut expected: Vec<(CoID, Vec<CoID>)> = sold
        .iter()
        .map(|(buyer, ticket)| (ticket.clone(), vec![buyer.clone()]))
        .collect();
    listed.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    expected.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    assert_eq!(listed, expected);
    // Tickets are readable by their buyers only; the reader sees that they exist, and the
    // worker, their admin, reads each as naming its buyer and the event.
    for (buyer, ticket) in &sold {
        let read = worker.load::<Ticket>(ticket, Ticket::resolve()).unwrap();
        assert_eq!(read.account.id(), buyer);
        assert_eq!(read.event.id(), &event.event);
    }
    worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
