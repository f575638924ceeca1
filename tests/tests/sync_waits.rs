//! What a worker's answer waits for at its sync server (`jazz-req-core/src/request/durable.rs`),
//! shown with a real Jazz sync server behind a proxy that holds back what the server sends:
//!
//! - a handler that wrote (a booking: its ticket, the reservation) answers only once the
//!   server acknowledged what it wrote — held acknowledgements hold the answer;
//! - a handler that wrote nothing (echo) answers once its bookkeeping is stored; the
//!   envelope with the worker's `$handled` mark still reaches the server, in the background;
//! - the response envelope is the client's: it goes in the body and is not pushed;
//! - a handler that writes through a clone of the worker, not its context, waits too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use jazz_req::cojson::Privacy;
use jazz_req::prelude::*;
use jazz_req::sync::SyncClient;
use jazz_req_examples::echo::Echo;
use jazz_req_examples::event_tickets::{BookEventTicket, Event};
use jazz_req_tests::holding_proxy::HoldingProxy;
use jazz_req_tests::sync_events::{
    account_on_server, organise_event, read_reservations, sync_options,
};
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::sync_worker::{SyncedWorker, as_json};
use serde_json::json;

/// Long enough for an answer that does not wait to arrive many times over.
const HELD_FOR: Duration = Duration::from_millis(1500);

/// The worker, for [`note_aside`] to write through a clone of it rather than its context.
static ASIDE_WORKER: OnceLock<RequestWorker> = OnceLock::new();

/// What [`note_aside`] answers: the map it wrote.
#[derive(CoMap, Debug, Clone, PartialEq)]
pub struct Aside {
    /// The map's id.
    pub note: String,
}

/// Writes a map holding `text` through a clone of the worker, not through its context.
#[jazz_request(url = "/api/note-aside")]
async fn note_aside(_ctx: RequestContext, text: String) -> Result<Aside, JazzRequestError> {
    let worker = ASIDE_WORKER
        .get()
        .ok_or_else(|| JazzRequestError::new("No worker to write through", 500))?;
    let note = worker
        .with_node(|node| {
            let group = node.create_group()?;
            node.create_map(&group, &[("text", json!(text))], Privacy::Trusting)
        })
        .await?;
    Ok(Aside {
        note: note.as_str().to_owned(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_waits_for_the_sync_server_an_echo_for_its_store() {
    let (server, proxy) = server_behind_a_proxy().await;
    let url = server.url();

    let (worker_peer, worker_pieces) = account_on_server(&url, "Held worker").await.unwrap();
    let worker_account = worker_peer.account.clone();
    let event = organise_event(&url, &worker_account, &worker_pieces, "Held night", 5)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("jazz-req-sync-waits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let running = SyncedWorker::start(&worker_peer, &proxy.url(), &dir.join("worker.sqlite"))
        .await
        .unwrap();
    let base = running.base_url.clone();
    let buyer_client = running
        .client("Held buyer", &event.client_pieces(&worker_pieces))
        .unwrap();
    let echo_client = running
        .client("Echo sender", &as_json(&worker_pieces))
        .unwrap();

    // With the server's answers flowing, both routes answer (and the worker has the event
    // in memory: what follows waits for acknowledgements, not for loads).
    let warm = Echo::send(&echo_client, "warm".into(), 1.0, true, None)
        .await
        .unwrap();
    assert_eq!(warm.text, "warm");
    let with_list = || Event::resolve().reservations(|r| r);
    let loaded = buyer_client
        .load::<Event>(&event.event, with_list())
        .unwrap();
    BookEventTicket::send(&buyer_client, loaded).await.unwrap();

    proxy.hold_server(true);

    // Echo: answered while the server's acknowledgements are held.
    let values = json!({"text": "held", "n": 2.5, "flag": false});
    let body = echo_client
        .request_body(&worker_account, values.as_object().unwrap())
        .unwrap();
    let request_id = body.id.clone();
    let posted = reqwest::Client::new()
        .post(format!("{base}/api/echo"))
        .header("content-type", "application/json")
        .body(body.to_json().to_string())
        .send();
    let answer = tokio::time::timeout(Duration::from_secs(30), posted)
        .await
        .expect("an echo answers while the sync server's acknowledgements are held")
        .unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    let response = echo_client
        .read_response(
            &worker_account,
            status,
            false,
            &bytes,
            &Echo::spec().response_resolve,
        )
        .unwrap();
    assert_eq!(response.value["text"], json!("held"));

    // A booking: not answered while its ticket is unacknowledged...
    let loaded = buyer_client
        .load::<Event>(&event.event, with_list())
        .unwrap();
    let booking = tokio::spawn(async move { BookEventTicket::send(&buyer_client, loaded).await });
    // ...and answered once the acknowledgements come, its ticket on the server.
    let booked = answered_once_let_go(&proxy, booking, "a booking")
        .await
        .unwrap();
    let listed = read_reservations(&url, &event.event).await.unwrap();
    assert!(
        listed.iter().any(|r| &r.ticket == booked.ticket.id()),
        "the sold ticket is on the server"
    );

    // The echo's envelope reaches the server with the worker's `$handled` mark (its only
    // write there), pushed in the background; its response is not pushed.
    let reader = SyncClient::connect(&url, sync_options()).await.unwrap();
    let mut marked = false;
    for _ in 0..100 {
        let content = reader.load(&request_id).await.unwrap().unwrap_or_default();
        marked = content.iter().any(|message| {
            message.id == request_id
                && message
                    .new
                    .iter()
                    .any(|(session, _)| session.author_str() == worker_account.as_str())
        });
        if marked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(marked, "the worker's `$handled` mark is on the server");
    assert_eq!(reader.load(&response.id).await.unwrap(), None);
    reader.shutdown().await.unwrap();

    running.worker.shutdown().await.unwrap();
    drop(proxy);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_a_clone_of_the_worker_waits_for_the_sync_server_too() {
    let (server, proxy) = server_behind_a_proxy().await;
    let url = server.url();
    let (worker_peer, worker_pieces) = account_on_server(&url, "Aside worker").await.unwrap();
    let dir = std::env::temp_dir().join(format!("jazz-req-sync-aside-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let running = SyncedWorker::start_with_routes(
        &worker_peer,
        &proxy.url(),
        &dir.join("worker.sqlite"),
        |worker| worker.register(NoteAside),
    )
    .await
    .unwrap();
    assert!(ASIDE_WORKER.set(running.worker.clone()).is_ok());
    let client = running
        .client("Aside sender", &as_json(&worker_pieces))
        .unwrap();
    NoteAside::send(&client, "warm".into()).await.unwrap();

    proxy.hold_server(true);
    let sending = tokio::spawn(async move { NoteAside::send(&client, "held".into()).await });
    let aside = answered_once_let_go(&proxy, sending, "a write through a clone of the worker")
        .await
        .unwrap();
    let reader = SyncClient::connect(&url, sync_options()).await.unwrap();
    let note = CoID::parse(&aside.note).unwrap();
    assert!(
        reader.load(&note).await.unwrap().is_some(),
        "the map the handler wrote is on the server"
    );
    reader.shutdown().await.unwrap();

    running.worker.shutdown().await.unwrap();
    drop(proxy);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// With the proxy holding the server's acknowledgements, `request` (`what`) is not answered
/// within [`HELD_FOR`]; once the proxy lets go, it is.
async fn answered_once_let_go<T>(
    proxy: &HoldingProxy,
    request: tokio::task::JoinHandle<T>,
    what: &str,
) -> T {
    tokio::time::sleep(HELD_FOR).await;
    assert!(
        !request.is_finished(),
        "{what} answered before the sync server acknowledged what its handler wrote"
    );
    proxy.hold_server(false);
    tokio::time::timeout(Duration::from_secs(30), request)
        .await
        .unwrap_or_else(|_| panic!("{what} answers once the server's acknowledgements flow"))
        .unwrap()
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
