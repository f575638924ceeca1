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

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use jazz_req::prelude::*;
use jazz_req::sync::{SyncClient, SyncOptions};
use jazz_req_examples::loadgen::procfs::StatFile;
use jazz_req_examples::loadgen::senders::{book_values, echo_values, texts, upload_envelopes};
use jazz_req_examples::loadgen::{Driver, Route, Senders};
use serde_json::{Map, json};

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
    /// Which route to drive: `echo` or `book`.
    #[arg(long, default_value_t = Route::Echo)]
    route: Route,
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
    watch: Vec<(String, StatFile)>,
}

/// `NAME=PID` or `NAME=PID/TID` as the name and the `/proc` file of its CPU times.
fn parse_watch(text: &str) -> Result<(String, StatFile), String> {
    let (name, target) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID or NAME=PID/TID, got {text:?}"))?;
    Ok((name.to_owned(), StatFile::parse(target)?))
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
    let senders = Senders::new(args.accounts, &worker, &sync).await?;
    let event = match (args.route, &args.event) {
        (Route::Echo, _) => None,
        (Route::Book, Some(id)) => Some(CoID::parse(id).map_err(|e| format!("--event: {e}"))?),
        (Route::Book, None) => Some(
            senders
                .make_event(&sync, args.warmup + args.requests)
                .await?,
        ),
    };

    let signing = Instant::now();
    let total = args.warmup + args.requests;
    let signed = senders.sign(0..total, |i| match &event {
        Some(event) => book_values(event),
        None => echo_values(i),
    })?;
    let sign_seconds = signing.elapsed().as_secs_f64();
    drop(senders);
    if args.upload_envelopes {
        upload_envelopes(&signed, &sync).await?;
    }
    sync.shutdown().await?;
    let mut bodies = texts(&signed);
    drop(signed);

    let driver = Driver::new(&args.base_url, args.route, args.in_flight)?;
    let timed = bodies.split_off(args.warmup.min(bodies.len()));
    driver.drive(bodies).await;
    let mut watched = args.watch.clone();
    watched.push(("load".to_owned(), StatFile::this_process()));
    let cpu_before: Vec<Option<f64>> = watched.iter().map(|(_, stat)| stat.cpu_seconds()).collect();
    let (summary, _) = driver.drive_timed(timed).await;
    let mut timed_cpu = Map::new();
    for ((name, stat), before) in watched.iter().zip(cpu_before) {
        if let (Some(before), Some(after)) = (before, stat.cpu_seconds()) {
            #[allow(clippy::cast_precision_loss)] // counts far below 2^53
            let per_request = (after - before) * 1000.0 / summary.requests.max(1) as f64;
            timed_cpu.insert(name.clone(), json!(per_request));
        }
    }

    let mut line = summary.to_json();
    line["label"] = json!(args.label);
    line["route"] = json!(args.route.name());
    line["inFlight"] = json!(args.in_flight);
    line["accounts"] = json!(args.accounts);
    line["signSeconds"] = json!(sign_seconds);
    line["uploadedEnvelopes"] = json!(args.upload_envelopes);
    line["timedCpuMsPerRequest"] = json!(timed_cpu);
    println!("{line}");
    if let Some(failure) = &summary.first_failure {
        eprintln!("load: e.g. {:?}: {}", failure.status, failure.detail);
    }
    Ok(summary.all_ok())
}
