//! Routes written with `#[jazz_request]` and `#[derive(CoMap)]`, served by a Rust worker with
//! its SQLite store attached and called through the generated client stubs over real HTTP:
//! typed values both ways, typed errors, bad input refused before the handler, no
//! overselling, a failed transaction leaving nothing behind, and mounting in axum.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{BookEventTicket, Event, create_event};
use jazz_req_examples::ticket_sale::{SaleOptions, run};
use serde_json::{Value, json};

/// What `/api/echo` answers: the request's fields and who sent it.
#[derive(CoMap, Debug, PartialEq)]
pub struct Echoed {
    pub text: String,
    pub n: f64,
    pub flag: bool,
    pub note: Option<String>,
    #[co(rename = "madeBy")]
    pub made_by: String,
}

static ECHO_RUNS: AtomicU64 = AtomicU64::new(0);

/// Echoes its fields; "please fail" is a 422 with details.
#[jazz_request(url = "/api/echo")]
pub async fn echo(
    ctx: RequestContext,
    text: String,
    n: f64,
    flag: bool,
    note: Option<String>,
) -> Result<Echoed, JazzRequestError> {
    ECHO_RUNS.fetch_add(1, Ordering::SeqCst);
    if text == "please fail" {
        return Err(
            JazzRequestError::new("Asked to fail", 422).with_details(json!({"reason": "test"}))
        );
    }
    Ok(Echoed {
        text,
        n,
        flag,
        note,
        made_by: ctx.made_by().id().as_str().to_owned(),
    })
}

/// The answer of `/api/book-then-fail`.
#[derive(CoMap, Debug)]
pub struct Nothing {
    pub ok: bool,
}

/// Writes a ticket and a reservation in one transaction, then fails: nothing of it may stay.
#[jazz_request(url = "/api/book-then-fail", resolve = { event: { reservations: true } })]
pub async fn book_then_fail(
    ctx: RequestContext,
    event: Loaded<Event>,
) -> Result<Nothing, JazzRequestError> {
    ctx.transaction(|tx| {
        let group = tx.create_group()?;
        let ticket = tx.create(
            &group,
            jazz_req_examples::event_tickets::Ticket {
                account: ctx.made_by(),
                event: event.to_ref(),
            },
        )?;
        tx.push(&event.reservations, ticket.to_ref())?;
        Err::<Nothing, _>(JazzRequestError::new("Changed my mind", 409))
    })
}

/// Books like `BookEventTicket`, but waits between its check and its write: without
/// `serialize = event`, concurrent requests would all pass the check and oversell.
#[jazz_request(
    url = "/api/slow-book",
    resolve = { event: { reservations: true } },
    response_resolve = { ticket: true },
    serialize = event,
)]
pub async fn slow_book(
    ctx: RequestContext,
    event: Loaded<Event>,
) -> Result<jazz_req_examples::event_tickets::TicketBooked, JazzRequestError> {
    if event.reservations.len()? >= event.capacity as usize {
        return Err(JazzRequestError::new("Event is full", 400));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    ctx.transaction(|tx| {
        let group = tx.create_group()?;
        tx.add_member(&group, ctx.made_by(), Role::Reader)?;
        let ticket = tx.create(
            &group,
            jazz_req_examples::event_tickets::Ticket {
                account: ctx.made_by(),
                event: event.to_ref(),
            },
        )?;
        tx.push(&event.reservations, ticket.to_ref())?;
        Ok(jazz_req_examples::event_tickets::TicketBooked {
            ticket: ticket.to_ref(),
        })
    })
}

struct Worker {
    options: WorkerOptions,
    worker: RequestWorker,
    addr: SocketAddr,
    server: ServerHandle,
    event: Loaded<Event>,
    shared: Vec<Value>,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A worker on a fresh SQLite store serving the test routes, with an event of `capacity`.
async fn worker(capacity: u32) -> Worker {
    let dir = std::env::temp_dir().join(format!(
        "jazz-req-typed-{}-{}",
        std::process::id(),
        crate_unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("worker.sqlite");
    let secret = new_random_agent_secret().unwrap();
    let (mut node, account) = LocalNode::create_account(secret.clone(), "Worker").unwrap();
    node.attach_storage(Arc::new(SqliteStorage::open(&store).unwrap()));
    let event = node
        .batch(|node| create_event(&mut Tx::new(node), "Jazz night", capacity))
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
    node.flush().unwrap();
    drop(node);
    let options = WorkerOptions::new(account, secret, store);
    let worker = options
        .start()
        .await
        .unwrap()
        .register(Echo)
        .register(BookEventTicket)
        .register(BookThenFail)
        .register(SlowBook);
    let server = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap();
    Worker {
        options,
        worker,
        addr: server.addr(),
        server,
        event,
        shared,
        _dir: TempDir(dir),
    }
}

fn crate_unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

fn client(worker: &Worker) -> RequestClient {
    let (node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Client").unwrap();
    let client = RequestClient::new(node)
        .with_base_url(format!("http://{}", worker.addr))
        .with_worker(worker.worker.account().clone());
    client.import_pieces(&worker.shared).unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_values_go_and_come_back_through_the_stub() {
    let worker = worker(1).await;
    let client = client(&worker);
    let me = client.node().unwrap().reader().account.clone().unwrap();
    for (text, n, flag, note) in [
        ("héllo wörld ✓ 🎷", 0.1, true, Some("a note".to_owned())),
        ("", -0.0, false, None),
        ("edge", 9_007_199_254_740_991.0, true, Some(String::new())),
        ("tiny", 5e-324, false, None),
        ("big", 1.7976931348623157e308, true, None),
    ] {
        let echoed = Echo::send(&client, text.to_owned(), n, flag, note.clone())
            .await
            .unwrap();
        // The same request with its fields named gets the same answer.
        let named = Echo::send_request(
            &client,
            EchoRequest {
                text: text.to_owned(),
                n,
                flag,
                note: note.clone(),
            },
        )
        .await
        .unwrap();
        assert_eq!(*named, *echoed);
        assert_eq!(
            *echoed,
            Echoed {
                text: text.to_owned(),
                n,
                flag,
                note,
                made_by: me.as_str().to_owned()
            }
        );
        // Bit for bit, except that -0 travels as 0: changes are written as JS's
        // JSON.stringify writes them, and that prints -0 as 0.
        let expected = if n == 0.0 { 0.0_f64 } else { n };
        assert_eq!(echoed.n.to_bits(), expected.to_bits(), "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_reaches_the_client_typed() {
    let worker = worker(1).await;
    let client = client(&worker);
    let error = Echo::send(&client, "please fail".into(), 1.0, true, None)
        .await
        .unwrap_err();
    let error = error.as_jazz_request_error().expect("a JazzRequestError");
    assert_eq!(error.code, 422);
    assert_eq!(error.message, "Asked to fail");
    assert_eq!(error.details, Some(json!({"reason": "test"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_does_not_fit_the_schema_never_reaches_the_handler() {
    let worker = worker(1).await;
    let client = client(&worker);
    let url = format!("http://{}/api/echo", worker.addr);
    let before = ECHO_RUNS.load(Ordering::SeqCst);
    // Each request with the field it gets wrong.
    let cases = [
        (json!({"text": "x", "n": "not a number", "flag": true}), "n"),
        (json!({"text": 3, "n": 1, "flag": true}), "text"),
        (json!({"n": 1, "flag": true}), "text"),
        (json!({"text": "x", "n": 1, "flag": "yes"}), "flag"),
        (
            json!({"text": "x", "n": 1, "flag": true, "note": 5}),
            "note",
        ),
    ];
    for (values, field) in cases {
        let body = client
            .request_body(worker.worker.account(), values.as_object().unwrap())
            .unwrap();
        // Refused before it is claimed: the same body is refused the same way again (its id
        // is not used up), and nothing of it is stored.
        for _ in 0..2 {
            let answer = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_json().to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 400, "{values}");
            let answer: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
            assert_eq!(
                answer["message"],
                json!("Request payload is not valid"),
                "{values}"
            );
            assert!(answer["details"]["covalue"].is_string(), "{answer}");
            // The details name the field and the route the client sent to, in words the
            // client knows: no name the macro made up for the request's Rust type.
            assert_eq!(answer["details"]["field"], json!(field), "{answer}");
            let reason = answer["details"]["reason"].as_str().unwrap();
            assert!(reason.contains("(request to /api/echo)"), "{reason}");
            assert!(reason.contains(&format!("`{field}`")), "{reason}");
            assert!(
                !reason.contains("__") && !reason.contains("EchoRequest"),
                "{reason}"
            );
        }
        let stored = worker
            .worker
            .read_node(|node| {
                let storage = node.storage().expect("the worker has its store").clone();
                Ok(storage.known_state(&body.id)?)
            })
            .unwrap();
        assert_eq!(stored, None, "the refused envelope was stored");
    }
    assert_eq!(ECHO_RUNS.load(Ordering::SeqCst), before, "no handler ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_buyers_never_oversell() {
    let worker = worker(3).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let client = client(&worker);
        let event = client
            .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
            .unwrap();
        tasks.push(tokio::spawn(async move {
            BookEventTicket::send(&client, event).await
        }));
    }
    let (mut sold, mut full) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(booked) => {
                assert_eq!(booked.ticket.get().unwrap().event.id(), worker.event.id());
                sold += 1;
            }
            Err(SendError::Request(e)) if e.message == "Event is full" && e.code == 400 => {
                full += 1
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((sold, full), (3, 13));
    let event = worker
        .worker
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(event.reservations.len().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_awaits_between_check_and_write_still_never_oversells() {
    let worker = worker(3).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let client = client(&worker);
        let event = client
            .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
            .unwrap();
        tasks.push(tokio::spawn(
            async move { SlowBook::send(&client, event).await },
        ));
    }
    let mut sold = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => sold += 1,
            Err(SendError::Request(e)) if e.message == "Event is full" => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(sold, 3);
    let event = worker
        .worker
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(event.reservations.len().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_leaves_nothing_behind() {
    let worker = worker(2).await;
    let client = client(&worker);
    let event = client
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    let error = BookThenFail::send(&client, event).await.unwrap_err();
    assert_eq!(error.as_jazz_request_error().map(|e| e.code), Some(409));
    // Neither memory nor the store holds the reservation the failed transaction wrote.
    let in_memory = worker
        .worker
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(in_memory.reservations.len().unwrap(), 0);
    // A booking after it sells seat one of two, and the store agrees.
    let event = client
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    BookEventTicket::send(&client, event).await.unwrap();
    let after = worker
        .worker
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(after.reservations.len().unwrap(), 1);
    // A second worker on the same store (a restart, once the first stopped: one worker per
    // store) reads the same.
    let Worker {
        options,
        worker: first,
        server,
        event,
        _dir,
        ..
    } = worker;
    server.shutdown().await.unwrap();
    drop(first);
    let restarted = options.start().await.unwrap();
    let stored = restarted
        .load::<Event>(event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(stored.reservations.len().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_mounts_in_axum() {
    let worker = worker(1).await;
    // Three lines: a router, the route's path, the worker as its service.
    let app = axum::Router::new()
        .route_service(<Echo as Route>::URL, worker.worker.clone())
        .route_service(<BookEventTicket as Route>::URL, worker.worker.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = client(&worker).with_base_url(format!("http://{addr}"));
    let echoed = Echo::send(&client, "via axum".into(), 2.5, true, None)
        .await
        .unwrap();
    assert_eq!(echoed.text, "via axum");
    let event = client
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    let booked = BookEventTicket::send(&client, event).await.unwrap();
    assert!(booked.ticket.is_loaded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_example_sells_exactly_the_capacity_and_keeps_it_across_a_restart() {
    let dir = std::env::temp_dir().join(format!(
        "jazz-req-sale-{}-{}",
        std::process::id(),
        crate_unique()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let summary = run(
        &SaleOptions {
            capacity: 7,
            buyers: 40,
            store: dir.join("worker.sqlite"),
        },
        || {},
    )
    .await
    .unwrap();
    assert_eq!(
        (
            summary.sold,
            summary.refused,
            summary.errors,
            summary.after_restart
        ),
        (7, 33, 0, 7),
        "{summary:?}"
    );
    let handled = (400, "Request payload is already handled".to_owned());
    assert_eq!(
        summary.replay[1..],
        [handled.clone(), handled],
        "the replay is refused, also after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_booking_creates_leaves_memory_once_stored() {
    let worker = worker(1_000).await;
    let client = client(&worker);
    let book = || async {
        let event = client
            .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
            .unwrap();
        BookEventTicket::send(&client, event).await.unwrap()
    };
    for _ in 0..10 {
        book().await;
    }
    let before = worker.worker.memory().unwrap();
    let mut last = None;
    for _ in 0..100 {
        last = Some(book().await);
    }
    let after = worker.worker.memory().unwrap();
    // Before, each booking left its ticket and the ticket's group: 200 more.
    assert!(
        after.covalues <= before.covalues + 2,
        "{before:?} -> {after:?}"
    );
    let ticket = last.unwrap().ticket.id().clone();
    let in_memory = worker
        .worker
        .read_node(|node| Ok(node.get(&ticket).is_some()));
    assert!(!in_memory.unwrap(), "the ticket left memory");
    // It is in the store, and the event still lists every booking.
    let stored = worker
        .worker
        .with_node(|node| node.load_from_storage(&ticket))
        .await;
    assert!(stored.unwrap(), "the ticket is in the store");
    let event = worker
        .worker
        .load::<Event>(worker.event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(event.reservations.len().unwrap(), 110);
}
