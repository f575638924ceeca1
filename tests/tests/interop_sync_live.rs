//! Issue 8, item 6, live: jazz-tools 0.20.19 apps and workers and jazz-req's, all peers of
//! one real Jazz sync server (`tests/js/sync-server.mjs`, started by each test), talking over
//! loopback HTTP:
//!
//! - jazz-tools apps (`tests/js/interop-sync-app.mjs`, every account new and on the server)
//!   call the Rust worker (`WorkerOptions::…with_sync_server(url).start()`, on a new store,
//!   its account made by jazz-tools on the server): booking under contention with the event
//!   made by an organiser on the server, read back from the server by a third account and by
//!   each buyer on a new node; echo values; `JazzRequestError` propagation; and captured
//!   bodies replayed, duplicated concurrently, expired, tampered with, re-signed by someone
//!   else, or of the wrong shape — each compared with what a jazz-tools worker
//!   (`tests/js/interop-sync-worker.mjs`: `startWorker` + `route.handle`) answers to the same;
//! - the `interop_client` example books from the jazz-tools worker through the same server.
//!
//! The ignored `load_rust_and_jazz_tools_workers_through_one_sync_server` runs the `load`
//! example (release) against the `interop_worker` example and the jazz-tools worker:
//! `cargo test -p jazz-req-tests --test interop_sync_live -- --ignored --nocapture`
//! (`LOAD_REQUESTS=N`, default 3000: N echo requests to the Rust worker, N/3 to
//! jazz-tools', N/6 and N/18 bookings; `LOAD_JS_CRYPTO=napi`: the jazz-tools worker on
//! native crypto).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::request::SignedBody;
use jazz_req::schema::MAX_SAFE_INTEGER;
use jazz_req_examples::echo::Echo;
use jazz_req_examples::event_tickets::BookEventTicket;
use jazz_req_tests::child_process::ChildProcess;
use jazz_req_tests::sync_apps::{JsCrypto, JsSyncWorker, run_sync_app};
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::worker_process::{Profile, build_examples};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Set-up: the sync server, the workers, the Node apps.
// ---------------------------------------------------------------------------------------

async fn start_sync_server() -> SyncServer {
    tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one operation of `interop-sync-app.mjs`.
async fn app(input: Value) -> Value {
    tokio::task::spawn_blocking(move || run_sync_app(&input))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn js_worker(sync_url: &str) -> JsSyncWorker {
    let url = sync_url.to_owned();
    tokio::task::spawn_blocking(move || JsSyncWorker::start(&url))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A new SQLite file for a worker's store (with its -wal and -shm, removed on drop).
struct Store(PathBuf);

impl Store {
    fn fresh(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir.join(format!("{name}-{}-{n}.sqlite", std::process::id())))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The Rust worker, a peer of the sync server, serving both routes on loopback.
struct RustWorker {
    worker: RequestWorker,
    base_url: String,
    account: CoID,
    _store: Store,
}

/// Starts the Rust worker on a new store as an account jazz-tools created on the server
/// (`jazz-run account create`'s way): the worker loads its account from the server.
async fn rust_worker(sync_url: &str) -> RustWorker {
    let made = app(json!({"op": "account", "url": sync_url, "name": "Rust worker"})).await;
    let account = CoID::parse(made["accountID"].as_str().unwrap()).unwrap();
    let secret = AgentSecret::parse(made["agentSecret"].as_str().unwrap()).unwrap();
    let store = Store::fresh("interop-sync-worker");
    let worker = WorkerOptions::new(account.clone(), secret, &store.0)
        .with_sync_server(sync_url)
        .start()
        .await
        .unwrap_or_else(|e| panic!("the Rust worker did not start: {e}"))
        .register(BookEventTicket)
        .register(Echo);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap()
        .addr();
    RustWorker {
        worker,
        base_url: format!("http://{addr}"),
        account,
        _store: store,
    }
}

/// An organiser on the server makes an event of `capacity` seats whose group lets
/// `worker` write; returns the event's id.
async fn organise(sync_url: &str, worker: &str, capacity: usize) -> String {
    let made = app(json!({
        "op": "organise", "url": sync_url, "workerAccountID": worker, "capacity": capacity,
    }))
    .await;
    made["eventID"].as_str().unwrap().to_owned()
}

fn text_set<'a>(values: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    values
        .into_iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn event_is_full() -> Value {
    json!({"message": "Event is full", "code": 400, "details": null, "isJazzRequestError": true})
}

// ---------------------------------------------------------------------------------------
// (a) jazz-tools apps call the Rust worker through the sync server.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jazz_tools_buyers_book_an_event_kept_on_the_sync_server_through_the_rust_worker() {
    const CAPACITY: usize = 4;
    const PROCESSES: usize = 2;
    const BUYERS_PER_PROCESS: usize = 6; // 3 × capacity in all
    let started = Instant::now();
    let server = start_sync_server().await;
    let url = server.url();
    let rust = rust_worker(&url).await;
    let event = organise(&url, rust.account.as_str(), CAPACITY).await;

    let runs: Vec<_> = (0..PROCESSES)
        .map(|_| {
            tokio::spawn(app(json!({
                "op": "book", "url": url, "baseUrl": rust.base_url,
                "workerAccountID": rust.account.as_str(), "eventID": event,
                "buyers": BUYERS_PER_PROCESS, "checkOnServer": true,
            })))
        })
        .collect();
    let mut results = Vec::new();
    for run in runs {
        results.extend(run.await.unwrap()["results"].as_array().unwrap().clone());
    }
    assert_eq!(results.len(), PROCESSES * BUYERS_PER_PROCESS);
    let (sold, refused): (Vec<&Value>, Vec<&Value>) =
        results.iter().partition(|r| r.get("ok").is_some());
    assert_eq!(sold.len(), CAPACITY, "{results:#?}");
    for result in &refused {
        assert_eq!(result["error"], event_is_full(), "{result}");
    }
    for result in &sold {
        let ticket = &result["ok"]["ticket"];
        assert_eq!(ticket["loaded"], json!(true), "{result}");
        assert_eq!(ticket["account"], result["buyer"], "{result}");
        assert_eq!(ticket["event"], json!(event), "{result}");
        assert_eq!(result["ok"]["eventName"], json!("Jazz night"), "{result}");
        // The moment its response arrived, the server had the ticket, readable by its buyer,
        // in the event's reservations.
        assert_eq!(
            result["ok"]["onServer"],
            json!({"ticketLoaded": true, "account": result["buyer"], "inReservations": true}),
            "{result}"
        );
    }
    let tickets = text_set(sold.iter().map(|r| &r["ok"]["ticket"]["id"]));
    assert_eq!(tickets.len(), CAPACITY);

    // A third account reads the reservations from the server; each buyer logs in from the
    // server alone (a new node) and reads its ticket there.
    let owners: Vec<Value> = sold
        .iter()
        .map(|r| {
            json!({"accountID": r["buyer"], "agentSecret": r["agentSecret"],
                   "ticketID": r["ok"]["ticket"]["id"]})
        })
        .collect();
    let read = app(json!({"op": "read", "url": url, "eventID": event, "owners": owners})).await;
    assert_eq!(read["event"]["name"], json!("Jazz night"), "{read}");
    assert_eq!(read["event"]["capacity"], json!(CAPACITY), "{read}");
    let listed = read["event"]["reservations"].as_array().unwrap();
    assert_eq!(listed.len(), CAPACITY, "{read}");
    assert_eq!(text_set(listed), tickets, "{read}");
    let readers = text_set(sold.iter().map(|r| &r["buyer"]));
    assert_eq!(read["tickets"].as_array().unwrap().len(), CAPACITY);
    for ticket in read["tickets"].as_array().unwrap() {
        assert_eq!(ticket["loaded"], json!(true), "{ticket}");
        assert_eq!(ticket["account"], ticket["as"], "{ticket}");
        assert!(readers.contains(ticket["as"].as_str().unwrap()));
        assert_eq!(ticket["event"], json!(event), "{ticket}");
    }
    rust.worker.shutdown().await.unwrap();
    eprintln!(
        "{} jazz-tools buyers, {CAPACITY} seats, Rust worker through the sync server: {:?}",
        results.len(),
        started.elapsed()
    );
}

/// Values that JSON, UTF-16 and JS numbers make hard.
fn echo_requests() -> Vec<Value> {
    vec![
        json!({"text": "Zoë 🎷🎟️ — 東京 «jazz» שלום e\u{301} \u{0} \"q\" \\ \n\t end", "n": 42,
               "flag": true, "note": "ünïcödé 🎺"}),
        json!({"text": "", "n": MAX_SAFE_INTEGER, "flag": false}),
        json!({"text": "min", "n": -MAX_SAFE_INTEGER, "flag": true, "note": ""}),
        json!({"text": "tiny", "n": 5e-324, "flag": false}),
        json!({"text": "huge", "n": f64::MAX, "flag": true}),
        json!({"text": "sum", "n": 0.1 + 0.2, "flag": true}),
        json!({"text": "minus zero", "n": -0.0, "flag": false}),
        json!({"text": "please fail", "n": 1, "flag": true}),
    ]
}

/// What the echo route answers to `echo_requests()` from `client`: the values (`-0` shows
/// as `0`, as `JSON.stringify` writes it; an absent note stays absent) and `madeBy`.
fn expected_echoes(client: &Value) -> Vec<Value> {
    echo_requests()
        .into_iter()
        .map(|mut request| {
            if request["text"] == json!("please fail") {
                return json!({"error": {"message": "Asked to fail", "code": 422,
                    "details": {"reason": "test"}, "isJazzRequestError": true}});
            }
            if request["text"] == json!("minus zero") {
                request["n"] = json!(0);
            }
            request["madeBy"] = client.clone();
            json!({"ok": request})
        })
        .collect()
}

/// The results without the response envelopes' ids (which differ from run to run).
fn without_ids(results: &Value) -> Vec<Value> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            let mut result = result.clone();
            if let Some(ok) = result.get_mut("ok").and_then(Value::as_object_mut) {
                let id = ok.remove("$jazz");
                assert!(
                    id.is_some_and(|id| id["id"].as_str().is_some_and(|s| s.starts_with("co_z")))
                );
            }
            result
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jazz_tools_apps_see_the_same_echoes_and_errors_from_the_rust_and_the_jazz_tools_worker() {
    let started = Instant::now();
    let server = start_sync_server().await;
    let url = server.url();
    let rust = rust_worker(&url).await;
    let js = js_worker(&url).await;

    for (name, base_url, worker) in [
        ("rust", rust.base_url.as_str(), rust.account.as_str()),
        ("jazz-tools", js.url.as_str(), js.account.as_str()),
    ] {
        let out = app(json!({
            "op": "echo", "url": url, "baseUrl": base_url, "workerAccountID": worker,
            "requests": echo_requests(),
        }))
        .await;
        let results = without_ids(&out["results"]);
        let expected = expected_echoes(&out["clientID"]);
        assert_eq!(results.len(), expected.len());
        for (got, want) in results.iter().zip(&expected) {
            assert_eq!(got, want, "{name} worker");
        }
        // The note is absent, not null, when the request had none.
        assert!(
            results[1]["ok"].get("note").is_none(),
            "{name}: {}",
            results[1]
        );
    }
    rust.worker.shutdown().await.unwrap();
    eprintln!("echo through both workers: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Captured bodies: replay, concurrent duplicates, expiry, tampering, bad input.
// ---------------------------------------------------------------------------------------

/// A worker's answer to a raw POST.
#[derive(Clone, PartialEq, Default)]
struct Answer {
    status: u16,
    /// `{message, code}` of a JazzRequestError body (with the error header), else `None`.
    error: Option<(String, u64)>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some((message, code)) => write!(f, "{} {message:?} (code {code})", self.status),
            None => write!(f, "{}", self.status),
        }
    }
}

impl Answer {
    fn ok(&self) -> bool {
        self.status == 200 && self.error.is_none()
    }
}

async fn post(http: &reqwest::Client, url: &str, body: impl Into<reqwest::Body>) -> Answer {
    let reply = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let is_error = reply.headers().contains_key("x-jazz-request-error");
    let bytes = reply.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status == 200 {
        assert_eq!(body["type"], json!("success"), "{body}");
    }
    let error = is_error.then(|| {
        (
            body["message"].as_str().unwrap_or_default().to_owned(),
            body["code"].as_u64().unwrap_or_default(),
        )
    });
    Answer { status, error }
}

fn refused(status: u16, message: &str) -> Answer {
    Answer {
        status,
        error: Some((message.to_owned(), u64::from(status))),
    }
}

/// What one worker answered to each scenario.
#[derive(Debug, Default)]
struct Scenarios {
    replay: Vec<Answer>,
    duplicates: Vec<Answer>,
    expired: Answer,
    tampered_created_at: Answer,
    tampered_piece: Answer,
    swapped_token: Answer,
    resigned_by_another: Answer,
    genuine_after_tampering: Answer,
    misfit: Answer,
    not_json: Answer,
    not_a_request: Answer,
}

const DUPLICATES: usize = 8;

/// Captures jazz-tools bodies for `worker` and posts them, tampered with or not.
async fn run_scenarios(sync_url: &str, base_url: &str, worker: &str) -> Scenarios {
    let values = |text: &str| json!({"text": text, "n": 1, "flag": true});
    let captured = app(json!({
        "op": "capture", "url": sync_url, "baseUrl": base_url, "workerAccountID": worker,
        "requests": [
            {"route": "echo", "values": values("replayed")},
            {"route": "echo", "values": values("duplicated")},
            {"route": "echo", "values": values("tampered")},
            {"route": "echo", "values": values("expired"), "skewMs": -61_000},
            {"route": "misfit", "values": {"text": 7, "n": 1, "flag": "yes"}},
        ],
    }))
    .await;
    let bodies: Vec<String> = captured["bodies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    let [replayed, duplicated, tampered, expired, misfit] = bodies.as_slice() else {
        panic!("5 bodies expected: {captured}");
    };
    let echo = format!("{base_url}/api/echo");
    let http = reqwest::Client::new();
    let mut out = Scenarios::default();

    for _ in 0..2 {
        out.replay.push(post(&http, &echo, replayed.clone()).await);
    }

    let copies: Vec<_> = (0..DUPLICATES)
        .map(|_| {
            let (http, echo, body) = (http.clone(), echo.clone(), duplicated.clone());
            tokio::spawn(async move { post(&http, &echo, body).await })
        })
        .collect();
    for copy in copies {
        out.duplicates.push(copy.await.unwrap());
    }

    out.expired = post(&http, &echo, expired.clone()).await;

    let genuine: Value = serde_json::from_str(tampered).unwrap();
    let mut later = genuine.clone();
    later["createdAt"] = json!(genuine["createdAt"].as_u64().unwrap() + 1);
    out.tampered_created_at = post(&http, &echo, later.to_string()).await;

    let mut piece = genuine.clone();
    let envelope = genuine["id"].clone();
    let pieces = piece["contentPieces"].as_array_mut().unwrap();
    let target = pieces.iter_mut().find(|p| p["id"] == envelope).unwrap();
    let session = target["new"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    let tx = &mut session["newTransactions"][0];
    let field = if tx.get("encryptedChanges").is_some() {
        "encryptedChanges"
    } else {
        "changes"
    };
    let mut changed = tx[field].as_str().unwrap().to_owned();
    let last = changed.pop().unwrap();
    changed.push(if last == 'A' { 'B' } else { 'A' });
    tx[field] = json!(changed);
    out.tampered_piece = post(&http, &echo, piece.to_string()).await;

    let mut swapped = genuine.clone();
    let other: Value = serde_json::from_str(replayed).unwrap();
    swapped["authToken"] = other["authToken"].clone();
    out.swapped_token = post(&http, &echo, swapped.to_string()).await;

    // Someone else re-signs the captured pieces with their own key: the token verifies,
    // but its signer is not the envelope's sender.
    let attacker = new_random_agent_secret().unwrap();
    let resigned = SignedBody::sign(
        genuine["contentPieces"].as_array().unwrap().clone(),
        CoID::parse(envelope.as_str().unwrap()).unwrap(),
        genuine["createdAt"].as_u64().unwrap(),
        &attacker.signer,
    );
    out.resigned_by_another = post(&http, &echo, resigned.to_json().to_string()).await;

    // None of that used up the genuine request.
    out.genuine_after_tampering = post(&http, &echo, tampered.clone()).await;

    out.misfit = post(&http, &echo, misfit.clone()).await;
    out.not_json = post(&http, &echo, "{\"contentPieces\": [").await;
    out.not_a_request = post(&http, &echo, "{}").await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_jazz_tools_requests_replayed_duplicated_expired_tampered_or_misfit() {
    let started = Instant::now();
    let server = start_sync_server().await;
    let url = server.url();
    let rust_worker = rust_worker(&url).await;
    let js = js_worker(&url).await;
    let rust = run_scenarios(&url, &rust_worker.base_url, rust_worker.account.as_str()).await;
    let ts = run_scenarios(&url, &js.url, &js.account).await;
    eprintln!("Rust worker: {rust:#?}\njazz-tools worker: {ts:#?}");

    let handled = refused(400, "Request payload is already handled");
    let invalid_signature = refused(401, "Invalid signature");
    // Replay: answered once, then refused — as jazz-tools does.
    assert!(rust.replay[0].ok(), "{:?}", rust.replay);
    assert_eq!(rust.replay[1], handled);
    assert_eq!(rust.replay, ts.replay);
    // Concurrent duplicates: exactly one answered (jazz-tools may answer several).
    let answered = rust.duplicates.iter().filter(|a| a.ok()).count();
    assert_eq!(answered, 1, "{:?}", rust.duplicates);
    for answer in rust.duplicates.iter().filter(|a| !a.ok()) {
        assert_eq!(answer, &handled);
    }
    // Expiry, and tampering that breaks the token: as jazz-tools.
    assert_eq!(
        rust.expired,
        refused(401, "Authentication token is expired")
    );
    assert_eq!(rust.expired, ts.expired);
    for (what, got, theirs) in [
        (
            "createdAt",
            &rust.tampered_created_at,
            &ts.tampered_created_at,
        ),
        ("a content piece", &rust.tampered_piece, &ts.tampered_piece),
        (
            "another body's token",
            &rust.swapped_token,
            &ts.swapped_token,
        ),
    ] {
        assert_eq!(got, &invalid_signature, "tampered {what}");
        assert_eq!(got, theirs, "tampered {what}");
    }
    // A copy re-signed by someone else is refused (jazz-tools answers it as if the envelope's
    // sender had sent it) and does not use up the genuine request.
    assert_eq!(
        rust.resigned_by_another,
        refused(401, "Request was not signed by its sender")
    );
    assert!(rust.genuine_after_tampering.ok(), "{rust:?}");
    // Bad input is a 4xx before any handler runs (jazz-tools runs its handler on a misfit,
    // and answers a body that is not JSON with its server's 500).
    for (what, answer) in [
        ("misfit", &rust.misfit),
        ("not JSON", &rust.not_json),
        ("not a request", &rust.not_a_request),
    ] {
        assert!(
            (400..500).contains(&answer.status) && answer.error.is_some(),
            "{what}: {answer:?}"
        );
    }
    assert_eq!(
        rust.not_a_request,
        refused(400, "Request payload is not valid")
    );
    assert_eq!(rust.not_a_request, ts.not_a_request);
    rust_worker.worker.shutdown().await.unwrap();
    eprintln!("captured requests on both workers: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// (b) interop_client books from a jazz-tools worker through the sync server.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_client_books_from_a_jazz_tools_worker_through_the_sync_server() {
    const CAPACITY: usize = 3;
    const BUYERS: usize = 9;
    let started = Instant::now();
    let built = tokio::task::spawn_blocking(|| build_examples(&["interop_client"], Profile::Dev));
    let server = start_sync_server().await;
    let url = server.url();
    let js = js_worker(&url).await;
    let event = organise(&url, &js.account, CAPACITY).await;
    let paths = built.await.unwrap().unwrap_or_else(|e| panic!("{e}"));

    let client = paths["interop_client"].clone();
    let args = [
        "--sync-server".to_owned(),
        url.clone(),
        "--base-url".to_owned(),
        js.url.clone(),
        "--worker".to_owned(),
        js.account.clone(),
        "--event".to_owned(),
        event.clone(),
        "--buyers".to_owned(),
        BUYERS.to_string(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        Command::new(client)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop_client failed ({}): {stdout}\n{stderr}\njazz-tools worker: {}",
        output.status,
        js.stderr_text()
    );
    let line: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(line["buyers"], json!(BUYERS), "{line}");
    assert_eq!(line["sold"], json!(CAPACITY), "{line}");
    assert_eq!(line["refused"], json!(BUYERS - CAPACITY), "{line}");
    assert_eq!(line["errors"], json!(0), "{line}");
    let tickets = text_set(line["tickets"].as_array().unwrap());
    assert_eq!(tickets.len(), CAPACITY, "{line}");

    // The jazz-tools worker ran its handler for every buyer; a third account reads exactly
    // those tickets in the reservations on the server.
    let stats = tokio::task::spawn_blocking(move || js.stats().map(|s| (s, js)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.0["handlerRuns"]["book-event-ticket"], json!(BUYERS));
    let read = app(json!({"op": "read", "url": url, "eventID": event})).await;
    assert_eq!(
        text_set(read["event"]["reservations"].as_array().unwrap()),
        tickets
    );
    eprintln!(
        "interop_client, {BUYERS} buyers, {CAPACITY} seats, jazz-tools worker: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Item 7: load, the Rust and the jazz-tools worker through one sync server (ignored: run
// with `cargo test -p jazz-req-tests --test interop_sync_live -- --ignored --nocapture`).
// ---------------------------------------------------------------------------------------

/// Runs the `load` example and returns its JSON line.
fn run_load(load: &PathBuf, args: &[String]) -> Value {
    let output = Command::new(load)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "load {args:?} failed ({}): {stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// The resident memory of process `pid` (`VmRSS`), in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[ignore = "a measurement (a release build, ~2 minutes): run it with --ignored --nocapture"]
fn load_rust_and_jazz_tools_workers_through_one_sync_server() {
    let requests: usize = std::env::var("LOAD_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    // LOAD_UPLOAD_ENVELOPES=1: every envelope is on the sync server before the clock starts,
    // as a jazz-tools client's node puts it there (see the load example).
    let upload_envelopes = std::env::var("LOAD_UPLOAD_ENVELOPES").is_ok_and(|v| v == "1");
    let paths = build_examples(&["interop_worker", "load"], Profile::Release)
        .unwrap_or_else(|e| panic!("{e}"));
    let server = SyncServer::start().unwrap();
    let url = server.url();

    // The Rust worker: the interop_worker example, a peer of the sync server, on a new store.
    let made = run_sync_app(&json!({"op": "account", "url": url, "name": "Rust worker"})).unwrap();
    let store = Store::fresh("load-interop-worker");
    let mut command = Command::new(&paths["interop_worker"]);
    command
        .args(["--listen", "127.0.0.1:0", "--sync-server", &url, "--store"])
        .arg(&store.0)
        .env("JAZZ_WORKER_ACCOUNT", made["accountID"].as_str().unwrap())
        .env("JAZZ_WORKER_SECRET", made["agentSecret"].as_str().unwrap());
    // Killed on drop, also when the test fails (its stderr printed then).
    let mut rust = ChildProcess::spawn("interop_worker", command).unwrap();
    let rust_line = rust
        .ready_line(std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let rust_url = format!("http://{}", rust_line["listening"].as_str().unwrap());
    // LOAD_JS_CRYPTO=napi runs the jazz-tools worker on cojson's native crypto instead of
    // startWorker's default (WebAssembly).
    let crypto = match std::env::var("LOAD_JS_CRYPTO").as_deref() {
        Ok("napi") => JsCrypto::Napi,
        _ => JsCrypto::Wasm,
    };
    let js = JsSyncWorker::start_with(&url, None, crypto).unwrap();

    // jazz-tools first, on the fresh sync server. Every run must end within the 60 s its
    // pre-signed bodies are valid: jazz-tools gets fewer echoes (it slows down as it keeps
    // every envelope), and both fewer bookings (the Rust worker's cost per booking grows
    // with the reservations list, which it reads in full several times per booking).
    let rust_account = made["accountID"].as_str().unwrap();
    let runs = [
        (
            "echo",
            "jazz-tools",
            js.url.as_str(),
            js.account.as_str(),
            requests / 3,
        ),
        ("echo", "rust", rust_url.as_str(), rust_account, requests),
        (
            "book",
            "jazz-tools",
            js.url.as_str(),
            js.account.as_str(),
            requests / 18,
        ),
        (
            "book",
            "rust",
            rust_url.as_str(),
            rust_account,
            requests / 6,
        ),
    ];
    let mut figures = Vec::new();
    for (route, label, base_url, worker, n) in runs {
        let n = n.to_string();
        let args: Vec<String> = [
            "--sync-server",
            &url,
            "--base-url",
            base_url,
            "--worker",
            worker,
            "--route",
            route,
            "--requests",
            &n,
            "--in-flight",
            "32",
            "--label",
            label,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let worker_pid = if label == "rust" {
            rust.pid()
        } else {
            js.pid()
        };
        let mut args = args;
        args.push(format!("--watch=worker={worker_pid}"));
        args.push(format!("--watch=syncServer={}", server.pid()));
        // Its main thread alone: cojson runs there (a ceiling of its own, whatever the cores).
        args.push(format!(
            "--watch=syncServerMainThread={}/{}",
            server.pid(),
            server.pid()
        ));
        if upload_envelopes {
            args.push("--upload-envelopes".to_owned());
        }
        // The load's line has the worker's and the sync server's CPU time per timed request.
        let mut line = run_load(&paths["load"], &args);
        // The worker's resident memory once the run is done (what it keeps).
        if let Some(rss) = rss_kb(worker_pid) {
            line["workerRssKb"] = json!(rss);
        }
        eprintln!("{line}");
        figures.push(line);
    }
    drop(rust);
    drop(js);
    for line in &figures {
        assert_eq!(line["statuses"], json!({"200": line["requests"]}), "{line}");
    }
    let rps = |i: usize| figures[i]["requestsPerSecond"].as_f64().unwrap();
    eprintln!(
        "echo: Rust {:.0} req/s vs jazz-tools {:.0} req/s ({:.1}×); booking: Rust {:.0} vs \
         jazz-tools {:.0} req/s ({:.1}×)",
        rps(1),
        rps(0),
        rps(1) / rps(0),
        rps(3),
        rps(2),
        rps(3) / rps(2)
    );
}
