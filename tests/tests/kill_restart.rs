//! Issue 9, item 5: kill -9 under load, then restart — `interop_worker` as a real child
//! process on its SQLite store (no sync server yet).
//!
//! Each round, a fresh event (`seed_event`) is booked by concurrent buyers (fresh accounts,
//! the generated `BookEventTicket::send` stub) while echo clients keep `Echo::send` busy; the
//! worker gets SIGKILL at a random moment (once 0, 2, 4, 6 or 9 bookings were answered — one
//! round each, in a random order — plus a random pause). Then, with the worker dead, its store is read
//! directly: every booking answered 200 is in the reservations (its ticket, its buyer), no
//! reservation belongs to a buyer who was not answered 200 or still in flight at the kill,
//! no buyer has two, and there are never more than the capacity. The worker restarts on the
//! same store; every request it had answered before the kill (200 or a handler's error),
//! replayed byte for byte, is refused with "Request payload is already handled" (nothing
//! else counts: "Event is full" would hide a lost claim); every request that was in flight is
//! sent again: if its reservation was stored it must be refused the same way (exactly once
//! across the crash), otherwise it may run now. At the end, every request answered in any
//! round is replayed once more (all inside their 60 s window), the worker stops on SIGTERM
//! (exit 0), and the store is checked again.
//!
//! The clients talk to the worker through a recording proxy in this test: it sees each
//! request's exact body and whether the worker's whole answer came back, which is the truth
//! "answered" is judged by. `KILL_RESTART_SEED=N` replays a run's random choices (the seed is
//! printed); `JAZZ_REQ_INTEROP_WORKER=path` tests another build of the worker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req_examples::echo::{Echo, Echoed, PLEASE_FAIL};
use jazz_req_examples::event_tickets::{BookEventTicket, Event};
use jazz_req_tests::worker_process::{
    Credentials, Examples, SeededEvent, WorkerProcess, create_worker_account, examples, seed_event,
};
use serde_json::Value;

/// Kill points per run.
const ROUNDS: usize = 5;
/// Seats of each round's event.
const CAPACITY: u32 = 6;
/// Buyers per round (each a fresh account, one booking each).
const BUYERS: usize = 16;
/// Clients sending echo requests one after another until the kill.
const ECHOERS: usize = 4;
/// Buyers start at random over this many ms.
const BUYER_SPREAD_MS: u64 = 300;
/// The worker is killed once this many bookings were answered in the round (one round at
/// each, in a random order, so that the kill points cover the sale from its start to past
/// its end whatever the machine's speed)…
const KILL_AFTER_BOOKINGS: [usize; ROUNDS] = [0, 2, 4, 6, 9];
/// …plus a random pause of up to this many ms.
const KILL_JITTER_MS: u64 = 40;
/// The only answer that proves a replay was caught.
const ALREADY_HANDLED: &str = "Request payload is already handled";
/// Replays are checked only this far inside the worker's 60 s window.
const REPLAY_WINDOW_MS: f64 = 55_000.0;

const BOOK: &str = "/api/book-event-ticket";
const ECHO: &str = "/api/echo";

// ---------------------------------------------------------------------------------------
// The recording proxy

/// One request as the proxy saw it, and the worker's whole answer if it came.
#[derive(Clone, Debug)]
struct Exchange {
    round: usize,
    path: String,
    signer: String,
    created_at: f64,
    body: Bytes,
    /// Whether it was forwarded to a worker (not: sent after the kill).
    forwarded: bool,
    answer: Option<Answer>,
}

/// A status and the `JazzRequestError` message (empty for a success).
#[derive(Clone, Debug, PartialEq)]
struct Answer {
    status: u16,
    message: String,
}

impl Answer {
    fn is(&self, status: u16, message: &str) -> bool {
        self.status == status && self.message == message
    }
}

struct ProxyState {
    target: Mutex<Option<SocketAddr>>,
    /// Bookings answered in the current round.
    bookings_answered: AtomicUsize,
    round: AtomicUsize,
    http: reqwest::Client,
    log: Mutex<Vec<Exchange>>,
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

impl Proxy {
    async fn start() -> Self {
        let state = Arc::new(ProxyState {
            target: Mutex::new(None),
            bookings_answered: AtomicUsize::new(0),
            round: AtomicUsize::new(0),
            http: reqwest::Client::new(),
            log: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    fn point_to(&self, worker: Option<SocketAddr>) {
        *self.state.target.lock().unwrap() = worker;
    }

    fn exchanges(&self, round: usize) -> Vec<Exchange> {
        let log = self.state.log.lock().unwrap();
        log.iter().filter(|e| e.round == round).cloned().collect()
    }

    fn all_exchanges(&self) -> Vec<Exchange> {
        self.state.log.lock().unwrap().clone()
    }
}

async fn forward(
    axum::extract::State(state): axum::extract::State<Arc<ProxyState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let path = request.uri().path().to_owned();
    let body = axum::body::to_bytes(request.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let target = *state.target.lock().unwrap();
    let answered = match target {
        Some(target) => post(&state.http, target, &path, body.clone()).await.ok(),
        None => None,
    };
    if answered.is_some() && path == BOOK {
        state.bookings_answered.fetch_add(1, Ordering::SeqCst);
    }
    state.log.lock().unwrap().push(Exchange {
        round: state.round.load(Ordering::SeqCst),
        path,
        signer: json["signerID"].as_str().unwrap_or_default().to_owned(),
        created_at: json["createdAt"].as_f64().unwrap_or_default(),
        body,
        forwarded: target.is_some(),
        answer: answered.as_ref().map(|(answer, _, _)| answer.clone()),
    });
    match answered {
        Some((answer, is_error, bytes)) => {
            let mut response = axum::response::Response::new(axum::body::Body::from(bytes));
            *response.status_mut() = http::StatusCode::from_u16(answer.status).unwrap();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            if is_error {
                response.headers_mut().insert(
                    jazz_req::request::error::JAZZ_REQUEST_ERROR_HEADER,
                    http::HeaderValue::from_static("true"),
                );
            }
            response
        }
        None => http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// POSTs `body` to the worker; the answer, whether it is a `JazzRequestError`, its bytes.
async fn post(
    http: &reqwest::Client,
    worker: SocketAddr,
    path: &str,
    body: Bytes,
) -> Result<(Answer, bool, Bytes), reqwest::Error> {
    let response = http
        .post(format!("http://{worker}{path}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let is_error = response
        .headers()
        .contains_key(jazz_req::request::error::JAZZ_REQUEST_ERROR_HEADER);
    let bytes = response.bytes().await?;
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((Answer { status, message }, is_error, bytes))
}

// ---------------------------------------------------------------------------------------
// Clients

/// A fresh account's client, holding the worker's account and the event.
struct Party {
    client: RequestClient,
    account: CoID,
    signer: String,
}

fn party(name: &str, base_url: &str, worker: &CoID, pieces: &[Value]) -> Party {
    let secret = new_random_agent_secret().unwrap();
    let signer = secret.agent_id().signer.to_string();
    let (node, account) = LocalNode::create_account(secret, name).unwrap();
    let client = RequestClient::new(node)
        .with_base_url(base_url)
        .with_worker(worker.clone());
    client.import_pieces(pieces).unwrap();
    Party {
        client,
        account,
        signer,
    }
}

/// Random choices, reproducible from the printed seed (xorshift64*).
struct Rng(u64);

impl Rng {
    fn from_env_or_clock() -> Self {
        let seed = std::env::var("KILL_RESTART_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("KILL_RESTART_SEED={seed}");
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "jazz-req-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn built_examples() -> Examples {
    tokio::task::spawn_blocking(examples)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------
// The store, read directly while no worker runs on it

/// The reservations of `event` in the store: (ticket, its account), in list order.
fn stored_reservations(credentials: &Credentials, store: &Path, event: &CoID) -> Vec<(CoID, CoID)> {
    let options = WorkerOptions::new(
        credentials.account.clone(),
        credentials.secret.clone(),
        store,
    );
    let worker = RequestWorker::new(options.open_node().unwrap()).unwrap();
    let event = worker
        .load::<Event>(event, Event::resolve().reservations(|r| r.each(|t| t)))
        .unwrap();
    event
        .reservations
        .items()
        .unwrap()
        .iter()
        .map(|ticket| {
            let account = ticket.get().unwrap().account.id().clone();
            (ticket.id().clone(), account)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// One round: load, kill, check the store, restart, replay

/// What a round found.
#[derive(Default)]
struct Round {
    /// Bookings answered when the kill was decided.
    kill_after_bookings: usize,
    killed_at_ms: u128,
    /// Every client's account, by its signer id (what a body names).
    by_signer: BTreeMap<String, CoID>,
    /// Buyers answered 200, with their ticket.
    sold: BTreeMap<CoID, CoID>,
    full: usize,
    /// Buyers whose booking was forwarded to the worker and got no answer.
    in_flight: BTreeSet<CoID>,
    /// Buyers whose booking came after the kill (it reached no worker).
    after_kill: BTreeSet<CoID>,
    stored: Vec<(CoID, CoID)>,
    echo_answered: usize,
    echo_in_flight: usize,
    replays_refused: usize,
    retry_refused: usize,
    retry_sold: BTreeSet<CoID>,
    retry_full: usize,
    retry_echo: usize,
}

struct Run {
    examples: Examples,
    credentials: Credentials,
    store: PathBuf,
    proxy: Proxy,
    http: reqwest::Client,
    rng: Rng,
    /// The kill point of each round ([`KILL_AFTER_BOOKINGS`] in a random order).
    kill_points: Vec<usize>,
    problems: Vec<String>,
}

impl Run {
    /// Runs the load of round `index` against `worker` and kills it at a random moment.
    async fn load_and_kill(
        &mut self,
        index: usize,
        worker: WorkerProcess,
        seeded: &SeededEvent,
    ) -> Round {
        let base_url = format!("http://{}", self.proxy.addr);
        let account = worker.account().clone();
        let buyers: Vec<Party> = (0..BUYERS)
            .map(|i| {
                party(
                    &format!("Buyer {index}.{i}"),
                    &base_url,
                    &account,
                    &seeded.pieces,
                )
            })
            .collect();
        let echoers: Vec<Party> = (0..ECHOERS)
            .map(|i| {
                party(
                    &format!("Echo {index}.{i}"),
                    &base_url,
                    &account,
                    &seeded.pieces,
                )
            })
            .collect();
        let by_signer: BTreeMap<String, CoID> = buyers
            .iter()
            .chain(&echoers)
            .map(|p| (p.signer.clone(), p.account.clone()))
            .collect();
        self.proxy.state.round.store(index, Ordering::SeqCst);
        self.proxy
            .state
            .bookings_answered
            .store(0, Ordering::SeqCst);
        let kill_after = self.kill_points[index];
        let jitter = Duration::from_millis(self.rng.between(0, KILL_JITTER_MS));
        let started = Instant::now();

        let mut bookings = Vec::new();
        for buyer in buyers {
            let delay = Duration::from_millis(self.rng.between(0, BUYER_SPREAD_MS));
            let event = seeded.event.clone();
            bookings.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let event = buyer
                    .client
                    .load::<Event>(&event, Event::resolve().reservations(|r| r))
                    .unwrap();
                let result = BookEventTicket::send(&buyer.client, event)
                    .await
                    .map(|booked| booked.ticket.id().clone());
                (buyer.account, result)
            }));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut echoes = Vec::new();
        for (e, echoer) in echoers.into_iter().enumerate() {
            let stop = stop.clone();
            echoes.push(tokio::spawn(async move {
                let mut wrong = Vec::new();
                let mut k = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    k += 1;
                    let text = if k.is_multiple_of(5) {
                        PLEASE_FAIL.to_owned()
                    } else {
                        format!("échо {e}.{k} ✓")
                    };
                    let n = f64::from(k) * 1.5 - 7.25;
                    let note = k.is_multiple_of(2).then(|| format!("note {k}"));
                    let sent = Echoed {
                        text: text.clone(),
                        n,
                        flag: k.is_multiple_of(3),
                        note: note.clone(),
                        made_by: echoer.account.as_str().to_owned(),
                    };
                    match Echo::send(&echoer.client, text, n, sent.flag, note).await {
                        Ok(echoed) if *echoed == sent => {}
                        Ok(echoed) => wrong.push(format!("echo {echoed:?} for {sent:?}")),
                        Err(SendError::Request(error))
                            if error.code == 422 && sent.text == PLEASE_FAIL => {}
                        // The proxy's 502: the worker is gone.
                        Err(SendError::Request(error)) if error.code == 502 => break,
                        Err(other) => wrong.push(format!("echo {sent:?}: {other}")),
                    }
                }
                wrong
            }));
        }

        while self.proxy.state.bookings_answered.load(Ordering::SeqCst) < kill_after
            && started.elapsed() < Duration::from_secs(20)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(jitter).await;
        let killed_at = started.elapsed();
        let status = tokio::task::spawn_blocking(move || worker.kill())
            .await
            .unwrap()
            .unwrap();
        assert!(!status.success(), "SIGKILL ends the worker: {status}");
        stop.store(true, Ordering::SeqCst);
        self.proxy.point_to(None);

        let mut round = Round {
            kill_after_bookings: kill_after,
            killed_at_ms: killed_at.as_millis(),
            by_signer,
            ..Round::default()
        };
        let mut stub_sold = BTreeMap::new();
        for booking in bookings {
            let (account, result) = tokio::time::timeout(Duration::from_secs(30), booking)
                .await
                .expect("a booking still waits 30 s after the kill")
                .unwrap();
            if let Ok(ticket) = result {
                stub_sold.insert(account, ticket);
            }
        }
        for echo in echoes {
            let wrong = tokio::time::timeout(Duration::from_secs(30), echo)
                .await
                .expect("an echo client still waits 30 s after the kill")
                .unwrap();
            self.problems.extend(wrong);
        }

        // What the worker answered, by the proxy's log.
        let exchanges = self.proxy.exchanges(index);
        let mut booked_by = BTreeSet::new();
        for exchange in &exchanges {
            let Some(sender) = round.by_signer.get(&exchange.signer).cloned() else {
                self.problems.push(format!(
                    "a request of an unknown signer {}",
                    exchange.signer
                ));
                continue;
            };
            match (exchange.path.as_str(), &exchange.answer) {
                (BOOK, answer) => {
                    if !booked_by.insert(sender.clone()) {
                        self.problems.push(format!("{sender} booked twice"));
                    }
                    match answer {
                        Some(a) if a.status == 200 => match stub_sold.get(&sender) {
                            Some(ticket) => {
                                round.sold.insert(sender.clone(), ticket.clone());
                            }
                            None => self
                                .problems
                                .push(format!("{sender} was answered 200 but the stub failed")),
                        },
                        Some(a) if a.is(400, "Event is full") => round.full += 1,
                        Some(a) => self
                            .problems
                            .push(format!("booking of {sender} answered {a:?}")),
                        None if exchange.forwarded => {
                            round.in_flight.insert(sender.clone());
                        }
                        None => {
                            round.after_kill.insert(sender.clone());
                        }
                    }
                }
                (ECHO, Some(a)) if a.status == 200 || a.is(422, "Asked to fail") => {
                    round.echo_answered += 1;
                }
                (ECHO, None) => round.echo_in_flight += usize::from(exchange.forwarded),
                (path, answer) => self
                    .problems
                    .push(format!("{path} of {sender} answered {answer:?}")),
            }
        }
        if stub_sold.len() != round.sold.len() {
            self.problems.push(format!(
                "the stubs report {} tickets, the worker answered {} bookings with 200",
                stub_sold.len(),
                round.sold.len()
            ));
        }
        round
    }

    /// With the worker dead: its store holds every ticket sold and no other but those of
    /// requests in flight; no buyer twice; never more than the capacity.
    fn check_store(&mut self, index: usize, seeded: &SeededEvent, round: &mut Round) {
        round.stored = stored_reservations(&self.credentials, &self.store, &seeded.event);
        let stored: BTreeSet<(CoID, CoID)> = round
            .stored
            .iter()
            .map(|(ticket, account)| (account.clone(), ticket.clone()))
            .collect();
        for (account, ticket) in &round.sold {
            if !stored.contains(&(account.clone(), ticket.clone())) {
                self.problems.push(format!(
                    "round {index}: LOST — ticket {ticket} of {account} was answered 200 but is not in the store"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (ticket, account) in &round.stored {
            if !seen.insert(account.clone()) {
                self.problems
                    .push(format!("round {index}: {account} has two reservations"));
            }
            let answered = round.sold.get(account) == Some(ticket);
            if !answered && !round.in_flight.contains(account) {
                self.problems.push(format!(
                    "round {index}: EXTRA — reservation {ticket} of {account}, who was neither answered 200 nor in flight"
                ));
            }
        }
        if round.stored.len() > CAPACITY as usize {
            self.problems.push(format!(
                "round {index}: {} reservations for {CAPACITY} seats",
                round.stored.len()
            ));
        }
    }

    /// After the restart: replays what was answered, sends again what was in flight.
    async fn replay(&mut self, index: usize, worker: SocketAddr, round: &mut Round) {
        let stored: BTreeSet<&CoID> = round.stored.iter().map(|(_, a)| a).collect();
        for exchange in self.proxy.exchanges(index) {
            let again = self.send_again(worker, &exchange).await;
            match (&exchange.answer, exchange.path.as_str()) {
                (Some(_), _) => {
                    if again.is(400, ALREADY_HANDLED) {
                        round.replays_refused += 1;
                    } else {
                        self.problems.push(format!(
                            "round {index}: a replay of a request answered {:?} before the kill got {again:?}",
                            exchange.answer
                        ));
                    }
                }
                (None, BOOK) => {
                    let Some(buyer) = round.by_signer.get(&exchange.signer).cloned() else {
                        continue;
                    };
                    if stored.contains(&buyer) {
                        if again.is(400, ALREADY_HANDLED) {
                            round.retry_refused += 1;
                        } else {
                            self.problems.push(format!(
                                "round {index}: {buyer}'s booking is in the store, yet sending it again got {again:?}"
                            ));
                        }
                    } else if again.status == 200 {
                        round.retry_sold.insert(buyer);
                    } else if again.is(400, "Event is full") {
                        round.retry_full += 1;
                    } else if again.is(400, ALREADY_HANDLED) {
                        // Claimed before the kill, its writes lost with the process: it was
                        // never answered, so nothing answered is lost.
                        round.retry_refused += 1;
                    } else {
                        self.problems.push(format!(
                            "round {index}: {buyer}'s booking in flight, sent again, got {again:?}"
                        ));
                    }
                }
                (None, _) => {
                    if again.status == 200
                        || again.is(422, "Asked to fail")
                        || again.is(400, ALREADY_HANDLED)
                    {
                        round.retry_echo += 1;
                    } else {
                        self.problems.push(format!(
                            "round {index}: an echo in flight, sent again, got {again:?}"
                        ));
                    }
                }
            }
        }
    }

    async fn send_again(&self, worker: SocketAddr, exchange: &Exchange) -> Answer {
        assert!(
            now_ms() - exchange.created_at < REPLAY_WINDOW_MS,
            "the run is too slow: a replay would leave its 60 s window"
        );
        post(&self.http, worker, &exchange.path, exchange.body.clone())
            .await
            .map(|(answer, _, _)| answer)
            .unwrap_or_else(|e| Answer {
                status: 0,
                message: e.to_string(),
            })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_the_worker_loses_nothing_it_answered_and_sells_nothing_twice() {
    let started = Instant::now();
    let examples = built_examples().await;
    let dir = TempDir::new("kill-restart");
    let store = dir.0.join("worker.sqlite");
    let credentials = create_worker_account(&store).unwrap();
    let mut run = Run {
        examples,
        credentials,
        store,
        proxy: Proxy::start().await,
        http: reqwest::Client::new(),
        rng: Rng::from_env_or_clock(),
        kill_points: Vec::new(),
        problems: Vec::new(),
    };
    let mut kill_points = KILL_AFTER_BOOKINGS.to_vec();
    for i in (1..kill_points.len()).rev() {
        let j = run.rng.between(0, i as u64) as usize;
        kill_points.swap(i, j);
    }
    run.kill_points = kill_points;
    let load_started = Instant::now();
    let mut worker = WorkerProcess::start(&run.examples, &run.credentials, &run.store).unwrap();
    let mut rounds = Vec::new();
    let mut events = Vec::new();
    for index in 0..ROUNDS {
        let seeded = seed_event(
            &run.examples,
            &run.credentials,
            &run.store,
            &format!("Round {index}"),
            CAPACITY,
        )
        .unwrap();
        run.proxy.point_to(Some(worker.addr()));
        let mut round = run.load_and_kill(index, worker, &seeded).await;
        run.check_store(index, &seeded, &mut round);
        worker = WorkerProcess::start(&run.examples, &run.credentials, &run.store).unwrap();
        run.replay(index, worker.addr(), &mut round).await;
        println!(
            "round {index}: killed {} ms in, after {} bookings answered (+ up to {KILL_JITTER_MS} ms) — bookings: {} answered 200, {} \"Event is full\", \
             {} in flight ({} of them stored), {} sent after the kill; echoes: {} answered, {} in flight; \
             {}/{CAPACITY} reservations in the store; {} replays refused as already handled; \
             unanswered ones sent again: {} already handled, {} sold now, {} full, {} echoes answered",
            round.killed_at_ms,
            round.kill_after_bookings,
            round.sold.len(),
            round.full,
            round.in_flight.len(),
            round
                .stored
                .iter()
                .filter(|(_, a)| round.in_flight.contains(a))
                .count(),
            round.after_kill.len(),
            round.echo_answered,
            round.echo_in_flight,
            round.stored.len(),
            round.replays_refused,
            round.retry_refused,
            round.retry_sold.len(),
            round.retry_full,
            round.retry_echo,
        );
        rounds.push(round);
        events.push(seeded);
    }

    // Everything answered in any round, replayed once more (all inside the window).
    let mut final_replays = 0;
    for exchange in run.proxy.all_exchanges() {
        if exchange.answer.is_some() {
            let again = run.send_again(worker.addr(), &exchange).await;
            if again.is(400, ALREADY_HANDLED) {
                final_replays += 1;
            } else {
                run.problems.push(format!(
                    "a final replay of a request answered {:?} got {again:?}",
                    exchange.answer
                ));
            }
        }
    }
    let stderr = worker.stderr();
    let status = tokio::task::spawn_blocking(move || worker.terminate(Duration::from_secs(20)))
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "SIGTERM: a graceful stop ({status}); stderr:\n{stderr}"
    );

    // The store after everything: what each round stored, plus what the retries sold.
    for (index, (round, seeded)) in rounds.iter().zip(&events).enumerate() {
        let now: BTreeSet<CoID> = stored_reservations(&run.credentials, &run.store, &seeded.event)
            .into_iter()
            .map(|(_, account)| account)
            .collect();
        let expected: BTreeSet<CoID> = round
            .stored
            .iter()
            .map(|(_, a)| a.clone())
            .chain(round.retry_sold.iter().cloned())
            .collect();
        if now != expected || now.len() > CAPACITY as usize {
            run.problems.push(format!(
                "round {index}: at the end the store has the reservations of {now:?}, expected {expected:?}"
            ));
        }
    }

    let in_flight: usize = rounds
        .iter()
        .map(|r| r.in_flight.len() + r.echo_in_flight)
        .sum();
    let sold: usize = rounds.iter().map(|r| r.sold.len()).sum();
    println!(
        "{ROUNDS} kill points in {:.1} s ({:.1} s with the build): {sold} bookings answered 200, \
         {in_flight} requests in flight at a kill, {final_replays} final replays refused",
        load_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    assert!(
        run.problems.is_empty(),
        "{} problems:\n{}",
        run.problems.len(),
        run.problems.join("\n")
    );
    assert!(in_flight > 0, "no kill caught a request in flight");
    assert!(sold > 0, "no booking was answered before a kill");
}

/// SIGTERM: the worker stops accepting, answers every request already in flight (bookings
/// queued on their event's lock) and exits 0; every ticket it sold is in its store.
///
/// The bodies are signed before anything is sent, so that all of them are on the wire at
/// once; the signal goes when the first answers are back, while the rest wait on the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_the_worker_answers_what_is_in_flight_and_exits_0() {
    const IN_FLIGHT: usize = 24;
    let examples = built_examples().await;
    let dir = TempDir::new("sigterm");
    let store = dir.0.join("worker.sqlite");
    let credentials = create_worker_account(&store).unwrap();
    let seeded = seed_event(&examples, &credentials, &store, "Last call", 100).unwrap();
    let worker = WorkerProcess::start(&examples, &credentials, &store).unwrap();
    let base_url = format!("http://{}", worker.addr());
    let values = serde_json::Map::from_iter([(
        "event".to_owned(),
        Value::String(seeded.event.as_str().to_owned()),
    )]);
    let mut bodies = Vec::new();
    for i in 0..IN_FLIGHT {
        let buyer = party(
            &format!("Buyer {i}"),
            &base_url,
            worker.account(),
            &seeded.pieces,
        );
        let body = buyer
            .client
            .request_body(worker.account(), &values)
            .unwrap()
            .to_json()
            .to_string();
        bodies.push((buyer.account, Bytes::from(body)));
    }
    let http = reqwest::Client::new();
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut bookings = Vec::new();
    for (account, body) in bodies {
        let (http, answered, addr) = (http.clone(), answered_tx.clone(), worker.addr());
        bookings.push(tokio::spawn(async move {
            let result = post(&http, addr, BOOK, body).await;
            let _ = answered.send(());
            (account, result.map(|(answer, _, _)| answer))
        }));
    }
    // The first answers are out: the others are queued behind them on the event's lock.
    for _ in 0..3 {
        answered_rx.recv().await.unwrap();
    }
    let status = tokio::task::spawn_blocking(move || worker.terminate(Duration::from_secs(20)))
        .await
        .unwrap()
        .unwrap();
    let mut sold = BTreeSet::new();
    let mut failed = Vec::new();
    for booking in bookings {
        match booking.await.unwrap() {
            (account, Ok(answer)) if answer.status == 200 => {
                sold.insert(account);
            }
            (account, other) => failed.push(format!("{account}: {other:?}")),
        }
    }
    println!(
        "SIGTERM with {IN_FLIGHT} bookings in flight: {} answered 200, {} not; exit {status}",
        sold.len(),
        failed.len()
    );
    assert!(status.success(), "a graceful stop exits 0, not {status}");
    assert!(
        failed.is_empty(),
        "requests in flight were dropped: {failed:#?}"
    );
    let stored: BTreeSet<CoID> = stored_reservations(&credentials, &store, &seeded.event)
        .into_iter()
        .map(|(_, account)| account)
        .collect();
    assert_eq!(stored, sold, "the store holds exactly the tickets sold");
}
