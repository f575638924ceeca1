//! A load generator for the interop routes (issue 8): drives any worker of `POST /api/echo`
//! or `POST /api/book-event-ticket` over HTTP with a fixed number of requests in flight, and
//! prints requests/s, latency percentiles and the status counts as one JSON line.
//!
//! ```sh
//! cargo run --release --example load -- --sync-server ws://127.0.0.1:4200 \
//!   --base-url http://127.0.0.1:8080 --worker co_z… --route echo --requests 3000 --in-flight 32
//! ```
//!
//! Before the clock starts it makes `--accounts` new accounts (uploaded to the sync server, as
//! a Jazz app's accounts are), loads the worker's account from the server, and signs every
//! body (`--warmup` + `--requests` of them, spread over the accounts): what is timed is the
//! worker alone — receiving, verifying, handling, signing the response and, for a worker that
//! is a sync peer, waiting until the sync server has what it wrote. The response is checked
//! to be a success body (`{"type":"success",…}`) but not verified: that is the client's cost.
//!
//! A body is valid for 60 s from its signature: with many requests on a slow worker, sign
//! fewer (a run that outlasts the window gets 401s, and says so).
//!
//! For `--route book` without `--event`, an organiser account made here creates an event on
//! the sync server (everyone reads it, the worker writes it) with as many seats as requests,
//! so that every booking is answered 200; bookings of one event run one at a time on a
//! jazz-req worker (`serialize = event`).
//!
//! The JSON line: `{"label","route","requests","inFlight","accounts","seconds",
//! "requestsPerSecond","p50Ms","p90Ms","p99Ms","maxMs","statuses":{"200":n,…},
//! "transportErrors","signSeconds","uploadedEnvelopes","timedCpuMsPerRequest":{NAME:ms,…}}`
//! (a 200 whose body is not a success body counts as `"200-not-success"`). Exits with 1 when
//! an answer was not a 200 success.
//!
//! With `--upload-envelopes` every envelope is on the sync server before the clock starts,
//! as a jazz-tools client's node puts the envelope it sends there itself; without it the
//! envelopes first reach the server through the worker, which charges the sync server's
//! taking them in to the timed run.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use jazz_req::cojson::{ContentMessage, ResolveQuery};
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::request::SignedBody;
use jazz_req::sync::{SyncClient, SyncOptions};
use jazz_req_examples::event_tickets::{Event, Ticket};
use serde_json::{Map, Value, json};

/// Drives a worker's echo or booking route with pre-signed requests and reports throughput.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// The Jazz sync server that keeps the worker's account (and the event).
    #[arg(long, value_name = "URL")]
    sync_server: String,
    /// The worker's base URL (`http://host:port`).
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The worker's account (`co_z…`).
    #[arg(long, value_name = "ID")]
    worker: String,
    /// Which route to drive.
    #[arg(long, value_enum, default_value_t = RouteKind::Echo)]
    route: RouteKind,
    /// How many timed requests.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    requests: usize,
    /// How many requests are in flight at any time.
    #[arg(long, value_name = "N", default_value_t = 32)]
    in_flight: usize,
    /// How many sender accounts the requests are spread over.
    #[arg(long, value_name = "N", default_value_t = 64)]
    accounts: usize,
    /// Requests sent before the clock starts (connections, caches, the worker's JIT).
    #[arg(long, value_name = "N", default_value_t = 200)]
    warmup: usize,
    /// The event to book (default: a new one with a seat for every request).
    #[arg(long, value_name = "ID")]
    event: Option<String>,
    /// A name for the run, copied into the JSON line.
    #[arg(long, default_value = "")]
    label: String,
    /// Upload every request's envelope (and its group) to the sync server before the clock
    /// starts, as a jazz-tools client's node does with the envelope it sends: the timed run
    /// then leaves the sync server only what the worker adds to it.
    #[arg(long)]
    upload_envelopes: bool,
    /// A process whose CPU time over the timed requests goes into the JSON line
    /// (`timedCpuMsPerRequest`), as `NAME=PID`, e.g. `--watch worker=1234`, or one thread of
    /// it as `NAME=PID/TID` (`/PID` again for its main thread) (read from `/proc`: Linux
    /// only). Repeatable. The load generator's own CPU is always there, as `load`.
    #[arg(long = "watch", value_name = "NAME=PID[/TID]", value_parser = parse_watch)]
    watch: Vec<(String, String)>,
}

/// `NAME=PID` or `NAME=PID/TID` as the name and the `/proc` file of its CPU times.
fn parse_watch(text: &str) -> Result<(String, String), String> {
    let (name, target) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID or NAME=PID/TID, got {text:?}"))?;
    let number = |n: &str| n.parse::<u32>().map_err(|e| format!("{n:?}: {e}"));
    let stat = match target.split_once('/') {
        Some((pid, tid)) => format!("/proc/{}/task/{}/stat", number(pid)?, number(tid)?),
        None => format!("/proc/{}/stat", number(target)?),
    };
    Ok((name.to_owned(), stat))
}

/// The CPU time (user + system) in the `/proc` stat file `stat` (a process or a thread), in
/// seconds; `None` where `/proc` does not say.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    // After the command name in parentheses: utime is field 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

/// The route a run drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RouteKind {
    /// `POST /api/echo` with `{text, n, flag, note?}`.
    Echo,
    /// `POST /api/book-event-ticket` with `{event}`.
    Book,
}

impl RouteKind {
    fn path(self) -> &'static str {
        match self {
            Self::Echo => "/api/echo",
            Self::Book => "/api/book-event-ticket",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Echo => "echo",
            Self::Book => "book",
        }
    }
}

/// Why the run could not be made.
type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("load: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<bool, Failure> {
    if args.in_flight == 0 || args.accounts == 0 {
        return Err("--in-flight and --accounts must be at least 1".into());
    }
    let worker = CoID::parse(&args.worker).map_err(|e| format!("--worker: {e}"))?;
    let sync = SyncClient::connect(&args.sync_server, SyncOptions::default()).await?;
    let worker_content = sync
        .load(&worker)
        .await?
        .ok_or_else(|| format!("the sync server does not have the worker's account {worker}"))?;

    let clients = senders(args.accounts, &worker, &worker_content, &sync).await?;
    let event = match (args.route, &args.event) {
        (RouteKind::Echo, _) => None,
        (RouteKind::Book, Some(id)) => Some(CoID::parse(id).map_err(|e| format!("--event: {e}"))?),
        (RouteKind::Book, None) => {
            let seats = u32::try_from(args.warmup + args.requests)?;
            Some(make_event(&worker, &worker_content, &sync, seats).await?)
        }
    };

    let signing = Instant::now();
    let total = args.warmup + args.requests;
    let mut signed = Vec::with_capacity(total);
    for i in 0..total {
        let client = &clients[i % clients.len()];
        let values = match &event {
            Some(event) => book_values(event),
            None => echo_values(i),
        };
        signed.push(client.request_body(&worker, &values)?);
    }
    let sign_seconds = signing.elapsed().as_secs_f64();
    drop(clients);
    if args.upload_envelopes {
        upload_envelopes(&signed, &sync).await?;
    }
    sync.shutdown().await?;
    let mut bodies: Vec<String> = signed.iter().map(|b| b.to_json().to_string()).collect();
    drop(signed);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.in_flight)
        .build()?;
    let url = format!(
        "{}{}",
        args.base_url.trim_end_matches('/'),
        args.route.path()
    );
    let timed = bodies.split_off(args.warmup.min(bodies.len()));
    drive(&http, &url, bodies, args.in_flight).await;
    let mut watched = args.watch.clone();
    watched.push(("load".to_owned(), "/proc/self/stat".to_owned()));
    let cpu_before: Vec<Option<f64>> = watched.iter().map(|(_, stat)| cpu_seconds(stat)).collect();
    let started = Instant::now();
    let results = drive(&http, &url, timed, args.in_flight).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut timed_cpu = Map::new();
    for ((name, stat), before) in watched.iter().zip(cpu_before) {
        if let (Some(before), Some(after)) = (before, cpu_seconds(stat)) {
            #[allow(clippy::cast_precision_loss)] // counts far below 2^53
            let per_request = (after - before) * 1000.0 / results.len().max(1) as f64;
            timed_cpu.insert(name.clone(), json!(per_request));
        }
    }

    let mut latencies: Vec<Duration> = results.iter().map(|r| r.latency).collect();
    latencies.sort();
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )] // an index into a non-empty list
        let index = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut transport_errors = 0;
    for result in &results {
        match &result.status {
            Some(status) => *statuses.entry(status.clone()).or_default() += 1,
            None => transport_errors += 1,
        }
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^53
    let rate = results.len() as f64 / seconds;
    let line = json!({
        "label": args.label,
        "route": args.route.name(),
        "requests": results.len(),
        "inFlight": args.in_flight,
        "accounts": args.accounts,
        "seconds": seconds,
        "requestsPerSecond": rate,
        "p50Ms": at(0.50),
        "p90Ms": at(0.90),
        "p99Ms": at(0.99),
        "maxMs": at(1.0),
        "statuses": statuses,
        "transportErrors": transport_errors,
        "signSeconds": sign_seconds,
        "uploadedEnvelopes": args.upload_envelopes,
        "timedCpuMsPerRequest": timed_cpu,
    });
    println!("{line}");
    let all_ok = transport_errors == 0 && statuses.keys().all(|s| s == "200");
    if !all_ok && let Some(result) = results.iter().find(|r| r.status.as_deref() != Some("200")) {
        eprintln!("load: e.g. {:?}: {}", result.status, result.detail);
    }
    Ok(all_ok)
}

/// `accounts` new accounts, uploaded to the sync server, each a client that knows the worker.
async fn senders(
    accounts: usize,
    worker: &CoID,
    worker_content: &[ContentMessage],
    sync: &SyncClient,
) -> Result<Vec<RequestClient>, Failure> {
    let mut clients = Vec::with_capacity(accounts);
    let mut upload = Vec::new();
    for i in 0..accounts {
        let (mut node, account) =
            LocalNode::create_account(new_random_agent_secret()?, &format!("Load sender {i}"))?;
        upload.extend(account_content(&node, &account)?);
        for message in worker_content {
            node.import(message.clone())?;
        }
        clients.push(RequestClient::new(node).with_worker(worker.clone()));
    }
    sync.push(upload).await?;
    Ok(clients)
}

/// Pushes each body's envelope and what it brings but the accounts (uploaded already) to the
/// sync server, and waits until the server has them.
async fn upload_envelopes(bodies: &[SignedBody], sync: &SyncClient) -> Result<(), Failure> {
    const BODIES_PER_PUSH: usize = 256;
    for chunk in bodies.chunks(BODIES_PER_PUSH) {
        let mut content = Vec::new();
        for body in chunk {
            for piece in &body.content_pieces {
                let message = ContentMessage::from_json(piece)?;
                let is_account = message
                    .header
                    .as_ref()
                    .is_some_and(|h| h.account_agent().is_some());
                if !is_account {
                    content.push(message);
                }
            }
        }
        sync.push(content).await?;
    }
    Ok(())
}

/// An event on the sync server with `seats` seats, everyone a reader, the worker a writer.
async fn make_event(
    worker: &CoID,
    worker_content: &[ContentMessage],
    sync: &SyncClient,
    seats: u32,
) -> Result<CoID, Failure> {
    let (mut organiser, account) =
        LocalNode::create_account(new_random_agent_secret()?, "Load organiser")?;
    for message in worker_content {
        organiser.import(message.clone())?;
    }
    let event = organiser.atomically(|node| {
        let mut tx = Tx::new(node);
        let group = tx.create_group()?;
        tx.add_member(&group, Member::Everyone, Role::Reader)?;
        tx.add_member(&group, worker, Role::Writer)?;
        let reservations = tx.create_list(&group, Vec::<Ref<Ticket>>::new())?;
        tx.create(
            &group,
            Event {
                name: "Load night".into(),
                capacity: seats,
                reservations,
            },
        )
    })?;
    let mut content = account_content(&organiser, &account)?;
    let with_list = Event::resolve().reservations(|r| r).into_query();
    content.extend(organiser.export(event.id(), &with_list)?);
    sync.push(content).await?;
    Ok(event.id().clone())
}

/// The account and its profile, as `jazz-req account create --sync-server` uploads them.
fn account_content(node: &LocalNode, account: &CoID) -> Result<Vec<ContentMessage>, Failure> {
    let mut content = node.export(account, &ResolveQuery::Value)?;
    let profile = node
        .read(account)?
        .value
        .get("profile")
        .and_then(|p| p.as_str())
        .map(CoID::parse)
        .transpose()?;
    if let Some(profile) = profile {
        for message in node.export(&profile, &ResolveQuery::Value)? {
            if !content.iter().any(|m| m.id == message.id) {
                content.push(message);
            }
        }
    }
    Ok(content)
}

fn echo_values(i: usize) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert("text".into(), json!(format!("load {i} 🎷")));
    values.insert("n".into(), json!(i));
    values.insert("flag".into(), json!(i.is_multiple_of(2)));
    if i.is_multiple_of(3) {
        values.insert("note".into(), json!("a note"));
    }
    values
}

fn book_values(event: &CoID) -> Map<String, Value> {
    let mut values = Map::new();
    values.insert("event".into(), json!(event.as_str()));
    values
}

/// One answer.
struct Sent {
    /// The status (`"200-not-success"` for a 200 that is not a success body); `None` when
    /// the request failed at the transport level.
    status: Option<String>,
    latency: Duration,
    /// The start of the body, or the transport error.
    detail: String,
}

/// Sends every body with `in_flight` requests in flight (each task sends the next body as
/// soon as its previous answer is in).
async fn drive(
    http: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
    in_flight: usize,
) -> Vec<Sent> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let (http, url, bodies, next) =
            (http.clone(), url.to_owned(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    break;
                };
                sent.push(send(&http, &url, body.clone()).await);
            }
            sent
        }));
    }
    let mut all = Vec::with_capacity(bodies.len());
    for task in tasks {
        match task.await {
            Ok(sent) => all.extend(sent),
            Err(error) => all.push(Sent {
                status: None,
                latency: Duration::ZERO,
                detail: format!("a sending task failed: {error}"),
            }),
        }
    }
    all
}

async fn send(http: &reqwest::Client, url: &str, body: String) -> Sent {
    let started = Instant::now();
    let reply = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let outcome = match reply {
        Ok(reply) => {
            let status = reply.status().as_u16();
            match reply.bytes().await {
                Ok(bytes) => {
                    let success = bytes.starts_with(b"{\"type\":\"success\"");
                    let status = match (status, success) {
                        (200, false) => "200-not-success".to_owned(),
                        (status, _) => status.to_string(),
                    };
                    let detail = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]);
                    (Some(status), detail.into_owned())
                }
                Err(error) => (None, error.to_string()),
            }
        }
        Err(error) => (None, error.to_string()),
    };
    Sent {
        status: outcome.0,
        latency: started.elapsed(),
        detail: outcome.1,
    }
}
