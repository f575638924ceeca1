//! The Rust worker as a peer of a real Jazz sync server (cojson 0.20.19 + cojson-transport-ws,
//! `tests/js/sync-server.mjs`): it starts from a new store with its account on the server,
//! loads the event another account keeps there, sells exactly its capacity under
//! contention, and every sold ticket is on the server when its response leaves — read back
//! by a third account that never talked to the worker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::time::Duration;

use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::sync::{SyncClient, SyncOptions};
use jazz_req_core::cojson::ContentMessage;
use jazz_req_examples::event_tickets::{BookEventTicket, Event, Ticket};
use jazz_req_tests::sync_server::SyncServer;
use serde_json::Value;

fn options() -> SyncOptions {
    SyncOptions::default()
        .with_load_timeout(Duration::from_secs(20))
        .with_ack_timeout(Duration::from_secs(30))
}

async fn push(url: &str, content: Vec<ContentMessage>) {
    let client = SyncClient::connect(url, options()).await.unwrap();
    client.push(content).await.unwrap();
    client.shutdown().await.unwrap();
}

/// A node as its own account (fresh), with what it exports.
fn account(name: &str) -> (LocalNode, CoID, AgentSecret) {
    let secret = new_random_agent_secret().unwrap();
    let (node, id) = LocalNode::create_account(secret.clone(), name).unwrap();
    (node, id, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sells_an_event_kept_on_the_sync_server_and_syncs_every_ticket() {
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap();
    let url = server.url();
    let capacity = 3;

    // The worker's account is uploaded (as `jazz-req account create --sync-server` does).
    let (worker_node, worker_account, worker_secret) = account("Ticket worker");
    let worker_pieces = worker_node
        .export(&worker_account, &jazz_req::cojson::ResolveQuery::Value)
        .unwrap();
    push(&url, worker_pieces.clone()).await;

    // An organiser creates the event on the server; the worker is a writer of its group.
    let (mut organiser, _, _) = account("Organiser");
    for piece in &worker_pieces {
        organiser.import(piece.clone()).unwrap();
    }
    let event = organiser
        .atomically(|node| {
            let mut tx = Tx::new(node);
            let group = tx.create_group()?;
            tx.add_member(&group, Member::Everyone, Role::Reader)?;
            tx.add_member(&group, &worker_account, Role::Writer)?;
            let reservations = tx.create_list(&group, Vec::<Ref<Ticket>>::new())?;
            tx.create(
                &group,
                Event {
                    name: "Jazz night".into(),
                    capacity,
                    reservations,
                },
            )
        })
        .unwrap();
    let with_list = Event::resolve().reservations(|r| r).into_query();
    let event_pieces = organiser.export(event.id(), &with_list).unwrap();
    push(&url, event_pieces.clone()).await;

    // The worker starts on a new store: its account and the event come from the server.
    let dir = std::env::temp_dir().join(format!("jazz-req-worker-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("worker.sqlite");
    let worker = WorkerOptions::new(worker_account.clone(), worker_secret, &store)
        .with_sync_server(&url)
        .start()
        .await
        .unwrap()
        .register(BookEventTicket);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap();

    // 3× capacity buyers at once.
    let shared: Vec<Value> = worker_pieces
        .iter()
        .chain(&event_pieces)
        .map(ContentMessage::to_json)
        .collect();
    let mut buyers = Vec::new();
    for i in 0..capacity * 3 {
        let (node, me, _) = account(&format!("Buyer {i}"));
        let client = RequestClient::new(node)
            .with_base_url(format!("http://{addr}"))
            .with_worker(worker_account.clone());
        client.import_pieces(&shared).unwrap();
        let event = client
            .load::<Event>(event.id(), Event::resolve().reservations(|r| r))
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
    // server: exactly the tickets sold, each naming its buyer and the event.
    let (mut reader, _, _) = account("Reader");
    let client = SyncClient::connect(&url, options()).await.unwrap();
    let mut wanted = vec![event.id().clone(), event.reservations.id().clone()];
    wanted.extend(sold.iter().map(|(_, ticket)| ticket.clone()));
    for id in &wanted {
        for message in client.load(id).await.unwrap().unwrap() {
            reader.import(message).unwrap();
        }
    }
    let seen = jazz_req::schema::read_loaded::<Event>(
        &reader,
        event.id(),
        &Event::resolve().reservations(|r| r).into_query(),
    )
    .unwrap();
    let mut listed: Vec<CoID> = seen
        .reservations
        .items()
        .unwrap()
        .iter()
        .map(|t| t.id().clone())
        .collect();
    let mut expected: Vec<CoID> = sold.iter().map(|(_, t)| t.clone()).collect();
    listed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(listed, expected);
    // Tickets are readable by their buyers only; the reader sees that they exist, and the
    // worker, their admin, reads each as naming its buyer and the event.
    for (buyer, ticket) in &sold {
        let read = worker.load::<Ticket>(ticket, Ticket::resolve()).unwrap();
        assert_eq!(read.account.id(), buyer);
        assert_eq!(read.event.id(), event.id());
    }
    worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
