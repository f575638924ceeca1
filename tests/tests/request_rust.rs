//! A Rust client and a Rust worker over real HTTP on loopback: success, typed errors,
//! replays, concurrent duplicates (exactly once), expiry, tampering, a foreign signer, bad
//! input (always a 4xx with the error body, never a crash), and no overselling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jazz_req_core::cojson::header::Ruleset;
use jazz_req_core::crypto::{self, CoID};
use jazz_req_core::request::{
    Clock, ManualClock, RequestClient, SignedBody, SystemClock, WorkerConfig,
};
use jazz_req_tests::rust_peer::{RustWorker, routes, rust_client, worker_node};
use serde_json::{Map, Value, json};

fn values(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn person() -> Map<String, Value> {
    values(json!({"name": "John Doe", "email": "john@example.com", "age": 30}))
}

async fn start(capacity: u32, clock: Arc<dyn Clock>) -> RustWorker {
    RustWorker::start(
        worker_node(None).unwrap(),
        capacity,
        clock,
        WorkerConfig::default(),
    )
    .await
    .unwrap()
}

struct Answer {
    status: u16,
    error_header: bool,
    body: Value,
}

async fn post(url: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let error_header = response
        .headers()
        .get("x-jazz-request-error")
        .is_some_and(|v| v == "true");
    let text = response.text().await.unwrap();
    Answer {
        status,
        error_header,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn post_json(url: &str, body: &Value) -> Answer {
    post(url, Some("application/json"), body.to_string()).await
}

fn assert_error(answer: &Answer, status: u16, message: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(
        answer.error_header,
        "X-Jazz-Request-Error missing: {}",
        answer.body
    );
    assert_eq!(answer.body["code"], json!(status), "{}", answer.body);
    assert!(
        answer.body["message"].as_str().unwrap().contains(message),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_round_trip_and_typed_error() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = start(2, clock.clone()).await;
    let [echo, fail, _] = routes(&worker.base_url());
    let client = rust_client(&worker, "Client", clock).unwrap();
    let me = client.node().unwrap().reader().account.clone().unwrap();

    let response = client
        .send(&echo, worker.worker.account(), &person())
        .await
        .unwrap();
    assert_eq!(
        response.value["bio"],
        json!(format!("Profile for John Doe by {me}"))
    );
    assert_eq!(
        response.value["avatar"],
        json!("https://example.com/a/john@example.com.jpg")
    );
    assert_eq!(&response.made_by, worker.worker.account());

    let error = client
        .send(&fail, worker.worker.account(), &person())
        .await
        .unwrap_err();
    let error = error.as_jazz_request_error().unwrap();
    assert_eq!((error.message.as_str(), error.code), ("Event is full", 400));
    assert_eq!(error.details, Some(json!({"capacity": 2})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_refused_and_concurrent_copies_run_once() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = start(2, clock.clone()).await;
    let [echo, _, _] = routes(&worker.base_url());
    let client = rust_client(&worker, "Client", clock).unwrap();

    let body = client
        .request_body(worker.worker.account(), &person())
        .unwrap()
        .to_json();
    assert_eq!(post_json(&echo.url, &body).await.status, 200);
    assert_error(
        &post_json(&echo.url, &body).await,
        400,
        "Request payload is already handled",
    );

    // Eight copies of one fresh signed request at once: exactly one runs. Rounds of them,
    // because a copy that imported while another was being answered must still be refused
    // as a replay (not lose the envelope the answered copy took out of memory).
    for _ in 0..40 {
        eight_copies_run_once(&worker, &client, &echo.url).await;
    }
}

async fn eight_copies_run_once(worker: &RustWorker, client: &RequestClient, url: &str) {
    let before = worker.runs[0].load(Ordering::SeqCst);
    let body = client
        .request_body(worker.worker.account(), &person())
        .unwrap()
        .to_json();
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (url, body) = (url.to_owned(), body.clone());
            tokio::spawn(async move { post_json(&url, &body).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for copy in copies {
        let answer = copy.await.unwrap();
        if answer.status != 200 {
            assert_error(&answer, 400, "already handled");
        }
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        worker.runs[0].load(Ordering::SeqCst) - before,
        1,
        "the handler ran more than once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_future_tampered_and_foreign_requests_are_refused() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let worker = start(2, clock.clone()).await;
    let [echo, _, _] = routes(&worker.base_url());
    let client = rust_client(&worker, "Client", clock.clone()).unwrap();

    // Expired: made 61 s before the worker's now.
    let body = client
        .request_body(worker.worker.account(), &person())
        .unwrap()
        .to_json();
    clock.advance(61_000);
    assert_error(
        &post_json(&echo.url, &body).await,
        401,
        "Authentication token is expired",
    );

    // From the future: more than the allowed skew ahead.
    let client_clock = Arc::new(ManualClock::new(clock.now_ms() + 30_000));
    let ahead = rust_client(&worker, "Ahead", client_clock).unwrap();
    let body = ahead
        .request_body(worker.worker.account(), &person())
        .unwrap()
        .to_json();
    assert_error(&post_json(&echo.url, &body).await, 401, "not valid yet");

    // Tampered: a changed transaction, a changed createdAt, a changed token.
    let fresh = || {
        client
            .request_body(worker.worker.account(), &person())
            .unwrap()
            .to_json()
    };
    let mut body = fresh();
    let pieces = body["contentPieces"].as_array_mut().unwrap();
    let last = pieces.last_mut().unwrap();
    let session = last["new"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    session["newTransactions"][0]["madeAt"] = json!(1);
    assert_error(&post_json(&echo.url, &body).await, 401, "Invalid signature");
    let mut body = fresh();
    body["createdAt"] = json!(body["createdAt"].as_u64().unwrap() + 1);
    assert_error(&post_json(&echo.url, &body).await, 401, "Invalid signature");
    let mut body = fresh();
    let other = crypto::random::new_random_agent_secret().unwrap();
    body["authToken"] = json!(crypto::sign(&other.signer, &json!("hash_zabc")).to_string());
    assert_error(&post_json(&echo.url, &body).await, 401, "Invalid signature");

    // A valid token by a signer that is not the sender (jazz-tools accepts this).
    let signed = SignedBody::from_json(&fresh()).unwrap();
    let foreign = SignedBody::sign(
        signed.content_pieces,
        signed.id,
        clock.now_ms(),
        &other.signer,
    );
    assert_error(
        &post_json(&echo.url, &foreign.to_json()).await,
        401,
        "not signed by its sender",
    );
    assert_eq!(worker.runs[0].load(Ordering::SeqCst), 0, "no handler ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_with_the_error_body() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = start(2, clock.clone()).await;
    let [echo, _, _] = routes(&worker.base_url());
    let url = echo.url.clone();
    assert_error(
        &post(&url, Some("application/json"), "{not json").await,
        400,
        "Request payload is not valid",
    );
    assert_error(
        &post(&url, Some("application/json"), "").await,
        400,
        "Request payload is not valid",
    );
    assert_error(
        &post(&url, None, "[]").await,
        400,
        "Request payload is not valid",
    );
    let wrong_shape = post_json(
        &url,
        &json!({"contentPieces": {}, "id": "nope", "createdAt": "x"}),
    )
    .await;
    assert_error(&wrong_shape, 400, "Request payload is not valid");
    assert_eq!(wrong_shape.body["details"]["name"], json!("ZodError"));
    let bad_ids = json!({"contentPieces": [], "id": "co_zIl0", "createdAt": 1, "authToken": "signature_z1", "signerID": "signer_z1"});
    assert_error(
        &post_json(&url, &bad_ids).await,
        400,
        "Request payload is not valid",
    );
    assert_error(
        &post(&url, Some("text/plain"), "{}").await,
        415,
        "Content-Type",
    );
    let huge = "x".repeat(2 << 20);
    assert_error(
        &post(&url, Some("application/json"), huge).await,
        413,
        "larger than",
    );
    assert_error(
        &post_json(&format!("{}/api/nothing", worker.base_url()), &json!({})).await,
        404,
        "No route",
    );
    let get = reqwest::get(&url).await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    // Garbage pieces with a valid token: the pieces are checked, not trusted.
    let client = rust_client(&worker, "Client", clock.clone()).unwrap();
    let signer = client.node().unwrap().reader().agent.signer.clone();
    let id = jazz_req_core::crypto::CoID::parse("co_zSomething").unwrap();
    let junk = SignedBody::sign(
        vec![json!({"action": "content", "id": 5})],
        id,
        clock.now_ms(),
        &signer,
    );
    assert_error(
        &post_json(&url, &junk.to_json()).await,
        400,
        "Request payload is not valid",
    );
    let empty = SignedBody::sign(
        vec![],
        jazz_req_core::crypto::CoID::parse("co_zNothing").unwrap(),
        clock.now_ms(),
        &signer,
    );
    let answer = post_json(&url, &empty.to_json()).await;
    assert!(
        (400..500).contains(&answer.status) && answer.error_header,
        "{}",
        answer.body
    );
    assert_eq!(worker.runs[0].load(Ordering::SeqCst), 0, "no handler ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bookings_never_oversell() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = start(3, clock.clone()).await;
    let [_, _, book] = routes(&worker.base_url());
    let event = json!({"event": worker.event.as_str()});
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let client = rust_client(&worker, &format!("Fan {i}"), clock.clone()).unwrap();
            let (book, account, event) = (
                book.clone(),
                worker.worker.account().clone(),
                values(event.clone()),
            );
            tokio::spawn(async move { client.send(&book, &account, &event).await })
        })
        .collect();
    let mut booked = Vec::new();
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(response) => booked.push(response.value["ticket"]["seat"].as_u64().unwrap()),
            Err(error) => {
                assert_eq!(
                    error.as_jazz_request_error().unwrap().message,
                    "Event is full"
                );
                full += 1;
            }
        }
    }
    booked.sort_unstable();
    assert_eq!(booked, vec![1, 2, 3], "seats booked");
    assert_eq!(full, 9);
    let reservations = worker
        .worker
        .read_node(|node| {
            let event = node.read(&worker.event)?.value;
            let list = jazz_req_core::crypto::CoID::parse(event["reservations"].as_str().unwrap())
                .unwrap();
            Ok(node.read(&list)?.value)
        })
        .unwrap();
    assert_eq!(reservations.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_in_an_existing_group_is_refused_and_leaves_that_group_alone() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = start(2, clock.clone()).await;
    let [echo, _, book] = routes(&worker.base_url());
    let client = rust_client(&worker, "Mallory", clock.clone()).unwrap();
    // The event's group (everyone reads it) named as the owner of Mallory's envelope.
    let event_group = {
        let node = client.node().unwrap();
        match &node.get(&worker.event).unwrap().header().ruleset {
            jazz_req_core::cojson::header::Ruleset::OwnedByGroup { group, .. } => group.clone(),
            _ => panic!("the event is owned by a group"),
        }
    };
    let body = {
        let mut node = client.node().unwrap();
        // Mallory may only read that group: her write is one no peer accepts.
        node.allow_writes_without_role(true);
        let envelope = node
            .create_map(
                &event_group,
                &[("name", json!("Mallory"))],
                jazz_req_core::cojson::Privacy::Private,
            )
            .unwrap();
        let pieces = node
            .export_json(&envelope, &jazz_req_core::cojson::ResolveQuery::Value)
            .unwrap();
        SignedBody::sign(
            pieces,
            envelope,
            clock.now_ms(),
            &node.reader().agent.signer,
        )
        .to_json()
    };
    let answer = post_json(&echo.url, &body).await;
    assert_error(&answer, 400, "creator session ID not found");
    assert_eq!(worker.runs[0].load(Ordering::SeqCst), 0);
    // The event and its group are still there: booking works.
    let fan = rust_client(&worker, "Fan", clock).unwrap();
    let event = values(json!({"event": worker.event.as_str()}));
    let booked = fan
        .send(&book, worker.worker.account(), &event)
        .await
        .unwrap();
    assert_eq!(booked.value["ticket"]["seat"], json!(1));
}

/// The group a response is owned by, as the client imported it.
fn response_group(client: &RequestClient, response: &CoID) -> CoID {
    let node = client.node().unwrap();
    match &node.get(response).unwrap().header().ruleset {
        Ruleset::OwnedByGroup { group, .. } => group.clone(),
        other => panic!("a response owned by {other:?}"),
    }
}

/// A sender's responses share one response group (the worker admin, the sender a reader),
/// made at its first answer; another sender's are in another group, which it cannot read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_senders_responses_share_one_group_of_its_own() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = start(2, clock.clone()).await;
    let [echo, _, _] = routes(&worker.base_url());
    let alice = rust_client(&worker, "Alice", clock.clone()).unwrap();
    let bob = rust_client(&worker, "Bob", clock).unwrap();
    let account = worker.worker.account().clone();

    let first = alice.send(&echo, &account, &person()).await.unwrap();
    let second = alice.send(&echo, &account, &person()).await.unwrap();
    let for_bob = bob.send(&echo, &account, &person()).await.unwrap();
    assert_ne!(first.id, second.id, "a new response each time");
    let group = response_group(&alice, &first.id);
    assert_eq!(group, response_group(&alice, &second.id));
    let bobs_group = response_group(&bob, &for_bob.id);
    assert_ne!(group, bobs_group);

    // The worker keeps the group, not the responses.
    worker
        .worker
        .read_node(|node| {
            assert!(node.get(&group).is_some());
            assert!(node.get(&first.id).is_none() && node.get(&second.id).is_none());
            Ok(())
        })
        .unwrap();
    // Bob cannot read Alice's responses: the group gave no key to him.
    let alices_pieces = alice
        .node()
        .unwrap()
        .export(&second.id, &jazz_req_core::cojson::ResolveQuery::Value)
        .unwrap();
    let mut bobs_node = bob.node().unwrap();
    for piece in alices_pieces {
        bobs_node.import(piece).unwrap();
    }
    let read = bobs_node.read(&second.id).unwrap().value;
    assert!(read.get("bio").is_none(), "Bob read {read:?}");
}
