//! What a worker's sync client follows: what the worker uses (its account, the event it
//! sells), not every request envelope it ever handled. A followed CoValue is loaded again on
//! every reconnection, so following each envelope would make a long-running worker's memory
//! and its reconnections grow with every request it answered.
//!
//! Nor what requests name and the server does not have (a signed request may name any id),
//! nor what its handlers created (tickets and their groups) once the server acknowledged it.
//!
//! Shown with a real Jazz sync server that records every frame: after a batch of requests
//! the server is restarted (empty, same port), and the worker's reconnection loads its
//! account and the event with its reservations, and none of the envelopes, the ids that
//! were not found or the tickets sold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use jazz_req::crypto::random::random_bytes;
use jazz_req::prelude::*;
use jazz_req::sync::SyncClient;
use jazz_req_examples::event_tickets::{BookEventTicket, Event};
use jazz_req_tests::sync_events::{account_on_server, organise_event};
use jazz_req_tests::sync_server::{SyncServer, SyncServerOptions};
use jazz_req_tests::sync_worker::{SyncedWorker, as_json};
use serde_json::Value;

const ECHOES: usize = 12;

/// Requests naming an event the server does not have.
const NOT_FOUND: usize = 2000;

/// How many of them are in flight at once.
const CONCURRENT: usize = 8;

/// Tickets sold.
const BOOKINGS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reconnection_the_worker_loads_what_it_uses_not_the_envelopes_it_handled() {
    let dir = std::env::temp_dir().join(format!("jazz-req-sync-follows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("frames.jsonl");
    let options = SyncServerOptions {
        capture: Some(capture.clone()),
        ..SyncServerOptions::default()
    };
    let mut server = tokio::task::spawn_blocking(move || SyncServer::start_with(options))
        .await
        .unwrap()
        .unwrap();
    let url = server.url();

    let (worker_peer, worker_pieces) = account_on_server(&url, "Following worker").await.unwrap();
    let worker_account = worker_peer.account.clone();
    let event = organise_event(&url, &worker_account, &worker_pieces, "Follow night", 5)
        .await
        .unwrap();
    let running = SyncedWorker::start(&worker_peer, &url, &dir.join("worker.sqlite"))
        .await
        .unwrap();
    let base = running.base_url.clone();
    let echo_client = running
        .client("Echo sender", &as_json(&worker_pieces))
        .unwrap();
    let mut envelopes = HashSet::new();
    for i in 0..ECHOES {
        let values = serde_json::json!({"text": format!("echo {i}"), "n": 1.0, "flag": true});
        let body = echo_client
            .request_body(&worker_account, values.as_object().unwrap())
            .unwrap();
        envelopes.insert(body.id.as_str().to_owned());
        let answer = reqwest::Client::new()
            .post(format!("{base}/api/echo"))
            .header("content-type", "application/json")
            .body(body.to_json().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
    // A booking answers once every push before it is acknowledged: the echoes' too.
    let buyer_client = running
        .client("Buyer", &event.client_pieces(&worker_pieces))
        .unwrap();
    let loaded = buyer_client
        .load::<Event>(&event.event, Event::resolve().reservations(|r| r))
        .unwrap();
    BookEventTicket::send(&buyer_client, loaded).await.unwrap();

    // The envelopes did reach the server (the check below is not about frames never sent).
    let before = frames_from_worker(&capture, 0);
    for envelope in &envelopes {
        assert!(
            before.iter().any(|m| m["id"] == envelope.as_str()),
            "the envelope {envelope} was pushed"
        );
    }

    // An empty server on the same port: the worker reconnects and loads what it follows.
    let restarted_at = std::fs::metadata(&capture).unwrap().len();
    tokio::task::block_in_place(|| server.restart()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let loaded_after = loop {
        let loads: HashSet<String> = frames_from_worker(&capture, restarted_at)
            .iter()
            .filter(|m| m["action"] == "load")
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect();
        if loads.contains(worker_account.as_str()) && loads.contains(event.event.as_str()) {
            break loads;
        }
        assert!(
            Instant::now() < deadline,
            "no reload of the worker's account and the event after the restart: {loads:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reloaded: Vec<&String> = loaded_after.intersection(&envelopes).collect();
    assert!(
        reloaded.is_empty(),
        "{} of {ECHOES} handled envelopes are still followed: {reloaded:?}",
        reloaded.len()
    );

    running.worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_the_server_lacks_and_tickets_sold_are_not_followed() {
    let dir = std::env::temp_dir().join(format!(
        "jazz-req-sync-follows-needed-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("frames.jsonl");
    let options = SyncServerOptions {
        capture: Some(capture.clone()),
        ..SyncServerOptions::default()
    };
    let mut server = tokio::task::spawn_blocking(move || SyncServer::start_with(options))
        .await
        .unwrap()
        .unwrap();
    let url = server.url();
    let (worker_peer, worker_pieces) = account_on_server(&url, "Needing worker").await.unwrap();
    let worker_account = worker_peer.account.clone();
    let capacity = u32::try_from(BOOKINGS + 1).unwrap();
    let event = organise_event(
        &url,
        &worker_account,
        &worker_pieces,
        "Needs night",
        capacity,
    )
    .await
    .unwrap();
    let running = SyncedWorker::start(&worker_peer, &url, &dir.join("worker.sqlite"))
        .await
        .unwrap();
    let sync = running.worker.sync_client().unwrap().clone();
    let buyer = running
        .client("Buyer", &event.client_pieces(&worker_pieces))
        .unwrap();
    let with_list = || Event::resolve().reservations(|r| r);

    // The event is loaded (and followed) with a first booking.
    let loaded = buyer.load::<Event>(&event.event, with_list()).unwrap();
    let mut tickets = vec![
        BookEventTicket::send(&buyer, loaded)
            .await
            .unwrap()
            .ticket
            .id()
            .clone(),
    ];
    let baseline = stable_count(&sync).await;

    // Requests naming events nobody has: each is "Value not found", and none stays followed.
    let base = running.base_url.clone();
    let mut absent = HashSet::new();
    let mut sending = tokio::task::JoinSet::new();
    for _ in 0..NOT_FOUND {
        let id = CoID::from_bytes(&random_bytes::<19>().unwrap());
        absent.insert(id.as_str().to_owned());
        let values = serde_json::json!({"event": id.as_str()});
        let body = buyer
            .request_body(&worker_account, values.as_object().unwrap())
            .unwrap();
        let url = format!("{base}/api/book-event-ticket");
        sending.spawn(async move {
            let answer = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_json().to_string())
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        });
        while sending.len() >= CONCURRENT {
            let (status, text) = sending.join_next().await.unwrap().unwrap();
            assert_eq!(status, 400, "{text}");
            assert!(text.contains("Value not found"), "{text}");
        }
    }
    while let Some(answered) = sending.join_next().await {
        let (status, text) = answered.unwrap();
        assert_eq!(status, 400, "{text}");
    }
    let after_not_found = sync.followed_count().await.unwrap();
    assert!(
        after_not_found <= baseline,
        "{} of {NOT_FOUND} ids the server lacks are followed",
        after_not_found.saturating_sub(baseline)
    );

    // Bookings: the tickets and their groups are the worker's own; once acknowledged they
    // are not followed (the event and its reservations are).
    for _ in 0..BOOKINGS {
        let loaded = buyer.load::<Event>(&event.event, with_list()).unwrap();
        let booked = BookEventTicket::send(&buyer, loaded).await.unwrap();
        tickets.push(booked.ticket.id().clone());
    }
    let after_bookings = count_down_to(&sync, baseline).await;
    assert!(
        after_bookings <= baseline,
        "{} more CoValues followed after {BOOKINGS} bookings (their tickets and groups)",
        after_bookings.saturating_sub(baseline)
    );

    // An empty server on the same port: the reconnection loads the account, the event and
    // its reservations, none of the ids not found and none of the tickets.
    let restarted_at = std::fs::metadata(&capture).unwrap().len();
    tokio::task::block_in_place(|| server.restart()).unwrap();
    let wanted = [
        worker_account.as_str(),
        event.event.as_str(),
        event.reservations.as_str(),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let loaded_after = loop {
        let loads: HashSet<String> = frames_from_worker(&capture, restarted_at)
            .iter()
            .filter(|m| m["action"] == "load")
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect();
        if wanted.iter().all(|id| loads.contains(*id)) {
            break loads;
        }
        assert!(
            Instant::now() < deadline,
            "no reload of the account, the event and its reservations after the restart: {loads:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reloaded_absent = loaded_after.intersection(&absent).count();
    assert_eq!(reloaded_absent, 0, "ids not found loaded again");
    let reloaded_tickets: Vec<&CoID> = tickets
        .iter()
        .filter(|ticket| loaded_after.contains(ticket.as_str()))
        .collect();
    assert!(
        reloaded_tickets.is_empty(),
        "tickets loaded again: {reloaded_tickets:?}"
    );

    running.worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// How many CoValues `sync` follows once two looks in a row agree (what acknowledged pushes
/// forget is forgotten in the sync client's task, just after the answers).
async fn stable_count(sync: &SyncClient) -> usize {
    let mut last = sync.followed_count().await.unwrap();
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = sync.followed_count().await.unwrap();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// How many CoValues `sync` follows once that is at most `enough`, or after a bounded wait.
async fn count_down_to(sync: &SyncClient, enough: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = sync.followed_count().await.unwrap();
        if now <= enough || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The messages the server received (`"dir":"in"`) in the capture from byte `from` on.
fn frames_from_worker(capture: &Path, from: u64) -> Vec<Value> {
    let text = std::fs::read(capture).unwrap_or_default();
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(text.len());
    String::from_utf8_lossy(&text[start..])
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["dir"] == "in")
        .filter_map(|record| record["frame"].as_str().map(str::to_owned))
        .flat_map(|frame| {
            frame
                .split('\n')
                .filter_map(|message| serde_json::from_str::<Value>(message).ok())
                .collect::<Vec<_>>()
        })
        .collect()
}
