//! Hardening of the worker (issue 9, items 1–4), over real HTTP on loopback:
//!
//! - a refused request never uses up its id: a copy re-signed by a foreign key, one whose
//!   content does not import, one whose content does not decrypt — each refused with a 4xx —
//!   and then the genuine body is answered 200; concurrent copies still run once;
//! - memory and store agree after a failure: a store that fails, a storage that cannot say
//!   what it holds (`take_unsaved` fails), and a resolve that loads from storage must not lose
//!   what the request imported before (each with a [`FailingStorage`] that fails on demand);
//! - a 5xx body carries no internal text; the log carries the cause and its source chain;
//! - `serve` keeps serving after failed `accept`s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jazz_req_core::cojson::permissions_role::Role;
use jazz_req_core::cojson::{
    ContentMessage, KnownState, LocalNode, NodeError, Privacy, ResolveQuery, SessionLog,
    SessionNewContent, Transaction,
};
use jazz_req_core::crypto::{self, CoID, SessionAuthor, SessionID};
use jazz_req_core::request::serve::{Listener, serve_connections};
use jazz_req_core::request::{
    JazzRequestError, RequestClient, RequestContext, RequestWorker, RouteSpec, SignedBody,
    SystemClock, WorkerConfig, spawn_server,
};
use jazz_req_core::storage::{MemoryStorage, Storage, StorageError, StoreSummary};
use serde_json::{Map, Value, json};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Text an injected storage failure carries: it must never reach a client.
const SECRET_TEXT: &str = "/var/lib/secret/worker.sqlite";

/// A [`Storage`] over [`MemoryStorage`] whose `store`, `known_state` and `load` fail while
/// their switch is on.
#[derive(Default)]
struct FailingStorage {
    inner: MemoryStorage,
    fail_store: AtomicBool,
    fail_known_state: AtomicBool,
    fail_load: AtomicBool,
    failures: AtomicUsize,
}

impl FailingStorage {
    fn injected(&self, switch: &AtomicBool) -> Result<(), StorageError> {
        if switch.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::CommitFailed(format!(
                "injected: disk full at {SECRET_TEXT}"
            )));
        }
        Ok(())
    }
}

impl Storage for FailingStorage {
    fn store(&self, content: &[ContentMessage]) -> Result<StoreSummary, StorageError> {
        self.injected(&self.fail_store)?;
        self.inner.store(content)
    }

    fn load(&self, id: &CoID) -> Result<Option<Vec<ContentMessage>>, StorageError> {
        self.injected(&self.fail_load)?;
        self.inner.load(id)
    }

    fn known_state(&self, id: &CoID) -> Result<Option<KnownState>, StorageError> {
        self.injected(&self.fail_known_state)?;
        self.inner.known_state(id)
    }

    fn ids(&self) -> Result<Vec<CoID>, StorageError> {
        self.inner.ids()
    }

    fn claim(&self, namespace: &str, key: &str, expires_at_ms: u64) -> Result<bool, StorageError> {
        self.inner.claim(namespace, key, expires_at_ms)
    }

    fn release(&self, namespace: &str, keys: &[String]) -> Result<usize, StorageError> {
        self.inner.release(namespace, keys)
    }

    fn purge_expired(&self, now_ms: u64) -> Result<usize, StorageError> {
        self.inner.purge_expired(now_ms)
    }

    fn live_claims(
        &self,
        namespace: &str,
        now_ms: u64,
    ) -> Result<Vec<(String, u64)>, StorageError> {
        self.inner.live_claims(namespace, now_ms)
    }
}

/// A worker with four routes: `echo` (returns the request's values), `fail` (writes a note
/// on the event, then answers 400), `book` (a seat of the event, resolve
/// `{event: {reservations: true}}`) and `crash` (fails with an internal error whose source
/// has a source of its own).
struct Harness {
    worker: RequestWorker,
    addr: SocketAddr,
    event: CoID,
    reservations: CoID,
    runs: Arc<AtomicU64>,
    storage: Option<Arc<FailingStorage>>,
}

const CAPACITY: usize = 3;

fn text_id(value: Option<&Value>) -> Result<CoID, NodeError> {
    value
        .and_then(Value::as_str)
        .and_then(|s| CoID::parse(s).ok())
        .ok_or_else(|| NodeError::CannotWrite {
            id: CoID::from_bytes(&[0]),
            reason: "not a reference".into(),
        })
}

impl Harness {
    async fn start(storage: Option<Arc<FailingStorage>>) -> Self {
        let secret = crypto::random::new_random_agent_secret().unwrap();
        let (mut node, _) = LocalNode::create_account(secret, "Worker").unwrap();
        if let Some(storage) = &storage {
            node.attach_storage(storage.clone() as Arc<dyn Storage>);
        }
        let (event, reservations) = node
            .batch(|node| {
                let group = node.create_group()?;
                node.add_member(&group, "everyone", Role::Reader)?;
                let list = node.create_list(&group, &[], Privacy::Private)?;
                let event = node.create_map(
                    &group,
                    &[
                        ("name", json!("Jazz night")),
                        ("reservations", json!(list.as_str())),
                    ],
                    Privacy::Private,
                )?;
                Ok((event, list))
            })
            .unwrap();
        node.flush().unwrap();
        let runs = Arc::new(AtomicU64::new(0));
        let (r0, r1, r2, r3) = (runs.clone(), runs.clone(), runs.clone(), runs.clone());
        let book_resolve =
            ResolveQuery::from_json(&json!({"event": {"reservations": true}})).unwrap();
        let worker =
            RequestWorker::with_clock(node, Arc::new(SystemClock), WorkerConfig::default())
                .unwrap()
                .route(RouteSpec::new("/api/echo"), move |ctx: RequestContext| {
                    r0.fetch_add(1, Ordering::SeqCst);
                    async move { Ok(ctx.values().clone()) }
                })
                .route(RouteSpec::new("/api/fail"), move |ctx: RequestContext| {
                    r1.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let event = text_id(ctx.value("event"))
                            .map_err(|_| JazzRequestError::new("no event", 400))?;
                        ctx.with_node(|node| {
                            node.map_set(&event, "note", json!("failed"), Privacy::Private)
                        })
                        .map_err(JazzRequestError::internal)?;
                        Err(JazzRequestError::new("Event is full", 400))
                    }
                })
                .route(
                    RouteSpec::new("/api/book").with_request_resolve(book_resolve),
                    move |ctx: RequestContext| {
                        r2.fetch_add(1, Ordering::SeqCst);
                        async move { book(&ctx) }
                    },
                )
                .route(RouteSpec::new("/api/crash"), move |_ctx: RequestContext| {
                    r3.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let disk = std::io::Error::other(format!("disk full at {SECRET_TEXT}"));
                        Err::<Map<String, Value>, _>(JazzRequestError::internal(
                            SeatPlanUnreadable(disk),
                        ))
                    }
                });
        let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
            .await
            .unwrap()
            .addr();
        Self {
            worker,
            addr,
            event,
            reservations,
            runs,
            storage,
        }
    }

    fn url(&self, route: &str) -> String {
        format!("http://{}/api/{route}", self.addr)
    }

    /// A new client account that knows the worker.
    fn client(&self, name: &str) -> RequestClient {
        let secret = crypto::random::new_random_agent_secret().unwrap();
        let (mut node, _) = LocalNode::create_account(secret, name).unwrap();
        let account = self.worker.account().clone();
        let pieces = self
            .worker
            .read_node(|node| node.export(&account, &ResolveQuery::Value))
            .unwrap();
        for piece in pieces {
            node.import(piece).unwrap();
        }
        RequestClient::with_clock(node, Arc::new(SystemClock))
    }

    fn body(&self, client: &RequestClient, values: Value) -> SignedBody {
        client
            .request_body(self.worker.account(), values.as_object().unwrap())
            .unwrap()
    }

    fn booking(&self, client: &RequestClient) -> SignedBody {
        self.body(client, json!({"event": self.event.as_str()}))
    }

    /// The reservations as the worker's memory has them.
    async fn reservations_in_memory(&self) -> usize {
        let list = self.reservations.clone();
        self.worker
            .with_node(|node| {
                if node.get(&list).is_none() {
                    node.load_from_storage(&list)?;
                }
                Ok(node.read(&list)?.value.as_array().map_or(0, Vec::len))
            })
            .await
            .unwrap()
    }

    /// The reservations as a fresh node reads them from the worker's store.
    fn reservations_in_store(&self) -> usize {
        let storage = self.storage.clone().unwrap();
        let secret = crypto::random::new_random_agent_secret().unwrap();
        let (mut node, _) = LocalNode::create_account(secret, "Auditor").unwrap();
        node.attach_storage(storage as Arc<dyn Storage>);
        assert!(node.load_from_storage(&self.reservations).unwrap());
        node.read(&self.reservations)
            .unwrap()
            .value
            .as_array()
            .map_or(0, Vec::len)
    }

    fn note_in_store(&self) -> Option<Value> {
        let storage = self.storage.clone().unwrap();
        let secret = crypto::random::new_random_agent_secret().unwrap();
        let (mut node, _) = LocalNode::create_account(secret, "Auditor").unwrap();
        node.attach_storage(storage as Arc<dyn Storage>);
        assert!(node.load_from_storage(&self.event).unwrap());
        node.read(&self.event).unwrap().value.get("note").cloned()
    }
}

/// Books a seat: the number of reservations before it, plus one.
fn book(ctx: &RequestContext) -> Result<Map<String, Value>, JazzRequestError> {
    let event = text_id(ctx.value("event")).map_err(|_| JazzRequestError::new("no event", 400))?;
    let booked = ctx
        .with_node(|node| {
            let read = node.read(&event)?.value;
            let list = text_id(read.get("reservations"))?;
            let taken = node.read(&list)?.value.as_array().map_or(0, Vec::len);
            if taken >= CAPACITY {
                return Ok(None);
            }
            let group = node.create_group()?;
            let ticket =
                node.create_map(&group, &[("seat", json!(taken + 1))], Privacy::Private)?;
            node.list_append(&list, json!(ticket.as_str()), Privacy::Private)?;
            Ok::<_, NodeError>(Some((ticket, taken + 1)))
        })
        .map_err(JazzRequestError::internal)?;
    let Some((ticket, seat)) = booked else {
        return Err(JazzRequestError::new("Event is full", 400));
    };
    Ok(Map::from_iter([
        ("ticket".to_owned(), json!(ticket.as_str())),
        ("seat".to_owned(), json!(seat)),
    ]))
}

/// A handler's own failure, with the error that caused it as its source.
#[derive(Debug, thiserror::Error)]
#[error("the seat plan could not be read")]
struct SeatPlanUnreadable(#[source] std::io::Error);

struct Answer {
    status: u16,
    body: Value,
    text: String,
}

async fn post(url: &str, body: &SignedBody) -> Answer {
    post_json(url, &body.to_json()).await
}

async fn post_json(url: &str, body: &Value) -> Answer {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn assert_error(answer: &Answer, status: u16, message: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| m.contains(message)),
        "{}",
        answer.text
    );
}

/// A 500 says "Internal server error" and nothing else: no storage text, no details.
fn assert_internal(answer: &Answer) {
    assert_eq!(answer.status, 500, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({"message": "Internal server error", "code": 500}),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains(SECRET_TEXT), "{}", answer.text);
}

/// `body` with the same id and pieces, signed by a key that is not the sender's.
fn foreign_copy(body: &SignedBody) -> SignedBody {
    let other = crypto::random::new_random_agent_secret().unwrap();
    SignedBody::sign(
        body.content_pieces.clone(),
        body.id.clone(),
        body.created_at_ms() as u64,
        &other.signer,
    )
}

/// `body` with its envelope piece replaced by `change(piece)`, re-signed by the sender.
fn mutated_copy(
    client: &RequestClient,
    body: &SignedBody,
    change: impl FnOnce(&mut ContentMessage, &crypto::SignerSecret),
) -> SignedBody {
    let signer = client.node().unwrap().reader().agent.signer.clone();
    let mut pieces = body.content_pieces.clone();
    let index = pieces
        .iter()
        .position(|p| p["id"] == json!(body.id.as_str()) && p.get("header").is_some())
        .unwrap();
    let mut envelope = ContentMessage::from_json(&pieces[index]).unwrap();
    change(&mut envelope, &signer);
    pieces[index] = envelope.to_json();
    SignedBody::sign(
        pieces,
        body.id.clone(),
        body.created_at_ms() as u64,
        &signer,
    )
}

fn person() -> Value {
    json!({"name": "John Doe", "email": "john@example.com"})
}

// ---- 1. A refused request never uses up its id ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_signed_copy_first_then_the_genuine_body_is_answered() {
    let h = Harness::start(None).await;
    let client = h.client("Client");
    let genuine = h.body(&client, person());

    let foreign = post(&h.url("echo"), &foreign_copy(&genuine)).await;
    assert_error(&foreign, 401, "not signed by its sender");
    let answer = post(&h.url("echo"), &genuine).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    // The genuine body has used its id now.
    assert_error(
        &post(&h.url("echo"), &genuine).await,
        400,
        "Request payload is already handled",
    );
    assert_error(
        &post(&h.url("echo"), &foreign_copy(&genuine)).await,
        401,
        "not signed by its sender",
    );
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_whose_import_fails_first_then_the_genuine_body_is_answered() {
    let h = Harness::start(Some(Arc::new(FailingStorage::default()))).await;
    let client = h.client("Client");
    let genuine = h.body(&client, person());

    // A changed transaction: the session's signature no longer verifies.
    let broken = mutated_copy(&client, &genuine, |envelope, _| {
        let (_, session) = envelope.new.first_mut().unwrap();
        let tx = session.new_transactions[0].to_json();
        let mut tx = tx.as_object().unwrap().clone();
        tx.insert("madeAt".into(), json!(1));
        session.new_transactions[0] = Transaction::from_json(&Value::Object(tx)).unwrap();
    });
    let answer = post(&h.url("echo"), &broken).await;
    assert_error(&answer, 400, "Request payload is not valid");
    // Nothing of it stays in memory: the envelope and its group are gone again.
    let id = genuine.id.clone();
    assert!(
        h.worker
            .read_node(|node| Ok(node.get(&id).is_none()))
            .unwrap()
    );

    let answer = post(&h.url("echo"), &genuine).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_with_foreign_ones_among_them_run_once() {
    let h = Harness::start(Some(Arc::new(FailingStorage::default()))).await;
    let client = h.client("Client");
    let genuine = h.body(&client, person());
    let url = h.url("echo");
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let body = if i % 3 == 0 {
                foreign_copy(&genuine)
            } else {
                genuine.clone()
            };
            let url = url.clone();
            tokio::spawn(async move { (i % 3 == 0, post(&url, &body).await) })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let (foreign, answer) = task.await.unwrap();
        match (foreign, answer.status) {
            (true, _) => assert_error(&answer, 401, "not signed by its sender"),
            (false, 200) => ok += 1,
            (false, _) => assert_error(&answer, 400, "already handled"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(h.runs.load(Ordering::SeqCst), 1, "the handler ran once");
}

// ---- 4. Content that verifies but does not decrypt ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_that_verifies_but_does_not_decrypt_is_a_4xx_naming_the_covalue() {
    let h = Harness::start(None).await;
    let client = h.client("Client");
    let me = client.node().unwrap().reader().account.clone().unwrap();
    let genuine = h.body(&client, person());

    // The sender moves its own private transactions to another session of its own and signs
    // that session: it verifies, but the nonce (from the transaction id) no longer matches.
    let moved = mutated_copy(&client, &genuine, |envelope, signer| {
        let (_, session) = envelope.new.remove(0);
        let other = SessionID::new_active(&SessionAuthor::Account(me.clone()), &[7; 8]);
        let mut log = SessionLog::new(other.clone());
        let mut last = None;
        for tx in &session.new_transactions {
            last = Some(log.append_own(tx.clone(), signer).unwrap());
        }
        envelope.new.push((
            other,
            SessionNewContent {
                after: 0,
                new_transactions: session.new_transactions,
                last_signature: last.unwrap(),
            },
        ));
    });
    let answer = post(&h.url("echo"), &moved).await;
    assert_error(&answer, 400, "Request payload is not valid");
    assert_eq!(
        answer.body["details"]["covalue"],
        json!(genuine.id.as_str()),
        "{}",
        answer.text
    );
    assert!(
        answer.body["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be decrypted"),
        "{}",
        answer.text
    );
    assert_eq!(h.runs.load(Ordering::SeqCst), 0, "the handler did not run");

    // And it did not use up the id.
    let answer = post(&h.url("echo"), &genuine).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

// ---- 2. Memory and store agree after a failure ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_store_leaves_nothing_a_later_request_sees_or_builds_on() {
    let storage = Arc::new(FailingStorage::default());
    let h = Harness::start(Some(storage.clone())).await;

    storage.fail_store.store(true, Ordering::SeqCst);
    let first = h.client("First");
    let failed = h.booking(&first);
    assert_internal(&post(&h.url("book"), &failed).await);
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        h.reservations_in_memory().await,
        0,
        "memory shows a write that is not stored"
    );

    storage.fail_store.store(false, Ordering::SeqCst);
    let second = h.client("Second");
    let answer = post(&h.url("book"), &h.booking(&second)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(seat_of(&second, &answer), 1, "built on the failed booking");
    assert_eq!(h.reservations_in_memory().await, 1);
    assert_eq!(h.reservations_in_store(), 1);
    // The failed request's handler ran: its id stays used.
    assert_error(
        &post(&h.url("book"), &failed).await,
        400,
        "Request payload is already handled",
    );
    assert_eq!(h.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_to_store_is_taken_from_memory_without_asking_the_storage() {
    let storage = Arc::new(FailingStorage::default());
    let h = Harness::start(Some(storage.clone())).await;
    let client = h.client("Client");

    // The storage cannot say what it holds: the worker does not need it to. What a request
    // brought and what its handler wrote (here a note, then the handler's own error) are
    // taken from memory, each once, and stored.
    storage.fail_known_state.store(true, Ordering::SeqCst);
    let failing = h.body(&client, json!({"event": h.event.as_str()}));
    assert_error(&post(&h.url("fail"), &failing).await, 400, "Event is full");
    assert_eq!(
        storage.failures.load(Ordering::SeqCst),
        0,
        "the storage was asked"
    );
    storage.fail_known_state.store(false, Ordering::SeqCst);
    assert_eq!(h.note_in_store(), Some(json!("failed")));
    assert!(storage.inner.known_state(&failing.id).unwrap().is_some());

    // The worker goes on: a booking builds on the stored event.
    let answer = post(&h.url("book"), &h.booking(&client)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(seat_of(&client, &answer), 1);
    assert_eq!(h.reservations_in_store(), 1);
}

/// The seat a booking's response carries, read by the client from the response's pieces.
fn seat_of(client: &RequestClient, answer: &Answer) -> u64 {
    let payload = &answer.body["payload"];
    let id = CoID::parse(payload["id"].as_str().unwrap()).unwrap();
    let mut node = client.node().unwrap();
    for piece in payload["contentPieces"].as_array().unwrap() {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap();
    }
    node.read(&id).unwrap().value["seat"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_from_storage_keeps_what_the_request_imported_before() {
    let storage = Arc::new(FailingStorage::default());
    let h = Harness::start(Some(storage.clone())).await;
    // The event and its reservations are only in the store: the resolve loads them.
    let (event, list) = (h.event.clone(), h.reservations.clone());
    h.worker
        .with_node(|node| {
            node.evict(&[event, list]);
            Ok(())
        })
        .await
        .unwrap();

    let client = h.client("Fan");
    let fan = client.node().unwrap().reader().account.clone().unwrap();
    let body = h.booking(&client);
    let envelope_group = {
        let piece = body
            .content_pieces
            .iter()
            .find(|p| p["id"] == json!(body.id.as_str()))
            .unwrap();
        CoID::parse(piece["header"]["ruleset"]["group"].as_str().unwrap()).unwrap()
    };
    let answer = post(&h.url("book"), &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Everything the request brought is stored: its sender, its group, its envelope (which
    // cannot be loaded again without the first two).
    for id in [&fan, &envelope_group, &body.id] {
        assert!(
            storage.inner.known_state(id).unwrap().is_some(),
            "{id} was imported but never stored"
        );
    }
    let secret = crypto::random::new_random_agent_secret().unwrap();
    let (mut auditor, _) = LocalNode::create_account(secret, "Auditor").unwrap();
    auditor.attach_storage(storage.clone() as Arc<dyn Storage>);
    assert!(auditor.load_from_storage(&body.id).unwrap());
    assert_eq!(
        auditor.creator(&body.id).unwrap().as_deref(),
        Some(fan.as_str())
    );
    assert_eq!(h.reservations_in_store(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_that_fails_to_load_is_a_500_not_a_4xx() {
    let storage = Arc::new(FailingStorage::default());
    let h = Harness::start(Some(storage.clone())).await;
    let (event, list) = (h.event.clone(), h.reservations.clone());
    h.worker
        .with_node(|node| {
            node.evict(&[event, list]);
            Ok(())
        })
        .await
        .unwrap();
    let client = h.client("Fan");
    storage.fail_load.store(true, Ordering::SeqCst);
    assert_internal(&post(&h.url("book"), &h.booking(&client)).await);
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);
    // Refused before the handler: the id is not used up.
    storage.fail_load.store(false, Ordering::SeqCst);
    let answer = post(&h.url("book"), &h.booking(&client)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

// ---- 5. A worker failure: a generic 500, the cause and its source chain in the log ----

/// Where a test's `tracing` output goes: a buffer it reads afterwards.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

/// Everything this test binary logs (a process-wide subscriber, installed once: a
/// thread-local one misses events whose callsites another test's thread registered first).
fn test_log() -> &'static LogBuffer {
    static LOG: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = LogBuffer::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
            .try_init()
            .expect("no other subscriber in this test binary");
        log
    })
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// The lines logged at ERROR that say one of the requests `ids` failed inside the
    /// worker (the line carries the request's span, with its message id).
    fn failures(&self, ids: &[&CoID]) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains("ERROR") && l.contains("request failed inside the worker"))
            .filter(|l| ids.iter().any(|id| l.contains(&format!("message_id={id}"))))
            .map(str::to_owned)
            .collect()
    }
}

/// What the log holds of this test's requests is told apart from other tests' by their
/// message ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_failure_is_a_generic_500_with_the_cause_and_its_chain_in_the_log() {
    let log = test_log();
    let storage = Arc::new(FailingStorage::default());
    let h = Harness::start(Some(storage.clone())).await;
    let client = h.client("Client");

    // A handler's internal error: what the worker was doing, the handler's error, its source.
    let crash = h.body(&client, person());
    assert_internal(&post(&h.url("crash"), &crash).await);
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    let failures = log.failures(&[&crash.id]);
    assert_eq!(failures.len(), 1, "the log: {failures:?}");
    assert!(
        failures[0].ends_with(&format!(
            "error=handling the request: the seat plan could not be read: disk full at \
             {SECRET_TEXT}"
        )),
        "the log: {failures:?}"
    );

    // The store fails under the worker: what it was doing and the storage's error.
    storage.fail_store.store(true, Ordering::SeqCst);
    let booking = h.booking(&client);
    assert_internal(&post(&h.url("book"), &booking).await);
    let failures = log.failures(&[&crash.id, &booking.id]);
    assert_eq!(failures.len(), 2, "the log: {failures:?}");
    assert!(
        failures[1].ends_with(&format!(
            "error=storing the request's changes: SQLite commit failed: injected: disk full at \
             {SECRET_TEXT}"
        )),
        "the log: {failures:?}"
    );
}

// ---- 3. `serve` keeps serving after a failed accept ----

/// A listener whose `accept` fails (as when out of file descriptors) while `fail_next` > 0.
struct FlakyListener {
    inner: tokio::net::TcpListener,
    fail_next: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl Listener for FlakyListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<(Self::Stream, SocketAddr)> {
        let pending = self.fail_next.load(Ordering::SeqCst);
        if pending > 0 {
            self.fail_next.store(pending - 1, Ordering::SeqCst);
            self.failed.fetch_add(1, Ordering::SeqCst);
            // EMFILE: "Too many open files".
            return Err(std::io::Error::from_raw_os_error(24));
        }
        self.inner.accept().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_serving_after_failed_accepts() {
    let h = Harness::start(None).await;
    let inner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = inner.local_addr().unwrap();
    let fail_next = Arc::new(AtomicUsize::new(4));
    let failed = Arc::new(AtomicUsize::new(0));
    let listener = FlakyListener {
        inner,
        fail_next: fail_next.clone(),
        failed: failed.clone(),
    };
    let server = tokio::spawn(serve_connections(listener, h.worker.clone()));
    let client = h.client("Client");
    let url = format!("http://{addr}/api/echo");
    for round in 0..3 {
        let started = Instant::now();
        let answer = post(&url, &h.body(&client, person())).await;
        assert_eq!(answer.status, 200, "round {round}: {}", answer.text);
        // Four failures in a row back off 10 + 20 + 40 + 80 ms, no more.
        assert!(started.elapsed() < Duration::from_secs(5));
        fail_next.store(4, Ordering::SeqCst);
    }
    assert!(failed.load(Ordering::SeqCst) >= 8, "the failures happened");
    assert!(!server.is_finished(), "the server is still running");
    server.abort();
}
