//! What a well-signed request cannot make the worker do, in process (the worker's `handle`
//! called as its HTTP server calls it):
//!
//! - handle a copy of a request again when the copy arrives just as the 60 s window closes
//!   (the expiry check and the replay claim read one clock reading);
//! - write where its account may not write: a 403 naming the CoValue, the handler's
//!   transaction rolled back, never a 500 or a silent 200;
//! - keep memory after its client went away, at any point the request waits (the handler,
//!   the `serialize` lock): requests run to the end in a task of their own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::request::{Clock, ManualClock, WorkerConfig, WorkerMemory};
use jazz_req_examples::event_tickets::{BookEventTicket, Event, create_event};
use serde_json::{Value, json};

/// A clock that moves `step` ms forward each time it is read.
#[derive(Debug)]
struct SteppingClock {
    now: AtomicU64,
    step: AtomicU64,
}

impl Clock for SteppingClock {
    fn now_ms(&self) -> u64 {
        self.now
            .fetch_add(self.step.load(Ordering::SeqCst), Ordering::SeqCst)
    }
}

/// The answer of the test routes.
#[derive(CoMap, Debug)]
pub struct Done {
    pub ok: bool,
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Counts its runs.
#[jazz_request(url = "/api/count")]
pub async fn count(ctx: RequestContext, n: u32) -> Result<Done, JazzRequestError> {
    let _ = (ctx, n);
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(Done { ok: true })
}

/// Where the waiting handlers stand: how many entered, how many left, and the gate they wait
/// at (one permit lets one through).
struct Gate {
    entered: AtomicUsize,
    left: AtomicUsize,
    permits: tokio::sync::Semaphore,
}

static GATE: Gate = Gate {
    entered: AtomicUsize::new(0),
    left: AtomicUsize::new(0),
    permits: tokio::sync::Semaphore::const_new(0),
};

async fn wait_at_gate() {
    GATE.entered.fetch_add(1, Ordering::SeqCst);
    GATE.permits.acquire().await.unwrap().forget();
    GATE.left.fetch_add(1, Ordering::SeqCst);
}

/// Waits at the gate (what is measured is what the request itself leaves in memory).
#[jazz_request(url = "/api/wait")]
pub async fn wait(ctx: RequestContext, n: u32) -> Result<Done, JazzRequestError> {
    let _ = (ctx, n);
    wait_at_gate().await;
    Ok(Done { ok: true })
}

/// Waits at the gate while it holds the event's `serialize` lock.
#[jazz_request(url = "/api/wait-serialized", resolve = { event: true }, serialize = event)]
pub async fn wait_serialized(
    ctx: RequestContext,
    event: Loaded<Event>,
) -> Result<Done, JazzRequestError> {
    let _ = (ctx, event);
    wait_at_gate().await;
    Ok(Done { ok: true })
}

struct InProcess {
    worker: RequestWorker,
    /// The worker's account and an event it made (everyone reads), as JSON pieces.
    shared: Vec<Value>,
    event: CoID,
}

fn in_process(clock: Arc<dyn Clock>) -> InProcess {
    let secret = new_random_agent_secret().unwrap();
    let (mut node, account) = LocalNode::create_account(secret, "Worker").unwrap();
    let event = node
        .batch(|node| create_event(&mut Tx::new(node), "Jazz night", 5))
        .unwrap();
    let mut shared = node
        .export_json(&account, &Event::resolve().into_query())
        .unwrap();
    shared.extend(
        node.export_json(
            event.id(),
            &Event::resolve().reservations(|r| r).into_query(),
        )
        .unwrap(),
    );
    let worker = RequestWorker::with_clock(node, clock, WorkerConfig::default())
        .unwrap()
        .register(Count)
        .register(Wait)
        .register(WaitSerialized)
        .register(BookEventTicket);
    InProcess {
        worker,
        shared,
        event: event.id().clone(),
    }
}

fn client(worker: &InProcess, clock: Arc<dyn Clock>) -> RequestClient {
    let (node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Client").unwrap();
    let client =
        RequestClient::with_clock(node, clock).with_worker(worker.worker.account().clone());
    client.import_pieces(&worker.shared).unwrap();
    client
}

/// Puts the client's event `id` (with its reservations) into the worker's node, as the sync
/// server would: a request brings only its envelope.
async fn give_event(client: &RequestClient, worker: &RequestWorker, id: &CoID) {
    let pieces = client
        .node()
        .unwrap()
        .export_json(id, &Event::resolve().reservations(|r| r).into_query())
        .unwrap();
    worker
        .with_node(|node| {
            for piece in &pieces {
                node.import(jazz_req::cojson::ContentMessage::from_json(piece).unwrap())?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn http_request(path: &str, body: &Value) -> http::Request<Bytes> {
    http::Request::post(path)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

async fn answer(worker: &RequestWorker, path: &str, body: &Value) -> (u16, Value) {
    let response = worker.handle(http_request(path, body)).await;
    let status = response.status().as_u16();
    (status, serde_json::from_slice(response.body()).unwrap())
}

fn body(client: &RequestClient, worker: &InProcess, values: Value) -> Value {
    client
        .request_body(worker.worker.account(), values.as_object().unwrap())
        .unwrap()
        .to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_arriving_as_the_window_closes_is_refused() {
    const START: u64 = 1_800_000_000_000;
    let worker_clock = Arc::new(SteppingClock {
        now: AtomicU64::new(START),
        step: AtomicU64::new(0),
    });
    let worker = in_process(worker_clock.clone());
    let client = client(&worker, Arc::new(ManualClock::new(START)));
    let request = body(&client, &worker, json!({"n": 1}));
    let before = RUNS.load(Ordering::SeqCst);
    let (status, _) = answer(&worker.worker, "/api/count", &request).await;
    assert_eq!(status, 200);

    // The copy arrives at the last moment of its window (createdAt + 60 s: not expired), and
    // the clock moves on by 1 ms each time the worker reads it, so any second reading falls
    // after the window — where the first copy's claim no longer counts.
    worker_clock.now.store(START + 60_000, Ordering::SeqCst);
    worker_clock.step.store(1, Ordering::SeqCst);
    let (status, answered) = answer(&worker.worker, "/api/count", &request).await;
    assert_eq!(
        (status, answered["message"].as_str()),
        (400, Some("Request payload is already handled")),
        "the copy was answered {status} {}",
        answered["type"]
    );
    assert_eq!(RUNS.load(Ordering::SeqCst) - before, 1, "handled twice");

    // Later still, the copy is expired.
    let (status, answered) = answer(&worker.worker, "/api/count", &request).await;
    assert_eq!(status, 401, "{answered}");
    assert_eq!(RUNS.load(Ordering::SeqCst) - before, 1, "handled twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_worker_may_not_make_is_a_403_and_leaves_nothing() {
    let worker = in_process(Arc::new(jazz_req::request::SystemClock));
    let client = client(&worker, Arc::new(jazz_req::request::SystemClock));
    // The client's own event, in its own group (everyone reads it; the worker is no member,
    // so it may not write to the reservations list).
    let own = client
        .node()
        .unwrap()
        .batch(|node| create_event(&mut Tx::new(node), "My own night", 10))
        .unwrap();
    let list = own.reservations.id().clone();
    // The worker has it (as if from the sync server: a request brings only its envelope).
    give_event(&client, &worker.worker, own.id()).await;
    let covalues_before = worker.worker.memory().unwrap().covalues;
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.worker.clone())
        .await
        .unwrap()
        .addr();
    let client = client.with_base_url(format!("http://{addr}"));
    let error = BookEventTicket::send(&client, own).await.unwrap_err();
    let error = error.as_jazz_request_error().expect("a JazzRequestError");
    assert_eq!(error.code, 403, "{error:?}");
    assert_eq!(error.message, format!("The worker cannot write to {list}"));
    assert_eq!(error.details, Some(json!({"covalue": list.as_str()})));

    // The transaction was rolled back: no ticket, no ticket group stays in the worker's node,
    // and the list it holds (brought by the request) is gone from memory with the request.
    let memory = worker.worker.memory().unwrap();
    assert!(
        memory.covalues <= covalues_before + 2,
        "{memory:?} (before: {covalues_before})"
    );
    let held = worker
        .worker
        .read_node(|node| Ok(node.get(&list).map(|v| v.known_state())))
        .unwrap();
    if let Some(known) = held {
        let worker_account = worker.worker.account().clone();
        let by_worker = known
            .sessions
            .keys()
            .filter(|session| session.as_str().starts_with(worker_account.as_str()))
            .count();
        assert_eq!(by_worker, 0, "the worker wrote to the list");
    }
}

static UNTYPED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_that_declares_its_writes_refuses_an_unwritable_one_before_the_claim() {
    let mut worker = in_process(Arc::new(jazz_req::request::SystemClock));
    let spec = RouteSpec::new("/api/declared-writes")
        .with_request_resolve(
            jazz_req::cojson::ResolveQuery::from_json(&json!({"event": {"reservations": true}}))
                .unwrap(),
        )
        .writing_to(["event", "reservations"])
        .serialized_on("event");
    worker.worker = worker
        .worker
        .route(spec, |_ctx: RequestContext| async move {
            UNTYPED_RUNS.fetch_add(1, Ordering::SeqCst);
            Ok(serde_json::Map::new())
        });
    let client = client(&worker, Arc::new(jazz_req::request::SystemClock));
    // The worker's own event: it may write to its list. The client's own: it may not.
    let own = client
        .node()
        .unwrap()
        .batch(|node| create_event(&mut Tx::new(node), "My own night", 10))
        .unwrap();
    give_event(&client, &worker.worker, own.id()).await;
    let list = own.reservations.id().clone();

    let refused = body(&client, &worker, json!({"event": own.id().as_str()}));
    for _ in 0..2 {
        // Refused before the claim, the same way each time (its id stays unused).
        let (status, answered) = answer(&worker.worker, "/api/declared-writes", &refused).await;
        assert_eq!(status, 403, "{answered}");
        assert_eq!(
            answered["message"],
            json!(format!("The worker cannot write to {list}"))
        );
    }
    assert_eq!(UNTYPED_RUNS.load(Ordering::SeqCst), 0, "the handler ran");

    let accepted = body(&client, &worker, json!({"event": worker.event.as_str()}));
    let (status, answered) = answer(&worker.worker, "/api/declared-writes", &accepted).await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(UNTYPED_RUNS.load(Ordering::SeqCst), 1);
}

/// Waits (at most two minutes: a loaded machine may take long to accept thousands of
/// requests) until `check` holds, then returns whether it did.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..2_400 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// Sends `count` requests made by `make` through `handle`, waits until `waiting()` of them
/// stand where they wait, drops them (their callers go away), lets the handlers go on, and
/// returns the worker's memory once every request is done.
async fn cancel_while_waiting(
    worker: &InProcess,
    path: &'static str,
    bodies: Vec<Value>,
    waiting: impl Fn() -> usize,
    expected_waiting: usize,
) -> WorkerMemory {
    let left_before = GATE.left.load(Ordering::SeqCst);
    let count = bodies.len();
    let mut callers = Vec::with_capacity(count);
    for body in bodies {
        let handling = worker.worker.clone();
        callers.push(tokio::spawn(async move {
            handling.handle(http_request(path, &body)).await
        }));
    }
    assert!(
        eventually(|| waiting() >= expected_waiting).await,
        "{} of {expected_waiting} requests reached their waiting point",
        waiting()
    );
    for caller in &callers {
        caller.abort();
    }
    for caller in callers {
        assert!(caller.await.unwrap_err().is_cancelled());
    }
    // The handlers go on (one permit each) and finish.
    GATE.permits.add_permits(count);
    assert!(
        eventually(|| GATE.left.load(Ordering::SeqCst) - left_before >= count).await,
        "the handlers of cancelled requests did not finish"
    );
    let mut memory = worker.worker.memory().unwrap();
    eventually(|| {
        memory = worker.worker.memory().unwrap();
        memory.pinned == 0
    })
    .await;
    memory
}

/// How many requests are cancelled at each waiting point (`CANCELLED_REQUESTS`, default
/// 2,000; the figure is 10,000: `CANCELLED_REQUESTS=10000`).
fn cancelled_requests() -> usize {
    std::env::var("CANCELLED_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_whose_callers_leave_while_they_wait_leave_memory_where_it_was() {
    let worker = in_process(Arc::new(jazz_req::request::SystemClock));
    let client = client(&worker, Arc::new(jazz_req::request::SystemClock));
    let count = cancelled_requests();

    // One request of this client answered first: its account is among the recent senders'
    // from then on, so what stays after it is the baseline.
    GATE.permits.add_permits(1);
    let (status, _) = answer(
        &worker.worker,
        "/api/wait",
        &body(&client, &worker, json!({"n": 0})),
    )
    .await;
    assert_eq!(status, 200);
    let baseline = worker.worker.memory().unwrap();
    assert_eq!(baseline.pinned, 0);

    // Cancelled in the handler.
    let entered = GATE.entered.load(Ordering::SeqCst);
    let bodies = (0..count)
        .map(|n| body(&client, &worker, json!({"n": n})))
        .collect();
    let after = cancel_while_waiting(
        &worker,
        "/api/wait",
        bodies,
        || GATE.entered.load(Ordering::SeqCst) - entered,
        count,
    )
    .await;
    assert_eq!(
        (after.covalues, after.pinned),
        (baseline.covalues, 0),
        "cancelled in the handler: {after:?}, before: {baseline:?}"
    );

    // Cancelled while waiting for the `serialize` lock (one holds it, at the gate; the others
    // wait for it), then in the handler one after the other.
    let entered = GATE.entered.load(Ordering::SeqCst);
    let event = worker.event.as_str().to_owned();
    let bodies = (0..count)
        .map(|_| body(&client, &worker, json!({"event": event})))
        .collect();
    let after = cancel_while_waiting(
        &worker,
        "/api/wait-serialized",
        bodies,
        || {
            // One at the gate, and every request accepted: each pins at least the envelope
            // and the group it brought.
            let pinned = worker.worker.memory().unwrap().pinned;
            usize::from(GATE.entered.load(Ordering::SeqCst) > entered) * pinned
        },
        2 * count,
    )
    .await;
    assert_eq!(
        (after.covalues, after.pinned),
        (baseline.covalues, 0),
        "cancelled at the serialize lock: {after:?}, before: {baseline:?}"
    );
}
