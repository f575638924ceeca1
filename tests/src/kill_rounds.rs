//! Kill -9 under load, round by round (issue 9, item 5): what `tests/tests/kill_restart.rs`
//! (a worker on its store alone) and `kill_restart_sync.rs` (a worker that is a peer of a
//! sync server) share.
//!
//! Each round, concurrent buyers (fresh accounts, the generated `BookEventTicket::send`
//! stub) book a fresh event while echo clients keep `Echo::send` busy; the worker gets
//! SIGKILL once so many bookings were answered, plus a random pause
//! ([`KillRounds::load_and_kill`]). The test then reads the reservations where they must
//! be (the store, the sync server) and [`KillRounds::check_reservations`] holds them to the
//! promise: every booking answered 200 is there, nothing else but bookings in flight at the
//! kill, no buyer twice, never more than the capacity. After the restart,
//! [`KillRounds::replay`] sends every request again: one answered before the kill must be
//! refused with exactly [`ALREADY_HANDLED`], one in flight whose reservation was kept too;
//! others may run now.
//!
//! The clients talk to the worker through a recording [`Proxy`]: it sees each request's
//! exact body and whether the worker's whole answer came back, which is the truth
//! "answered" is judged by. The random choices are reproducible from the printed seed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jazz_req::prelude::*;
use jazz_req::request::error::JAZZ_REQUEST_ERROR_HEADER;
use jazz_req::schema::{LoadError, load_resolved, read_loaded};
use jazz_req_examples::echo::{Echo, Echoed, PLEASE_FAIL};
use jazz_req_examples::event_tickets::{BookEventTicket, Event};
use serde_json::Value;

use crate::sync_events::{Peer, SyncEventError};
use crate::worker_process::{Credentials, ProcessError, WorkerProcess};

/// The path of the booking route.
pub const BOOK: &str = "/api/book-event-ticket";
/// The path of the echo route.
pub const ECHO: &str = "/api/echo";
/// The only answer that proves a replay was caught ("Event is full" would hide a lost
/// claim).
pub const ALREADY_HANDLED: &str = "Request payload is already handled";
/// Requests are sent again only this far inside the worker's 60 s window.
pub const REPLAY_WINDOW_MS: f64 = 55_000.0;
/// How long a client may still wait for its answer after the kill.
const AFTER_KILL: Duration = Duration::from_secs(30);
/// How long a round waits for its kill point at the most.
const KILL_POINT_WAIT: Duration = Duration::from_secs(20);

/// What can stop a round (what it finds wrong is not an error: see
/// [`KillRounds::problems`]).
#[derive(Debug, thiserror::Error)]
pub enum KillRoundError {
    /// The recording proxy could not listen.
    #[error("the recording proxy could not listen on 127.0.0.1")]
    Listen(#[source] std::io::Error),
    /// A client's account could not be made.
    #[error("could not make a client's account")]
    Account(#[from] SyncEventError),
    /// A client could not import the pieces or load the event.
    #[error("a client could not import the pieces or load the event")]
    Client(#[source] SendError),
    /// A client task panicked.
    #[error("a client task failed")]
    Task(#[source] tokio::task::JoinError),
    /// SIGKILL did not end the worker with a signal.
    #[error("the worker, sent SIGKILL, ended with {0}")]
    Survived(ExitStatus),
    /// The worker could not be killed, started or stopped.
    #[error(transparent)]
    Worker(#[from] ProcessError),
    /// A client still waited for its answer long after the kill.
    #[error("{0} still waits {AFTER_KILL:?} after the kill")]
    Stuck(&'static str),
    /// A request would be sent again outside its 60 s window: the run is too slow.
    #[error(
        "the run is too slow: a request made {age_ms:.0} ms ago would be replayed outside its 60 s window"
    )]
    TooSlow {
        /// How old the request is.
        age_ms: f64,
    },
    /// A temporary directory could not be made.
    #[error("could not create {}", .0.display())]
    TempDir(PathBuf, #[source] std::io::Error),
    /// The worker's store could not be opened or read.
    #[error("reading the worker's store")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

// ---------------------------------------------------------------------------------------
// The recording proxy

/// One request as the proxy saw it, and the worker's whole answer if it came.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// The round it was sent in.
    pub round: usize,
    /// Its route's path.
    pub path: String,
    /// The body's `signerID`.
    pub signer: String,
    /// The body's `createdAt`.
    pub created_at: f64,
    /// The body, byte for byte.
    pub body: Bytes,
    /// Whether it was forwarded to a worker (not: sent after the kill).
    pub forwarded: bool,
    /// The worker's answer, if all of it came back.
    pub answer: Option<Answer>,
}

/// A status and the `JazzRequestError` message (empty for a success).
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The HTTP status (0: no answer, `message` says why).
    pub status: u16,
    /// The error's message.
    pub message: String,
}

impl Answer {
    /// Whether it is `status` with `message`.
    pub fn is(&self, status: u16, message: &str) -> bool {
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

impl ProxyState {
    fn target(&self) -> Option<SocketAddr> {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Vec<Exchange>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An HTTP proxy in front of the worker that records every exchange.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

impl Proxy {
    /// Starts it on a free port of 127.0.0.1 (on the current tokio runtime), pointing
    /// nowhere (every request gets a 502).
    ///
    /// # Errors
    /// [`KillRoundError::Listen`].
    pub async fn start() -> Result<Self, KillRoundError> {
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(KillRoundError::Listen)?;
        let addr = listener.local_addr().map_err(KillRoundError::Listen)?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, state })
    }

    /// Where the clients send their requests.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forwards from now on to `worker` (`None`: answers 502, as to a dead worker).
    pub fn point_to(&self, worker: Option<SocketAddr>) {
        *self
            .state
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = worker;
    }

    /// The exchanges of round `round`, in the order their answers came.
    pub fn exchanges(&self, round: usize) -> Vec<Exchange> {
        let log = self.state.log();
        log.iter().filter(|e| e.round == round).cloned().collect()
    }

    /// Every exchange so far.
    pub fn all_exchanges(&self) -> Vec<Exchange> {
        self.state.log().clone()
    }

    fn start_round(&self, round: usize) {
        self.state.round.store(round, Ordering::SeqCst);
        self.state.bookings_answered.store(0, Ordering::SeqCst);
    }

    fn bookings_answered(&self) -> usize {
        self.state.bookings_answered.load(Ordering::SeqCst)
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
    let target = state.target();
    let answered = match target {
        Some(target) => post(&state.http, target, &path, body.clone()).await.ok(),
        None => None,
    };
    if answered.is_some() && path == BOOK {
        state.bookings_answered.fetch_add(1, Ordering::SeqCst);
    }
    state.log().push(Exchange {
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
            *response.status_mut() =
                http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            if is_error {
                response.headers_mut().insert(
                    JAZZ_REQUEST_ERROR_HEADER,
                    http::HeaderValue::from_static("true"),
                );
            }
            response
        }
        None => http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// POSTs `body` to the worker; the answer, whether it is a `JazzRequestError`, its bytes.
///
/// # Errors
/// When the request or the answer is cut (e.g. the worker died).
pub async fn post(
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
    let is_error = response.headers().contains_key(JAZZ_REQUEST_ERROR_HEADER);
    let bytes = response.bytes().await?;
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((Answer { status, message }, is_error, bytes))
}

// ---------------------------------------------------------------------------------------
// Clients, randomness, files

/// A fresh account's client, holding the worker's account and the event.
pub struct Party {
    /// Its client (base URL and worker set).
    pub client: RequestClient,
    /// Its account.
    pub account: CoID,
    /// Its agent secret (to log in again on a fresh node).
    pub secret: AgentSecret,
    /// Its signer id, what its bodies name.
    pub signer: String,
}

/// A fresh account called `name`, sending to `worker` at `base_url`, with `pieces` imported.
///
/// # Errors
/// [`KillRoundError::Account`], [`KillRoundError::Client`].
pub fn party(
    name: &str,
    base_url: &str,
    worker: &CoID,
    pieces: &[Value],
) -> Result<Party, KillRoundError> {
    let Peer {
        node,
        account,
        secret,
    } = Peer::fresh(name)?;
    let signer = secret.agent_id().signer.to_string();
    let client = RequestClient::new(node)
        .with_base_url(base_url)
        .with_worker(worker.clone());
    client
        .import_pieces(pieces)
        .map_err(|e| KillRoundError::Client(e.into()))?;
    Ok(Party {
        client,
        account,
        secret,
        signer,
    })
}

/// Random choices, reproducible from the printed seed (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// Seeded from the variable `var` if set (a run's printed seed), else from the clock;
    /// prints `var=seed`.
    pub fn from_env_or_clock(var: &str) -> Self {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        println!("{var}={seed}");
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number from `low` to `high`, both included.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// `items` in a random order (Fisher–Yates).
    pub fn shuffled<T: Clone>(&mut self, items: &[T]) -> Vec<T> {
        let mut items = items.to_vec();
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.between(0, i as u64)).unwrap_or(i);
            items.swap(i, j);
        }
        items
    }
}

/// A fresh directory in the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// `jazz-req-NAME-PID-N`.
    ///
    /// # Errors
    /// [`KillRoundError::TempDir`].
    pub fn new(name: &str) -> Result<Self, KillRoundError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "jazz-req-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| KillRoundError::TempDir(dir.clone(), e))?;
        Ok(Self(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A leftover directory in the temporary directory is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Now, in ms since the epoch (what `createdAt` counts).
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The reservations of `event` in the worker's store, read directly while no worker runs on
/// it: (ticket, its account), in list order; `None` when the store does not hold the event,
/// or not even the worker's account (a worker of a sync server may not have stored them yet).
///
/// # Errors
/// [`KillRoundError::Store`] when the store does not open or a value does not read.
pub fn stored_reservations(
    credentials: &Credentials,
    store: &Path,
    event: &CoID,
) -> Result<Option<Vec<(CoID, CoID)>>, KillRoundError> {
    let store_error = |e: Box<dyn std::error::Error + Send + Sync>| KillRoundError::Store(e);
    let options = WorkerOptions::new(
        credentials.account.clone(),
        credentials.secret.clone(),
        store,
    );
    let mut node = match options.open_node() {
        Ok(node) => node,
        // Killed before it stored anything, a worker of a sync server stored not even its
        // account (it loaded it from the server).
        Err(WorkerStartError::AccountNotStored(_)) => return Ok(None),
        Err(e) => return Err(store_error(e.into())),
    };
    let query = Event::resolve()
        .reservations(|r| r.each(|t| t))
        .into_query();
    match load_resolved(&mut node, event, &query) {
        Ok(()) => {}
        Err(LoadError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(store_error(e.into())),
    }
    let event = read_loaded::<Event>(&node, event, &query).map_err(|e| store_error(e.into()))?;
    let mut reservations = Vec::new();
    for ticket in event
        .reservations
        .items()
        .map_err(|e| store_error(e.into()))?
    {
        let account = ticket
            .get()
            .map_err(|e| store_error(e.into()))?
            .account
            .id()
            .clone();
        reservations.push((ticket.id().clone(), account));
    }
    Ok(Some(reservations))
}

// ---------------------------------------------------------------------------------------
// One round: load, kill, check, restart, replay

/// The load of the kill tests' rounds: 16 buyers (over 300 ms) for 6 seats, 4 echo
/// clients, the kill up to 40 ms after its point.
pub const LOAD: Load = Load {
    capacity: 6,
    buyers: 16,
    echoers: 4,
    buyer_spread_ms: 300,
    kill_jitter_ms: 40,
};

/// How each round loads the worker.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Seats of each round's event.
    pub capacity: u32,
    /// Buyers per round (each a fresh account, one booking each).
    pub buyers: usize,
    /// Clients sending echo requests one after another until the kill.
    pub echoers: usize,
    /// Buyers start at random over this many ms.
    pub buyer_spread_ms: u64,
    /// The worker is killed a random pause of up to this many ms after its kill point.
    pub kill_jitter_ms: u64,
}

/// What a round found.
#[derive(Default)]
pub struct Round {
    /// Bookings answered when the kill was decided.
    pub kill_after_bookings: usize,
    /// When the kill came, from the round's start.
    pub killed_at_ms: u128,
    /// Every client's account, by its signer id (what a body names).
    pub by_signer: BTreeMap<String, CoID>,
    /// Every buyer's agent secret, by account (to read its ticket as its owner).
    pub buyer_secrets: BTreeMap<CoID, AgentSecret>,
    /// Buyers answered 200, with their ticket.
    pub sold: BTreeMap<CoID, CoID>,
    /// Buyers answered "Event is full".
    pub full: usize,
    /// Buyers whose booking was forwarded to the worker and got no answer.
    pub in_flight: BTreeSet<CoID>,
    /// Buyers whose booking came after the kill (it reached no worker).
    pub after_kill: BTreeSet<CoID>,
    /// The reservations read after the kill (ticket, account), where the test reads them.
    pub reservations: Vec<(CoID, CoID)>,
    /// Echo requests answered.
    pub echo_answered: usize,
    /// Echo requests forwarded and not answered.
    pub echo_in_flight: usize,
    /// Requests answered before the kill, refused as already handled after the restart.
    pub replays_refused: usize,
    /// Requests in flight at the kill, refused as already handled when sent again.
    pub retry_refused: usize,
    /// Buyers whose booking in flight, sent again, was sold now.
    pub retry_sold: BTreeSet<CoID>,
    /// Bookings in flight that, sent again, found the event full.
    pub retry_full: usize,
    /// Echo requests in flight, sent again and answered.
    pub retry_echo: usize,
}

impl Round {
    /// One line for the log: the kill point and every count.
    pub fn summary(&self, index: usize, load: &Load, place: &str) -> String {
        format!(
            "round {index}: killed {} ms in, after {} bookings answered (+ up to {} ms) — bookings: {} answered 200, {} \"Event is full\", \
             {} in flight ({} of them kept), {} sent after the kill; echoes: {} answered, {} in flight; \
             {}/{} reservations {place}; {} replays refused as already handled; \
             unanswered ones sent again: {} already handled, {} sold now, {} full, {} echoes answered",
            self.killed_at_ms,
            self.kill_after_bookings,
            load.kill_jitter_ms,
            self.sold.len(),
            self.full,
            self.in_flight.len(),
            self.reservations
                .iter()
                .filter(|(_, a)| self.in_flight.contains(a))
                .count(),
            self.after_kill.len(),
            self.echo_answered,
            self.echo_in_flight,
            self.reservations.len(),
            load.capacity,
            self.replays_refused,
            self.retry_refused,
            self.retry_sold.len(),
            self.retry_full,
            self.retry_echo,
        )
    }

    /// The accounts of its reservations.
    pub fn reserved_by(&self) -> BTreeSet<CoID> {
        self.reservations.iter().map(|(_, a)| a.clone()).collect()
    }
}

/// What may be found at the end of a run besides what a round kept and what its retries
/// sold ([`KillRounds::check_at_the_end`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Besides {
    /// Nothing: the place is where the worker keeps everything (its store).
    Nothing,
    /// Bookings in flight at the kill, kept in the store but not pushed at the kill, which
    /// the restarted worker may push later (the sync server).
    InFlight,
}

/// The totals over all rounds.
#[derive(Debug, Default)]
pub struct Totals {
    /// Rounds (kill points).
    pub rounds: usize,
    /// Bookings answered 200 before a kill.
    pub sold: usize,
    /// Requests (bookings and echoes) in flight at a kill.
    pub in_flight: usize,
    /// Reservations read after the kills.
    pub reservations: usize,
    /// Replays after a restart refused as already handled.
    pub replays_refused: usize,
}

impl Totals {
    /// Sums `rounds`.
    pub fn of<'a>(rounds: impl IntoIterator<Item = &'a Round>) -> Self {
        rounds.into_iter().fold(Self::default(), |sum, r| Self {
            rounds: sum.rounds + 1,
            sold: sum.sold + r.sold.len(),
            in_flight: sum.in_flight + r.in_flight.len() + r.echo_in_flight,
            reservations: sum.reservations + r.reservations.len(),
            replays_refused: sum.replays_refused + r.replays_refused + r.retry_refused,
        })
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kill points: {} bookings answered 200, {} requests in flight at a kill, \
             {} reservations after the kills, {} requests sent again after a restart refused as already handled",
            self.rounds, self.sold, self.in_flight, self.reservations, self.replays_refused
        )
    }
}

/// The rounds of one run: the proxy, the random choices, and what the checks found wrong.
pub struct KillRounds {
    /// How each round loads the worker.
    pub load: Load,
    proxy: Proxy,
    http: reqwest::Client,
    rng: Rng,
    /// The kill point of each round, in a random order.
    kill_points: Vec<usize>,
    /// What the checks found wrong, in words (a test passes with none).
    pub problems: Vec<String>,
}

impl KillRounds {
    /// A run of `kill_points.len()` rounds, one at each kill point (the worker is killed once
    /// that many bookings were answered in the round), in an order drawn from the seed in
    /// variable `seed_var` (or the clock; printed).
    ///
    /// # Errors
    /// [`KillRoundError::Listen`].
    pub async fn new(
        load: Load,
        kill_points: &[usize],
        seed_var: &str,
    ) -> Result<Self, KillRoundError> {
        let mut rng = Rng::from_env_or_clock(seed_var);
        Ok(Self {
            load,
            proxy: Proxy::start().await?,
            http: reqwest::Client::new(),
            kill_points: rng.shuffled(kill_points),
            rng,
            problems: Vec::new(),
        })
    }

    /// The run's verdict given its `totals`: every problem found, and whether the kills
    /// caught requests in flight and came after answered bookings (else the run tested
    /// little); `Err` lists what is wrong.
    ///
    /// # Errors
    /// The problems, one a line.
    pub fn verdict(&self, totals: &Totals) -> Result<(), String> {
        let mut wrong = self.problems.clone();
        if totals.in_flight == 0 {
            wrong.push("no kill caught a request in flight".to_owned());
        }
        if totals.sold == 0 {
            wrong.push("no booking was answered before a kill".to_owned());
        }
        match wrong.len() {
            0 => Ok(()),
            n => Err(format!("{n} problems:\n{}", wrong.join("\n"))),
        }
    }

    /// How many rounds.
    pub fn rounds(&self) -> usize {
        self.kill_points.len()
    }

    /// The proxy the clients talk through.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// Runs the load of round `index` against `worker` (booking `event`; every client
    /// imports `pieces`: the worker's account and the event with its reservations) and kills
    /// it at the round's kill point; sorts what the proxy saw.
    ///
    /// # Errors
    /// Those of [`party`]; [`KillRoundError::Worker`], [`KillRoundError::Survived`] when the
    /// kill fails; [`KillRoundError::Task`], [`KillRoundError::Stuck`] when a client fails.
    pub async fn load_and_kill(
        &mut self,
        index: usize,
        worker: WorkerProcess,
        event: &CoID,
        pieces: &[Value],
    ) -> Result<Round, KillRoundError> {
        let base_url = format!("http://{}", self.proxy.addr);
        let account = worker.account().clone();
        let named = |role: &str, i: usize| format!("{role} {index}.{i}");
        let buyers: Vec<Party> = (0..self.load.buyers)
            .map(|i| party(&named("Buyer", i), &base_url, &account, pieces))
            .collect::<Result<_, _>>()?;
        let echoers: Vec<Party> = (0..self.load.echoers)
            .map(|i| party(&named("Echo", i), &base_url, &account, pieces))
            .collect::<Result<_, _>>()?;
        let by_signer: BTreeMap<String, CoID> = buyers
            .iter()
            .chain(&echoers)
            .map(|p| (p.signer.clone(), p.account.clone()))
            .collect();
        let buyer_secrets = buyers
            .iter()
            .map(|p| (p.account.clone(), p.secret.clone()))
            .collect();
        self.proxy.point_to(Some(worker.addr()));
        self.proxy.start_round(index);
        let kill_after = self.kill_points.get(index).copied().unwrap_or_default();
        let jitter = Duration::from_millis(self.rng.between(0, self.load.kill_jitter_ms));
        let started = Instant::now();

        let mut bookings = Vec::new();
        for buyer in buyers {
            let delay = Duration::from_millis(self.rng.between(0, self.load.buyer_spread_ms));
            let event = event.clone();
            bookings.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let event = buyer
                    .client
                    .load::<Event>(&event, Event::resolve().reservations(|r| r))
                    .map_err(|e| KillRoundError::Client(e.into()))?;
                let result = BookEventTicket::send(&buyer.client, event)
                    .await
                    .map(|booked| booked.ticket.id().clone());
                Ok::<_, KillRoundError>((buyer.account, result))
            }));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let echoes: Vec<_> = echoers
            .into_iter()
            .enumerate()
            .map(|(e, echoer)| tokio::spawn(echo_until(stop.clone(), e, echoer)))
            .collect();

        while self.proxy.bookings_answered() < kill_after && started.elapsed() < KILL_POINT_WAIT {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(jitter).await;
        let killed_at = started.elapsed();
        let status = tokio::task::spawn_blocking(move || worker.kill())
            .await
            .map_err(KillRoundError::Task)??;
        if status.success() || status.code().is_some() {
            return Err(KillRoundError::Survived(status));
        }
        stop.store(true, Ordering::SeqCst);
        self.proxy.point_to(None);

        let mut round = Round {
            kill_after_bookings: kill_after,
            killed_at_ms: killed_at.as_millis(),
            by_signer,
            buyer_secrets,
            ..Round::default()
        };
        let mut stub_sold = BTreeMap::new();
        for booking in bookings {
            let (account, result) = tokio::time::timeout(AFTER_KILL, booking)
                .await
                .map_err(|_| KillRoundError::Stuck("a booking"))?
                .map_err(KillRoundError::Task)??;
            if let Ok(ticket) = result {
                stub_sold.insert(account, ticket);
            }
        }
        for echo in echoes {
            let wrong = tokio::time::timeout(AFTER_KILL, echo)
                .await
                .map_err(|_| KillRoundError::Stuck("an echo client"))?
                .map_err(KillRoundError::Task)?;
            self.problems.extend(wrong);
        }
        self.sort_exchanges(index, &mut round, &stub_sold);
        Ok(round)
    }

    /// Sorts what the worker answered in round `index`, by the proxy's log.
    fn sort_exchanges(
        &mut self,
        index: usize,
        round: &mut Round,
        stub_sold: &BTreeMap<CoID, CoID>,
    ) {
        let mut booked_by = BTreeSet::new();
        for exchange in self.proxy.exchanges(index) {
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
    }

    /// Holds `reservations` ((ticket, account), read `place`, e.g. "in the store") to the
    /// promise, as of the kill of round `index`: every ticket sold is there, no other but
    /// those of requests in flight; no buyer twice; never more than the capacity.
    pub fn check_reservations(
        &mut self,
        index: usize,
        place: &str,
        round: &Round,
        reservations: &[(CoID, CoID)],
    ) {
        let held: BTreeSet<(CoID, CoID)> = reservations
            .iter()
            .map(|(ticket, account)| (account.clone(), ticket.clone()))
            .collect();
        for (account, ticket) in &round.sold {
            if !held.contains(&(account.clone(), ticket.clone())) {
                self.problems.push(format!(
                    "round {index}: LOST — ticket {ticket} of {account} was answered 200 but is not {place}"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (ticket, account) in reservations {
            if !seen.insert(account.clone()) {
                self.problems.push(format!(
                    "round {index}: {account} has two reservations {place}"
                ));
            }
            let answered = round.sold.get(account) == Some(ticket);
            if !answered && !round.in_flight.contains(account) {
                self.problems.push(format!(
                    "round {index}: EXTRA — reservation {ticket} of {account} {place}, who was neither answered 200 nor in flight"
                ));
            }
        }
        if reservations.len() > self.load.capacity as usize {
            self.problems.push(format!(
                "round {index}: {} reservations {place} for {} seats",
                reservations.len(),
                self.load.capacity
            ));
        }
    }

    /// At the end of the run: `now` ((ticket, account), read `place`) must hold the
    /// reservations round `index` kept through its kill and those its retries sold; besides
    /// them, `besides` says what may be there; no buyer twice, never more than the capacity.
    pub fn check_at_the_end(
        &mut self,
        index: usize,
        place: &str,
        round: &Round,
        now: &[(CoID, CoID)],
        besides: Besides,
    ) {
        let held: BTreeSet<CoID> = now.iter().map(|(_, account)| account.clone()).collect();
        let must: BTreeSet<CoID> = round
            .reserved_by()
            .into_iter()
            .chain(round.retry_sold.iter().cloned())
            .collect();
        let may: BTreeSet<CoID> = match besides {
            Besides::Nothing => must.clone(),
            Besides::InFlight => must.union(&round.in_flight).cloned().collect(),
        };
        if !must.is_subset(&held)
            || !held.is_subset(&may)
            || held.len() != now.len()
            || now.len() > self.load.capacity as usize
        {
            self.problems.push(format!(
                "round {index}: at the end, the reservations {place} are {now:?}; there must be those of {must:?} and may be those of {may:?}, at most {}, one each",
                self.load.capacity
            ));
        }
    }

    /// After the restart (the worker at `worker`): replays what was answered in round
    /// `index`, sends again what was in flight. `kept`: the buyers whose reservation was
    /// kept through the kill (a booking of theirs must be refused as already handled).
    ///
    /// # Errors
    /// [`KillRoundError::TooSlow`].
    pub async fn replay(
        &mut self,
        index: usize,
        worker: SocketAddr,
        round: &mut Round,
        kept: &BTreeSet<CoID>,
    ) -> Result<(), KillRoundError> {
        for exchange in self.proxy.exchanges(index) {
            let again = self.send_again(worker, &exchange).await?;
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
                    if kept.contains(&buyer) {
                        if again.is(400, ALREADY_HANDLED) {
                            round.retry_refused += 1;
                        } else {
                            self.problems.push(format!(
                                "round {index}: {buyer}'s booking was kept, yet sending it again got {again:?}"
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
        Ok(())
    }

    /// The end of a run: replays once more every request answered in any round to
    /// `worker` (all must still be inside their window: each must be refused as already
    /// handled), then stops it with SIGTERM, waiting up to `grace`; a stop that is not
    /// graceful (exit 0) is a problem. Returns how many final replays were refused.
    ///
    /// # Errors
    /// [`KillRoundError::TooSlow`]; [`KillRoundError::Worker`] when the worker cannot be
    /// signalled or still runs after `grace`.
    pub async fn replay_all_and_stop(
        &mut self,
        worker: WorkerProcess,
        grace: Duration,
    ) -> Result<usize, KillRoundError> {
        let mut refused = 0;
        for exchange in self.proxy.all_exchanges() {
            if exchange.answer.is_some() {
                let again = self.send_again(worker.addr(), &exchange).await?;
                if again.is(400, ALREADY_HANDLED) {
                    refused += 1;
                } else {
                    self.problems.push(format!(
                        "a final replay of a request answered {:?} got {again:?}",
                        exchange.answer
                    ));
                }
            }
        }
        let stderr = worker.stderr();
        let status = tokio::task::spawn_blocking(move || worker.terminate(grace))
            .await
            .map_err(KillRoundError::Task)??;
        if !status.success() {
            self.problems.push(format!(
                "SIGTERM: not a graceful stop ({status}); stderr:\n{stderr}"
            ));
        }
        Ok(refused)
    }

    async fn send_again(
        &self,
        worker: SocketAddr,
        exchange: &Exchange,
    ) -> Result<Answer, KillRoundError> {
        let age_ms = now_ms() - exchange.created_at;
        if age_ms >= REPLAY_WINDOW_MS {
            return Err(KillRoundError::TooSlow { age_ms });
        }
        Ok(
            post(&self.http, worker, &exchange.path, exchange.body.clone())
                .await
                .map(|(answer, _, _)| answer)
                .unwrap_or_else(|e| Answer {
                    status: 0,
                    message: e.to_string(),
                }),
        )
    }
}

/// Echo client `e`: sends echo requests one after another until `stop` (or the proxy's
/// 502, the worker gone); returns what came back wrong.
async fn echo_until(stop: Arc<AtomicBool>, e: usize, echoer: Party) -> Vec<String> {
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
            Err(SendError::Request(error)) if error.code == 422 && sent.text == PLEASE_FAIL => {}
            // The proxy's 502: the worker is gone.
            Err(SendError::Request(error)) if error.code == 502 => break,
            Err(other) => wrong.push(format!("echo {sent:?}: {other}")),
        }
    }
    wrong
}
