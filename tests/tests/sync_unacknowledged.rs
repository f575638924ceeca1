//! No 200 for what the sync server has not acknowledged (`jazz-req-core/src/request/durable.rs`),
//! shown with a real Jazz sync server behind a proxy that holds back what the server sends,
//! and a worker with a short acknowledgement timeout:
//!
//! - a push that timed out is not settled: a request whose writes rode in it (taken along by
//!   an echo answered meanwhile) waits for the server and answers 504, not 200; so does a
//!   booking made while the server is held; once the server answers again, bookings answer
//!   200 and everything stored reaches the server;
//! - at most `max_answered_unacknowledged` answers of requests that wrote only their
//!   bookkeeping leave ahead of the server while it is held, however long: permits come
//!   back with the acknowledgement, not with the timeout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use jazz_req::cojson::Privacy;
use jazz_req::prelude::*;
use jazz_req::sync::{SyncClient, SyncOptions};
use jazz_req_examples::echo::Echo;
use jazz_req_examples::event_tickets::{BookEventTicket, Event};
use jazz_req_tests::holding_proxy::HoldingProxy;
use jazz_req_tests::sync_events::{
    Peer, account_on_server, organise_event, read_reservations, sync_options,
};
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::sync_worker::{SyncedWorker, as_json};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The worker's acknowledgement timeout: short, so that pushes time out while held.
const ACK_TIMEOUT: Duration = Duration::from_millis(2000);

/// Longer than [`ACK_TIMEOUT`]: the pushes made while held have timed out by then.
const PAST_THE_TIMEOUT: Duration = Duration::from_millis(3000);

/// Told by [`write_then_wait`] once it wrote; it returns once [`GO_ON`] is told.
static WRITTEN: Notify = Notify::const_new();
static GO_ON: Notify = Notify::const_new();
/// The map [`write_then_wait`] wrote.
static WRITTEN_MAP: OnceLock<CoID> = OnceLock::new();

/// Writes a map holding `text` through its context.
#[jazz_request(url = "/api/note-now")]
async fn note_now(ctx: RequestContext, text: String) -> Result<Written, JazzRequestError> {
    let note = ctx.with_node(|node| -> Result<CoID, NodeError> {
        let group = node.create_group()?;
        node.create_map(&group, &[("text", json!(text))], Privacy::Trusting)
    })?;
    Ok(Written {
        note: note.as_str().to_owned(),
    })
}

/// What [`write_then_wait`] and [`note_now`] answer: the map written.
#[derive(CoMap, Debug, Clone, PartialEq)]
pub struct Written {
    /// The map's id.
    pub note: String,
}

/// Writes a map holding `text` through its context, then waits until the test lets it
/// return: meanwhile, another request's store takes its writes along.
#[jazz_request(url = "/api/write-then-wait")]
async fn write_then_wait(ctx: RequestContext, text: String) -> Result<Written, JazzRequestError> {
    let note = ctx.with_node(|node| -> Result<CoID, NodeError> {
        let group = node.create_group()?;
        node.create_map(&group, &[("text", json!(text))], Privacy::Trusting)
    })?;
    let _ = WRITTEN_MAP.set(note.clone());
    WRITTEN.notify_one();
    GO_ON.notified().await;
    Ok(Written {
        note: note.as_str().to_owned(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_rode_in_a_timed_out_push_is_not_answered_200_until_the_server_has_it() {
    let (server, proxy) = server_behind_a_proxy().await;
    let url = server.url();
    let (worker_peer, worker_pieces) = account_on_server(&url, "Timed-out worker").await.unwrap();
    let worker_account = worker_peer.account.clone();
    let event = organise_event(&url, &worker_account, &worker_pieces, "Timed-out night", 10)
        .await
        .unwrap();
    let dir = test_dir("rode");
    let running = start_worker(&worker_peer, &proxy, &dir, usize::MAX).await;
    let writer = running.client("Writer", &as_json(&worker_pieces)).unwrap();
    let echo_client = running
        .client("Echo sender", &as_json(&worker_pieces))
        .unwrap();
    let buyer = running
        .client("Buyer", &event.client_pieces(&worker_pieces))
        .unwrap();
    let with_list = || Event::resolve().reservations(|r| r);

    // Flowing: a booking answers (and the event is in the worker's memory from now on).
    let loaded = buyer.load::<Event>(&event.event, with_list()).unwrap();
    BookEventTicket::send(&buyer, loaded).await.unwrap();

    proxy.hold_server(true);
    // A handler writes and waits; an echo answered meanwhile takes its writes along in its
    // own store and push, whose acknowledgement is held until that push times out.
    let body = writer
        .request_body(
            &worker_account,
            json!({"text": "rode"}).as_object().unwrap(),
        )
        .unwrap();
    let base = running.base_url.clone();
    let writing = tokio::spawn(post(base.clone(), "/api/write-then-wait", body.to_json()));
    tokio::time::timeout(Duration::from_secs(30), WRITTEN.notified())
        .await
        .expect("the handler wrote");
    // The echo carries a write of the worker's: it waits for the server, and past the ack
    // timeout does not answer 200.
    let carrier = echo_client
        .request_body(
            &worker_account,
            json!({"text": "carrier", "n": 1.0, "flag": true})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    let (status, answer) = tokio::time::timeout(
        Duration::from_secs(30),
        post(base.clone(), "/api/echo", carrier.to_json()),
    )
    .await
    .expect("the echo answers within the ack timeout");
    assert_ne!(status, 200, "the echo that carried the write answered 200");
    assert_eq!(status, 504, "{answer}");
    GO_ON.notify_one();
    let (status, answer) = tokio::time::timeout(Duration::from_secs(30), writing)
        .await
        .expect("the writer answers within the ack timeout")
        .unwrap();
    assert_ne!(
        status, 200,
        "the writer answered 200 though what it wrote rode in a push the server never acknowledged"
    );
    assert_eq!(status, 504, "{answer}");

    // A booking made while held does not answer 200 either.
    let loaded = buyer.load::<Event>(&event.event, with_list()).unwrap();
    let held_booking = BookEventTicket::send(&buyer, loaded).await;
    match held_booking {
        Err(SendError::Request(error)) => assert_eq!(error.status().as_u16(), 504, "{error:?}"),
        other => panic!("a booking answered while the server was held: {other:?}"),
    }

    // The server answers again: bookings answer 200, and what was stored meanwhile (the
    // written map, the held booking's ticket) reaches it.
    proxy.hold_server(false);
    let loaded = buyer.load::<Event>(&event.event, with_list()).unwrap();
    let booked = tokio::time::timeout(
        Duration::from_secs(30),
        BookEventTicket::send(&buyer, loaded),
    )
    .await
    .expect("a booking answers once the server answers")
    .expect("a booking answers 200 once the server answers");
    let listed = read_reservations(&url, &event.event).await.unwrap();
    assert_eq!(
        listed.len(),
        3,
        "the three tickets sold are on the server: {listed:?}"
    );
    assert!(listed.iter().any(|r| &r.ticket == booked.ticket.id()));
    let reader = SyncClient::connect(&url, sync_options()).await.unwrap();
    let note = WRITTEN_MAP.get().expect("the handler wrote a map");
    assert!(
        reader.load(note).await.unwrap().is_some(),
        "the map written meanwhile is on the server"
    );
    reader.shutdown().await.unwrap();

    running.worker.shutdown().await.unwrap();
    drop(proxy);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_ahead_of_a_held_server_stay_within_the_bound_past_the_ack_timeout() {
    const BOUND: usize = 3;
    let (server, proxy) = server_behind_a_proxy().await;
    let url = server.url();
    let (worker_peer, worker_pieces) = account_on_server(&url, "Bounded worker").await.unwrap();
    let dir = test_dir("bound");
    let running = start_worker(&worker_peer, &proxy, &dir, BOUND).await;
    let echo_client = running
        .client("Echo sender", &as_json(&worker_pieces))
        .unwrap();
    Echo::send(&echo_client, "warm".into(), 1.0, true, None)
        .await
        .unwrap();

    // A write waits for the acknowledgement of every earlier push: the warm echo's too.
    NoteNow::send(&echo_client, "settle".into()).await.unwrap();

    proxy.hold_server(true);
    // Up to the bound, echoes answer ahead of the server (the warm echo's permit may come
    // back a moment after the write's answer); one beyond does not.
    let mut ahead = 0;
    for i in 0..=BOUND {
        match Echo::send(&echo_client, format!("ahead {i}"), 1.0, true, None).await {
            Ok(echo) => {
                assert_eq!(echo.text, format!("ahead {i}"));
                ahead += 1;
            }
            Err(SendError::Request(error)) if error.status().as_u16() == 503 => break,
            Err(other) => panic!("echo {i}: {other:?}"),
        }
    }
    assert!(
        (1..=BOUND).contains(&ahead),
        "{ahead} echoes answered ahead of the server, the bound is {BOUND}"
    );
    // Their pushes time out; the server still has not acknowledged them: one more is not
    // answered ahead of it.
    tokio::time::sleep(PAST_THE_TIMEOUT).await;
    let beyond = tokio::time::timeout(
        Duration::from_secs(30),
        Echo::send(&echo_client, "beyond".into(), 1.0, true, None),
    )
    .await
    .expect("the echo beyond the bound answers within the ack timeout");
    match beyond {
        Err(SendError::Request(error)) => assert_eq!(error.status().as_u16(), 503, "{error:?}"),
        other => panic!("an echo answered beyond the bound while the server was held: {other:?}"),
    }

    // The server answers again: the permits come back, echoes answer.
    proxy.hold_server(false);
    let after = tokio::time::timeout(
        Duration::from_secs(30),
        Echo::send(&echo_client, "after".into(), 1.0, true, None),
    )
    .await
    .expect("an echo answers once the server answers")
    .expect("an echo answers 200 once the server answers");
    assert_eq!(after.text, "after");

    running.worker.shutdown().await.unwrap();
    drop(proxy);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// Starts the worker of `peer` through `proxy`, with [`ACK_TIMEOUT`] and at most `bound`
/// answers ahead of the server.
async fn start_worker(
    peer: &Peer,
    proxy: &HoldingProxy,
    dir: &std::path::Path,
    bound: usize,
) -> SyncedWorker {
    let options = SyncOptions::default()
        .with_load_timeout(Duration::from_secs(20))
        .with_ack_timeout(ACK_TIMEOUT)
        .with_max_answered_unacknowledged(bound);
    SyncedWorker::start_with_options(
        peer,
        &proxy.url(),
        &dir.join("worker.sqlite"),
        options,
        |worker| worker.register(WriteThenWait).register(NoteNow),
    )
    .await
    .unwrap()
}

/// POSTs `body` to `path` of the worker at `base`: the status and the body.
async fn post(base: String, path: &str, body: Value) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "jazz-req-sync-unacknowledged-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A sync server, and a proxy in front of it that can hold what it sends.
async fn server_behind_a_proxy() -> (SyncServer, HoldingProxy) {
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap();
    let upstream: SocketAddr = ([127, 0, 0, 1], server.port()).into();
    let proxy = HoldingProxy::start(upstream).await.unwrap();
    (server, proxy)
}
