//! Live interop with the real jazz-tools 0.20.19, both ways, over real HTTP on loopback:
//! a jazz-tools client calls the Rust worker, and the Rust client calls a jazz-tools worker
//! (`handle()` behind a Node HTTP server). Success, `JazzRequestError` with details, replay,
//! concurrent duplicates, expiry, tampering, a foreign signer and bad input are each asserted
//! — against the Rust worker as jazz-req promises, against jazz-tools as it behaves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};

use jazz_req_core::cojson::{ContentMessage, LocalNode};
use jazz_req_core::crypto::{self, CoID};
use jazz_req_core::request::{
    Clock, ManualClock, RequestClient, SignedBody, SystemClock, WorkerConfig,
};
use jazz_req_tests::rust_peer::{RustWorker, routes, worker_node};
use jazz_req_tests::ts_peer::{HttpReply, TsWorker, http_request, run_ts_client};
use serde_json::{Map, Value, json};

fn secret() -> String {
    crypto::random::new_random_agent_secret()
        .unwrap()
        .to_secret_string()
        .to_string()
}

fn person(name: &str) -> Value {
    json!({"name": name, "email": format!("{}@example.com", name.to_lowercase()), "age": 30})
}

fn pieces_json(pieces: &[ContentMessage]) -> Vec<Value> {
    pieces.iter().map(ContentMessage::to_json).collect()
}

fn ts_client_input(worker: &RustWorker, requests: Value, capture_only: bool) -> Value {
    json!({
        "agentSecret": secret(),
        "name": "TS Client",
        "baseUrl": worker.base_url(),
        "workerAccountID": worker.worker.account().as_str(),
        "workerPieces": pieces_json(&worker.account_pieces()),
        "eventID": worker.event.as_str(),
        "eventPieces": pieces_json(&worker.event_pieces()),
        "requests": requests,
        "captureOnly": capture_only,
    })
}

async fn ts_client(input: Value) -> Value {
    tokio::task::spawn_blocking(move || run_ts_client(&input))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn post_rust(worker: &RustWorker, path: &str, body: String) -> HttpReply {
    let addr = worker.addr.to_string();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || http_request(&addr, "POST", &path, Some(body.as_bytes())))
        .await
        .unwrap()
        .unwrap()
}

fn assert_jazz_error(reply: &HttpReply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "{}", reply.body_text());
    assert_eq!(
        reply.header("x-jazz-request-error"),
        Some("true"),
        "{}",
        reply.body_text()
    );
    let body = reply.body_json().unwrap();
    assert!(
        body["message"].as_str().unwrap().contains(message),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jazz_tools_client_calls_the_rust_worker() {
    let worker = RustWorker::start(
        worker_node(None).unwrap(),
        1,
        Arc::new(SystemClock),
        WorkerConfig::default(),
    )
    .await
    .unwrap();
    let requests = json!([
        {"route": "echo", "values": person("John")},
        {"route": "fail", "values": person("Late")},
        {"route": "book-event-ticket", "values": {}},
        {"route": "book-event-ticket", "values": {}},
    ]);
    let out = ts_client(ts_client_input(&worker, requests, false)).await;
    let client = out["clientAccountID"].as_str().unwrap();
    let results = out["results"].as_array().unwrap();
    assert_eq!(
        results[0]["ok"]["bio"],
        json!(format!("Profile for John by {client}")),
        "{out}"
    );
    assert_eq!(
        results[0]["ok"]["avatar"],
        json!("https://example.com/a/john@example.com.jpg")
    );
    let error = &results[1]["error"];
    assert_eq!(error["isJazzRequestError"], json!(true), "{error}");
    assert_eq!(
        (error["message"].clone(), error["code"].clone()),
        (json!("Event is full"), json!(400))
    );
    assert_eq!(error["details"], json!({"capacity": 2}));
    assert_eq!(
        results[2]["ok"]["ticket"]["seat"],
        json!(1),
        "{}",
        results[2]
    );
    assert_eq!(
        results[3]["error"]["message"],
        json!("Event is full"),
        "{}",
        results[3]
    );
    assert_eq!(results[3]["error"]["details"], json!({"capacity": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jazz_tools_bodies_replayed_duplicated_tampered_or_late_are_refused_by_the_rust_worker() {
    let worker = RustWorker::start(
        worker_node(None).unwrap(),
        1,
        Arc::new(SystemClock),
        WorkerConfig::default(),
    )
    .await
    .unwrap();
    let requests = json!([
        {"route": "echo", "values": person("A")},
        {"route": "echo", "values": person("B")},
        {"route": "echo", "values": person("C")},
        {"route": "echo", "values": person("D")},
    ]);
    let out = ts_client(ts_client_input(&worker, requests, true)).await;
    let raw: Vec<String> = out["rawBodies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();

    // Replay.
    assert_eq!(
        post_rust(&worker, "/api/echo", raw[0].clone()).await.status,
        200
    );
    assert_jazz_error(
        &post_rust(&worker, "/api/echo", raw[0].clone()).await,
        400,
        "already handled",
    );

    // Eight concurrent copies: exactly one runs.
    let before = worker.runs[0].load(Ordering::SeqCst);
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (addr, body) = (worker.addr.to_string(), raw[1].clone());
            tokio::task::spawn_blocking(move || {
                http_request(&addr, "POST", "/api/echo", Some(body.as_bytes())).unwrap()
            })
        })
        .collect();
    let mut ok = 0;
    for copy in copies {
        let reply = copy.await.unwrap();
        if reply.status == 200 {
            ok += 1
        } else {
            assert_jazz_error(&reply, 400, "already handled")
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(worker.runs[0].load(Ordering::SeqCst) - before, 1);

    // Tampered createdAt; a foreign signer re-signing the jazz-tools body.
    let mut tampered: Value = serde_json::from_str(&raw[2]).unwrap();
    tampered["createdAt"] = json!(tampered["createdAt"].as_u64().unwrap() - 1);
    assert_jazz_error(
        &post_rust(&worker, "/api/echo", tampered.to_string()).await,
        401,
        "Invalid signature",
    );
    let signed = SignedBody::from_json(&serde_json::from_str(&raw[2]).unwrap()).unwrap();
    let other = crypto::random::new_random_agent_secret().unwrap();
    let foreign = SignedBody::sign(
        signed.content_pieces,
        signed.id,
        crypto_now(),
        &other.signer,
    );
    assert_jazz_error(
        &post_rust(&worker, "/api/echo", foreign.to_json().to_string()).await,
        401,
        "not signed by its sender",
    );

    // Late: a worker whose clock is 61 s ahead refuses the (otherwise fresh) body.
    let late = RustWorker::start(
        worker_node(None).unwrap(),
        1,
        Arc::new(ManualClock::new(crypto_now() + 61_000)),
        WorkerConfig::default(),
    )
    .await
    .unwrap();
    assert_jazz_error(
        &post_rust(&late, "/api/echo", raw[3].clone()).await,
        401,
        "expired",
    );

    // Bad input jazz-tools' own worker answers with a bare 500: a 4xx with the body here.
    assert_jazz_error(
        &post_rust(&worker, "/api/echo", "{not json".into()).await,
        400,
        "not valid",
    );
    assert_jazz_error(
        &post_rust(&worker, "/api/echo", String::new()).await,
        400,
        "not valid",
    );
}

fn crypto_now() -> u64 {
    SystemClock.now_ms()
}

fn rust_client_for(ts: &TsWorker, clock: Arc<dyn Clock>) -> RequestClient {
    let (mut node, _) = LocalNode::create_account(
        crypto::random::new_random_agent_secret().unwrap(),
        "Rust Client",
    )
    .unwrap();
    for piece in ts.worker_pieces().iter().chain(ts.event_pieces()) {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    RequestClient::with_clock(node, clock)
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_calls_a_jazz_tools_worker() {
    let ts = tokio::task::spawn_blocking(|| TsWorker::start(&secret(), 1))
        .await
        .unwrap()
        .unwrap();
    let worker = CoID::parse(ts.worker_account_id()).unwrap();
    let [echo, fail, book] = routes(ts.url());
    let client = rust_client_for(&ts, Arc::new(SystemClock));
    let me = client.node().unwrap().reader().account.clone().unwrap();

    let response = client
        .send(&echo, &worker, &values(person("John Doe")))
        .await
        .unwrap();
    assert_eq!(
        response.value["bio"],
        json!(format!("Profile for John Doe by {me}"))
    );
    assert_eq!(response.made_by, worker);

    let error = client
        .send(&fail, &worker, &values(person("Late")))
        .await
        .unwrap_err();
    let error = error
        .as_jazz_request_error()
        .unwrap_or_else(|| panic!("{error}"));
    assert_eq!(
        (error.message.as_str(), error.code, error.details.clone()),
        ("Event is full", 400, Some(json!({"capacity": 2})))
    );

    let event = values(json!({"event": ts.event_id()}));
    let booked = client.send(&book, &worker, &event).await.unwrap();
    assert_eq!(booked.value["ticket"]["seat"], json!(1), "{}", booked.value);
    let full = client.send(&book, &worker, &event).await.unwrap_err();
    assert_eq!(
        full.as_jazz_request_error().unwrap().message,
        "Event is full"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn how_a_jazz_tools_worker_treats_replays_duplicates_tampering_foreign_signers_and_bad_input()
{
    let ts = tokio::task::spawn_blocking(|| TsWorker::start(&secret(), 1))
        .await
        .unwrap()
        .unwrap();
    let worker = CoID::parse(ts.worker_account_id()).unwrap();
    let client = rust_client_for(&ts, Arc::new(SystemClock));
    let body = |name: &str| {
        client
            .request_body(&worker, &values(person(name)))
            .unwrap()
            .to_json()
            .to_string()
    };
    let ts = Arc::new(ts);
    let post = |body: String| {
        let ts = ts.clone();
        async move {
            tokio::task::spawn_blocking(move || ts.post("/api/echo", body.as_bytes()).unwrap())
                .await
                .unwrap()
        }
    };

    // Replay of a Rust-made body: jazz-tools refuses it too.
    let first = body("Replay");
    assert_eq!(post(first.clone()).await.status, 200);
    assert_jazz_error(&post(first).await, 400, "already handled");

    // Concurrent copies: without a sync server, jazz-tools' single thread runs one.
    let dup = body("Duplicate");
    let before = ts.handler_runs("echo").unwrap();
    let barrier = Arc::new(Barrier::new(5));
    let copies: Vec<_> = (0..5)
        .map(|_| {
            let (ts, dup, barrier) = (ts.clone(), dup.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                ts.post("/api/echo", dup.as_bytes()).unwrap().status
            })
        })
        .collect();
    let statuses: Vec<u16> = copies.into_iter().map(|c| c.join().unwrap()).collect();
    let runs = ts.handler_runs("echo").unwrap() - before;
    println!("jazz-tools worker, 5 concurrent copies: statuses {statuses:?}, handler runs {runs}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count() as u64, runs);

    // Expired: a Rust client whose clock is 61 s behind.
    let late = rust_client_for(&ts, Arc::new(ManualClock::new(crypto_now() - 61_000)));
    let late_body = late
        .request_body(&worker, &values(person("Late")))
        .unwrap()
        .to_json()
        .to_string();
    assert_jazz_error(
        &post(late_body).await,
        401,
        "Authentication token is expired",
    );

    // Tampered.
    let mut tampered: Value = serde_json::from_str(&body("Tamper")).unwrap();
    tampered["createdAt"] = json!(tampered["createdAt"].as_u64().unwrap() - 1);
    assert_jazz_error(&post(tampered.to_string()).await, 401, "Invalid signature");

    // A foreign signer: jazz-tools does not check that signerID is the sender's (jazz-req does).
    let signed = SignedBody::from_json(&serde_json::from_str(&body("Foreign")).unwrap()).unwrap();
    let other = crypto::random::new_random_agent_secret().unwrap();
    let foreign = SignedBody::sign(
        signed.content_pieces,
        signed.id,
        crypto_now(),
        &other.signer,
    );
    let reply = post(foreign.to_json().to_string()).await;
    println!("jazz-tools worker, foreign signerID: {}", reply.status);
    assert_eq!(
        reply.status,
        200,
        "jazz-tools 0.20.19 accepts a foreign signer: {}",
        reply.body_text()
    );

    // Bad input: jazz-tools answers 500 without the error body.
    let reply = post("{not json".into()).await;
    println!("jazz-tools worker, non-JSON body: {}", reply.status);
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("x-jazz-request-error"), None);
    let reply = post(json!({"contentPieces": 1}).to_string()).await;
    assert_jazz_error(&reply, 400, "Request payload is not valid");
}
