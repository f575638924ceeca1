//! What a worker's sync client follows: what the worker uses (its account, the event it
//! sells), not every request envelope it ever handled. A followed CoValue is loaded again on
//! every reconnection, so following each envelope would make a long-running worker's memory
//! and its reconnections grow with every request it answered.
//!
//! Shown with a real Jazz sync server that records every frame: after a batch of echo
//! requests the server is restarted (empty, same port), and the worker's reconnection loads
//! its account and the event, and none of the envelopes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{BookEventTicket, Event};
use jazz_req_tests::sync_events::{account_on_server, organise_event};
use jazz_req_tests::sync_server::{SyncServer, SyncServerOptions};
use jazz_req_tests::sync_worker::{SyncedWorker, as_json};
use serde_json::Value;

const ECHOES: usize = 12;

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
