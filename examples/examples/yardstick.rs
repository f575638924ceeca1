//! The yardstick (issue 16): jazz-req and jazz-tools 0.20.19 workers side by side, through
//! one real Jazz sync server, on the two interop routes, in one run.
//!
//! ```sh
//! cargo run --release --example yardstick -- --sizes 100,1600,10000 --timed 300 --runs 1
//! ```
//!
//! It builds the `interop_worker` example itself (`cargo build --release`, a no-op when it is
//! up to date; `--interop-worker PATH` uses that binary instead), runs `npm ci` in `tests/js`
//! when its `node_modules` lacks jazz-tools, and needs `node` (20+) and Linux (`/proc`).
//! Started, each on `127.0.0.1` and stopped at the end (or on ctrl-c):
//!
//! - one in-memory sync server, `node tests/js/sync-server.mjs` (cojson 0.20.19, as
//!   `jazz-run sync --in-memory`);
//! - **jazz-req**: `interop_worker --sync-server … --store <tmp>/jazz-req.sqlite`, on a new
//!   account uploaded to the sync server;
//! - **jazz-tools (N-API)**: `node tests/js/interop-sync-worker.mjs` with `"crypto":"napi"`:
//!   `startWorker` on cojson's N-API crypto (`NapiCrypto`, what a Node server should use),
//!   the seed's handlers behind `route.handle()` and Node's HTTP server;
//! - with `--wasm`, also **jazz-tools (WebAssembly)**: the same on `startWorker`'s default
//!   crypto.
//!
//! Each worker is warmed up first (`--warmup` echoes and as many bookings of a throwaway
//! event). Then, `--runs` times, each measurement is made on every worker in turn (jazz-req,
//! jazz-tools, jazz-req, jazz-tools…, so that whatever else the machine does falls on both):
//!
//! - `echo`: `--echo` echoes (`POST /api/echo`);
//! - `book @ N`, for each N of `--sizes`: a fresh event with N seats (made on the sync server
//!   by an organiser account, the worker a writer of it); N − k bookings fill it untimed,
//!   then the last k = min(`--timed`, N) bookings are timed. Every booking must be
//!   answered 200.
//!
//! Requests come from `--accounts` new sender accounts per measurement, `--in-flight` at a
//! time. A body is valid for 60 s from its signature, so bodies are signed in chunks, each
//! sized to take about 20 s at the rate of the chunk before (the first: `--fill-chunk`);
//! the time spent signing is left out of req/s. A timed window runs from its first request until the worker and
//! the sync server are idle again after its last answer (CPU below 10 % of a core over
//! 200 ms, at most 5 s after it), so that work a request leaves for later counts too.
//!
//! Columns of the table (the median over the runs; a CPU cell with several runs adds their
//! range):
//!
//! - `worker CPU ms/req`: the worker process's CPU time (user + system, `/proc/PID/stat`)
//!   over the timed window, divided by the timed requests;
//! - `× jazz-req`: that figure over jazz-req's for the same measurement;
//! - `sync server CPU ms/req`: the same for the sync server process (all its threads);
//! - `req/s`: timed requests over the wall-clock time until the last answer;
//! - `p50 ms`, `p99 ms`: latency percentiles, from sending a request to the end of its answer;
//! - `RSS after`: the worker's resident memory (`VmRSS`) after the window, in MB (the
//!   workers live through the whole run, so it includes every earlier measurement);
//! - `RSS growth`: for `book @ N` with N > `--rss-from` (1,000), how much the worker's RSS
//!   grew from the moment the event had `--rss-from` reservations to the moment it had N;
//! - `200s`: the timed answers that were a 200 success, of all timed.
//!
//! The table's heading names the commit (with `+dirty` when the work tree differs from it),
//! the date, the cores and the load average before and after (the load generator, the sync
//! server and the worker share the machine; the JSON line has the load generator's own CPU
//! per request, signing of the window's later chunks included, as `loadCpuMsPerRequest`).
//! After the table comes one JSON line,
//! `{"yardstick":{commit, dirty, date, jazzTools, cores, loadAverageBefore,
//! loadAverageAfter, options}, "rows":[{measurement, worker, run, timed, workerCpuMsPerRequest,
//! syncServerCpuMsPerRequest, loadCpuMsPerRequest, requestsPerSecond, p50Ms, p90Ms, p99Ms,
//! maxMs, workerRssKb, rssGrowthKb, statuses, …}, …]}`, one row per run. Progress goes to
//! stderr. Exits with 1 when a measurement failed or an answer was not a 200 success.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use jazz_req::prelude::*;
use jazz_req::sync::{SyncClient, SyncOptions};
use jazz_req_examples::loadgen::process::{Spawned, ensure_npm_installed, js_dir, node_script};
use jazz_req_examples::loadgen::procfs::{StatFile, load_average, rss_kb};
use jazz_req_examples::loadgen::senders::{account_on_server, book_values, echo_values, texts};
use jazz_req_examples::loadgen::{Driver, Route, Senders, Sent, Summary};
use serde_json::{Map, Value, json};

/// Runs jazz-req and jazz-tools workers side by side through one sync server and prints one
/// table of CPU per request, throughput, latency and memory.
#[derive(Parser, Debug, Clone)]
#[command(about)]
struct Args {
    /// The sizes of the events booked (reservations when the timed bookings end).
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1600, 10_000])]
    sizes: Vec<usize>,
    /// How many bookings of each event are timed (the last ones; at most its size).
    #[arg(long, value_name = "K", default_value_t = 300)]
    timed: usize,
    /// How many echoes are timed.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    echo: usize,
    /// How many times each measurement is made on each worker.
    #[arg(long, value_name = "R", default_value_t = 1)]
    runs: usize,
    /// Measure one side only.
    #[arg(long, value_enum)]
    only: Option<Side>,
    /// Also run jazz-tools on its WebAssembly crypto (`startWorker`'s default).
    #[arg(long)]
    wasm: bool,
    /// How many requests are in flight at any time.
    #[arg(long, value_name = "N", default_value_t = 32)]
    in_flight: usize,
    /// How many sender accounts each measurement's requests are spread over.
    #[arg(long, value_name = "N", default_value_t = 64)]
    accounts: usize,
    /// Echoes, and bookings, each worker gets before any measurement.
    #[arg(long, value_name = "N", default_value_t = 200)]
    warmup: usize,
    /// How many requests are signed and sent at a time until the worker's rate is known.
    #[arg(long, value_name = "N", default_value_t = 500)]
    fill_chunk: usize,
    /// The reservations from which a worker's RSS growth is measured.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    rss_from: usize,
    /// The `interop_worker` binary to run (default: `cargo build --release` it).
    #[arg(long, value_name = "PATH")]
    interop_worker: Option<PathBuf>,
}

/// One side of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Side {
    /// The Rust worker.
    JazzReq,
    /// The jazz-tools worker(s).
    JazzTools,
}

/// A worker under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// jazz-req's `interop_worker`.
    Rust,
    /// jazz-tools on Node, on cojson's N-API crypto.
    NodeNapi,
    /// jazz-tools on Node, on cojson's WebAssembly crypto.
    NodeWasm,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Rust => "jazz-req",
            Self::NodeNapi => "jazz-tools (N-API)",
            Self::NodeWasm => "jazz-tools (WebAssembly)",
        }
    }
}

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Measurement {
    /// `requests` timed echoes.
    Echo { requests: usize },
    /// Bookings of a fresh event of `seats` seats, the last `timed` of them timed.
    Book { seats: usize, timed: usize },
}

impl Measurement {
    fn name(self) -> String {
        match self {
            Self::Echo { .. } => "echo".to_owned(),
            Self::Book { seats, .. } => format!("book @ {}", thousands(seats)),
        }
    }
}

/// Why the yardstick could not be run, or a measurement could not be made.
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long a worker or the sync server may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest wait for the worker and the sync server to be idle after a window.
const SETTLE_AT_MOST: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!("yardstick: a debug build: the load generator is slow (use --release)");
    }
    // Ctrl-c drops the run, which stops every process it started.
    let outcome = tokio::select! {
        outcome = run(&args) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("yardstick: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Everything a measurement needs.
struct Bench {
    args: Args,
    sync_url: String,
    sync_server: StatFile,
}

/// A running worker.
struct Worker {
    kind: Kind,
    process: Spawned,
    account: CoID,
    echo: Driver,
    book: Driver,
}

impl Worker {
    fn stat(&self) -> StatFile {
        StatFile::process(self.process.pid())
    }
}

/// One measurement on one worker, or why it failed.
struct Row {
    measurement: Measurement,
    kind: Kind,
    run: usize,
    outcome: Result<Figures, String>,
}

/// What one timed window measured.
struct Figures {
    summary: Summary,
    worker_cpu_ms: Option<f64>,
    sync_cpu_ms: Option<f64>,
    load_cpu_ms: Option<f64>,
    settle_seconds: f64,
    rss_kb: Option<u64>,
    rss_growth_kb: Option<i64>,
}

async fn run(args: &Args) -> Result<bool, Failure> {
    if args.in_flight == 0 || args.accounts == 0 || args.fill_chunk == 0 || args.runs == 0 {
        return Err("--in-flight, --accounts, --fill-chunk and --runs must be at least 1".into());
    }
    let load_before = load_average();
    let started_at = date();
    let commit = commit();
    let js = js_dir();
    ensure_npm_installed(&js)?;
    let kinds = kinds(args);
    let interop_worker = match (&args.interop_worker, kinds.contains(&Kind::Rust)) {
        (Some(path), _) => path.clone(),
        (None, true) => build_interop_worker()?,
        (None, false) => PathBuf::new(),
    };
    let tmp = std::env::temp_dir().join(format!("jazz-req-yardstick-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    eprintln!(
        "yardstick: logs and the jazz-req store in {}",
        tmp.display()
    );

    let mut sync_server = Spawned::start(
        "sync-server.mjs",
        node_script(&js, "sync-server.mjs", &[]),
        &tmp.join("sync-server.log"),
    )?;
    let port = sync_server
        .ready_line(START_TIMEOUT)?
        .get("port")
        .and_then(Value::as_u64)
        .ok_or("sync-server.mjs printed no port")?;
    let bench = Bench {
        args: args.clone(),
        sync_url: format!("ws://127.0.0.1:{port}"),
        sync_server: StatFile::process(sync_server.pid()),
    };

    let mut workers = Vec::new();
    for kind in kinds {
        eprintln!("yardstick: starting {}", kind.label());
        let worker = match kind {
            Kind::Rust => start_jazz_req(&bench, &interop_worker, &tmp).await?,
            Kind::NodeNapi | Kind::NodeWasm => start_jazz_tools(&bench, kind, &js, &tmp)?,
        };
        warm_up(&bench, &worker).await?;
        workers.push(worker);
    }

    let mut measurements = vec![Measurement::Echo {
        requests: args.echo,
    }];
    measurements.extend(args.sizes.iter().map(|&seats| Measurement::Book {
        seats,
        timed: args.timed.min(seats),
    }));
    let mut rows = Vec::new();
    for run in 1..=args.runs {
        for &measurement in &measurements {
            for worker in &workers {
                eprintln!(
                    "yardstick: run {run}, {}, {}",
                    measurement.name(),
                    worker.kind.label()
                );
                let outcome = measure(&bench, worker, measurement)
                    .await
                    .map_err(|e| e.to_string());
                match &outcome {
                    Ok(figures) => eprintln!("yardstick:   {}", row_json(figures)),
                    Err(error) => eprintln!("yardstick:   failed: {error}"),
                }
                rows.push(Row {
                    measurement,
                    kind: worker.kind,
                    run,
                    outcome,
                });
            }
        }
    }
    for worker in &workers {
        eprintln!(
            "yardstick: {} stderr: {}",
            worker.kind.label(),
            worker.process.log().display()
        );
    }
    drop(workers);
    drop(sync_server);

    let heading = Heading {
        started_at,
        load_before,
        load_after: load_average(),
        jazz_tools: jazz_tools_version(&js),
        commit,
    };
    println!("{}", table(&heading, args, &rows));
    println!("{}", json_line(&heading, args, &rows));
    let all_ok = rows
        .iter()
        .all(|row| row.outcome.as_ref().is_ok_and(|f| f.summary.all_ok()));
    if all_ok {
        // The logs and the store are of no more use.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(all_ok)
}

/// The workers `--only` and `--wasm` ask for, in the order they take turns.
fn kinds(args: &Args) -> Vec<Kind> {
    let mut kinds = Vec::new();
    if args.only != Some(Side::JazzTools) {
        kinds.push(Kind::Rust);
    }
    if args.only != Some(Side::JazzReq) {
        kinds.push(Kind::NodeNapi);
        if args.wasm {
            kinds.push(Kind::NodeWasm);
        }
    }
    kinds
}

/// `cargo build --release` of the `interop_worker` example; returns the binary.
fn build_interop_worker() -> Result<PathBuf, Failure> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    eprintln!("yardstick: cargo build --release --example interop_worker");
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "jazz-req-examples",
            "--example",
            "interop_worker",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("cargo build of interop_worker failed ({})", output.status).into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "interop_worker")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no interop_worker executable".into())
}

/// The `interop_worker` example on a new account uploaded to the sync server and a new store.
async fn start_jazz_req(bench: &Bench, binary: &Path, tmp: &Path) -> Result<Worker, Failure> {
    let sync = SyncClient::connect(&bench.sync_url, SyncOptions::default()).await?;
    let (account, secret) = account_on_server(&sync, "jazz-req worker").await?;
    sync.shutdown().await?;
    let mut command = Command::new(binary);
    command
        .args(["--listen", "127.0.0.1:0", "--sync-server", &bench.sync_url])
        .arg("--store")
        .arg(tmp.join("jazz-req.sqlite"))
        .env("JAZZ_WORKER_ACCOUNT", account.as_str())
        .env("JAZZ_WORKER_SECRET", secret.to_secret_string().as_str());
    let mut process = Spawned::start("interop_worker", command, &tmp.join("jazz-req.log"))?;
    let line = process.ready_line(START_TIMEOUT)?;
    let listening = line
        .get("listening")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("interop_worker said {line}"))?;
    worker(
        bench,
        Kind::Rust,
        process,
        account,
        &format!("http://{listening}"),
    )
}

/// `tests/js/interop-sync-worker.mjs` on the crypto `kind` names, on a new account it
/// creates on the sync server.
fn start_jazz_tools(bench: &Bench, kind: Kind, js: &Path, tmp: &Path) -> Result<Worker, Failure> {
    let (crypto, log) = match kind {
        Kind::NodeWasm => ("wasm", "jazz-tools-wasm.log"),
        _ => ("napi", "jazz-tools-napi.log"),
    };
    let mut process = Spawned::start(
        "interop-sync-worker.mjs",
        node_script(js, "interop-sync-worker.mjs", &[]),
        &tmp.join(log),
    )?;
    let input = json!({"url": bench.sync_url, "crypto": crypto, "name": kind.label()});
    process.write_line(&input.to_string())?;
    let line = process.ready_line(START_TIMEOUT)?;
    let text = |key: &str| line.get(key).and_then(Value::as_str);
    let (Some(url), Some(account)) = (text("url"), text("accountID")) else {
        return Err(format!("interop-sync-worker.mjs said {line}").into());
    };
    let account = CoID::parse(account)?;
    let url = url.to_owned();
    worker(bench, kind, process, account, &url)
}

fn worker(
    bench: &Bench,
    kind: Kind,
    process: Spawned,
    account: CoID,
    base_url: &str,
) -> Result<Worker, Failure> {
    Ok(Worker {
        kind,
        process,
        account,
        echo: Driver::new(base_url, Route::Echo, bench.args.in_flight)?,
        book: Driver::new(base_url, Route::Book, bench.args.in_flight)?,
    })
}

/// `--warmup` echoes and bookings, untimed (connections, caches, the JIT of jazz-tools).
async fn warm_up(bench: &Bench, worker: &Worker) -> Result<(), Failure> {
    let n = bench.args.warmup;
    if n == 0 {
        return Ok(());
    }
    for measurement in [
        Measurement::Echo { requests: n },
        Measurement::Book { seats: n, timed: n },
    ] {
        let figures = measure(bench, worker, measurement).await?;
        if !figures.summary.all_ok() {
            return Err(format!(
                "warming up {} ({}): {}",
                worker.kind.label(),
                measurement.name(),
                failure_text(&figures.summary)
            )
            .into());
        }
    }
    Ok(())
}

/// One measurement on one worker: fresh senders (and a fresh event), an untimed fill, a
/// timed window.
async fn measure(
    bench: &Bench,
    worker: &Worker,
    measurement: Measurement,
) -> Result<Figures, Failure> {
    let sync = SyncClient::connect(&bench.sync_url, SyncOptions::default()).await?;
    let senders = Senders::new(bench.args.accounts, &worker.account, &sync).await?;
    let event = match measurement {
        Measurement::Echo { .. } => None,
        Measurement::Book { seats, .. } => Some(senders.make_event(&sync, seats).await?),
    };
    // Its connection would have the sync server send it every change of the event.
    sync.shutdown().await?;

    let mut pace = Pace::new(bench.args.fill_chunk);
    let (driver, timed, rss_growth_from) = match (measurement, &event) {
        (Measurement::Book { seats, timed }, Some(event)) => {
            let from = fill(
                bench,
                worker,
                &senders,
                event,
                seats,
                seats - timed,
                &mut pace,
            )
            .await?;
            (&worker.book, timed, from)
        }
        (Measurement::Echo { requests }, _) => (&worker.echo, requests, None),
        (Measurement::Book { .. }, None) => return Err("a booking without its event".into()),
    };
    let values = |i: usize| match &event {
        Some(event) => book_values(event),
        None => echo_values(i),
    };
    let watched = [
        worker.stat(),
        bench.sync_server.clone(),
        StatFile::this_process(),
    ];
    settle(&watched[..2]).await;

    let before: Vec<Option<f64>> = watched.iter().map(StatFile::cpu_seconds).collect();
    let (sent, elapsed) = pace.send(driver, &senders, 0..timed, values).await?;
    let settle_seconds = settle(&watched[..2]).await.as_secs_f64();
    let summary = Summary::of(&sent, elapsed);
    let per_request = |i: usize| {
        let before = before.get(i).copied().flatten()?;
        let after = watched.get(i)?.cpu_seconds()?;
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        Some((after - before) * 1000.0 / summary.requests.max(1) as f64)
    };
    let (worker_cpu_ms, sync_cpu_ms, load_cpu_ms) =
        (per_request(0), per_request(1), per_request(2));
    let rss = rss_kb(worker.process.pid());
    let rss_growth_kb = match (rss_growth_from, rss) {
        (Some(from), Some(to)) => i64::try_from(to)
            .ok()
            .zip(i64::try_from(from).ok())
            .map(|(to, from)| to - from),
        _ => None,
    };
    Ok(Figures {
        summary,
        worker_cpu_ms,
        sync_cpu_ms,
        load_cpu_ms,
        settle_seconds,
        rss_kb: rss,
        rss_growth_kb,
    })
}

/// Books the first `bookings` of the `seats` seats of `event`, untimed; returns the worker's
/// RSS at `--rss-from` reservations when the fill gets there and the event grows beyond it.
async fn fill(
    bench: &Bench,
    worker: &Worker,
    senders: &Senders,
    event: &CoID,
    seats: usize,
    bookings: usize,
    pace: &mut Pace,
) -> Result<Option<u64>, Failure> {
    let checkpoint = bench.args.rss_from;
    let mut rss_at_checkpoint = None;
    let mut done = 0;
    for end in [checkpoint.min(bookings), bookings] {
        let (sent, _) = pace
            .send(&worker.book, senders, done..end, |_| book_values(event))
            .await?;
        let summary = Summary::of(&sent, Duration::ZERO);
        if !summary.all_ok() {
            return Err(format!(
                "filling the event, bookings {done}..{end}: {}",
                failure_text(&summary)
            )
            .into());
        }
        done = end;
        if done == checkpoint && checkpoint < seats && rss_at_checkpoint.is_none() {
            settle(&[worker.stat(), bench.sync_server.clone()]).await;
            rss_at_checkpoint = rss_kb(worker.process.pid());
        }
    }
    Ok(rss_at_checkpoint)
}

/// Signs and sends requests in chunks sized to the rate last seen, so that every body is
/// sent well within the 60 s it is valid for, however slow the worker gets.
struct Pace {
    /// Requests per second over the last chunk (`None`: no chunk yet).
    rate: Option<f64>,
    /// The size of a chunk while the rate is not known.
    first_chunk: usize,
}

impl Pace {
    /// How long a chunk should take at the rate last seen.
    const CHUNK_SECONDS: f64 = 20.0;

    fn new(first_chunk: usize) -> Self {
        Self {
            rate: None,
            first_chunk: first_chunk.max(1),
        }
    }

    fn chunk(&self) -> usize {
        match self.rate {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small, positive
            Some(rate) => ((rate * Self::CHUNK_SECONDS) as usize).max(16),
            None => self.first_chunk,
        }
    }

    /// Signs (untimed) and sends requests `range`, `values(i)` for request `i`, a chunk at a
    /// time; returns the answers and the time spent sending.
    async fn send(
        &mut self,
        driver: &Driver,
        senders: &Senders,
        range: Range<usize>,
        values: impl Fn(usize) -> Map<String, Value>,
    ) -> Result<(Vec<Sent>, Duration), Failure> {
        let mut sent = Vec::with_capacity(range.len());
        let mut elapsed = Duration::ZERO;
        let mut start = range.start;
        while start < range.end {
            let end = range.end.min(start + self.chunk());
            let bodies = texts(&senders.sign(start..end, &values)?);
            let started = Instant::now();
            sent.extend(driver.drive(bodies).await);
            let took = started.elapsed();
            elapsed += took;
            #[allow(clippy::cast_precision_loss)] // counts far below 2^53
            let rate = (end - start) as f64 / took.as_secs_f64().max(1e-3);
            self.rate = Some(rate);
            start = end;
            if start < range.end {
                eprintln!(
                    "yardstick:   {} of {} sent ({rate:.0} req/s)",
                    thousands(start),
                    thousands(range.end)
                );
            }
        }
        Ok((sent, elapsed))
    }
}

/// Waits until the processes are idle (together below 10 % of a core over 200 ms), at
/// most [`SETTLE_AT_MOST`]; returns how long it waited.
async fn settle(processes: &[StatFile]) -> Duration {
    const STEP: Duration = Duration::from_millis(200);
    let started = Instant::now();
    let total = || {
        processes
            .iter()
            .filter_map(StatFile::cpu_seconds)
            .sum::<f64>()
    };
    let mut last = total();
    loop {
        tokio::time::sleep(STEP).await;
        let now = total();
        if now - last < STEP.as_secs_f64() / 10.0 || started.elapsed() >= SETTLE_AT_MOST {
            return started.elapsed();
        }
        last = now;
    }
}

/// How many answers were not a 200 success, and the first of them.
fn failure_text(summary: &Summary) -> String {
    let failure = summary
        .first_failure
        .as_ref()
        .map_or_else(String::new, |f| {
            format!(
                ", e.g. {}: {}",
                f.status.as_deref().unwrap_or("no answer"),
                f.detail
            )
        });
    format!(
        "{} of {} answers not a 200 success ({:?}, {} transport errors){failure}",
        summary.requests - summary.successes(),
        summary.requests,
        summary.statuses,
        summary.transport_errors
    )
}

/// What the table's heading says.
struct Heading {
    started_at: String,
    load_before: Option<[f64; 3]>,
    load_after: Option<[f64; 3]>,
    jazz_tools: String,
    commit: (String, bool),
}

/// The commit of this checkout, and whether the work tree differs from it.
fn commit() -> (String, bool) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&workspace)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let hash = git(&["rev-parse", "--short=10", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    (hash, dirty)
}

/// Now, in UTC, as `date -u` says it.
fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "unknown date".to_owned())
}

/// The version of the jazz-tools package installed in `js`.
fn jazz_tools_version(js: &Path) -> String {
    std::fs::read_to_string(js.join("node_modules/jazz-tools/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|package| package["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
}

fn load_text(load: Option<[f64; 3]>) -> String {
    load.map_or_else(
        || "?".to_owned(),
        |[a, b, c]| format!("{a:.2} / {b:.2} / {c:.2}"),
    )
}

/// `12345` as `12,345`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The median of the figures there are.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0),
    }
}

/// The median (and, with several, the range) of the figures there are, with `decimals`.
fn cell(values: &[f64], decimals: usize) -> String {
    let Some(middle) = median(values.to_vec()) else {
        return "–".to_owned();
    };
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.len() > 1 {
        format!("{middle:.decimals$} ({low:.decimals$}–{high:.decimals$})")
    } else {
        format!("{middle:.decimals$}")
    }
}

/// The markdown table, with its heading: one row per measurement and worker.
fn table(heading: &Heading, args: &Args, rows: &[Row]) -> String {
    let (hash, dirty) = &heading.commit;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### jazz-req `{hash}`{} vs jazz-tools {} — {}\n",
        if *dirty { "+dirty" } else { "" },
        heading.jazz_tools,
        heading.started_at
    );
    let _ = writeln!(
        out,
        "One in-memory sync server (cojson {jt}, Node), {in_flight} requests in flight from \
         {accounts} sender accounts, {runs} run(s) alternating between the workers; booking: \
         a fresh event per row, the last {timed} bookings timed. {cores} cores; load average \
         {before} before, {after} after.\n",
        jt = heading.jazz_tools,
        in_flight = args.in_flight,
        accounts = args.accounts,
        runs = args.runs,
        timed = args.timed,
        cores = cores(),
        before = load_text(heading.load_before),
        after = load_text(heading.load_after),
    );
    let _ = writeln!(
        out,
        "| route | worker | worker CPU ms/req | × jazz-req | sync server CPU ms/req | req/s | p50 ms | p99 ms | RSS after | RSS growth {}→N | 200s |",
        thousands(args.rss_from)
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    let mut groups: Vec<(Measurement, Kind)> = Vec::new();
    for row in rows {
        if !groups.contains(&(row.measurement, row.kind)) {
            groups.push((row.measurement, row.kind));
        }
    }
    let mut jazz_req_cpu: BTreeMap<String, f64> = BTreeMap::new();
    for (measurement, kind) in groups {
        let of_group: Vec<&Row> = rows
            .iter()
            .filter(|r| r.measurement == measurement && r.kind == kind)
            .collect();
        let figures: Vec<&Figures> = of_group
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok())
            .collect();
        let failed: Vec<&String> = of_group
            .iter()
            .filter_map(|r| r.outcome.as_ref().err())
            .collect();
        if figures.is_empty() {
            let why = failed.first().map_or("", |e| e.as_str());
            let _ = writeln!(
                out,
                "| {} | {} | failed: {} |||||||||",
                measurement.name(),
                kind.label(),
                why.replace('|', "/").chars().take(200).collect::<String>()
            );
            continue;
        }
        let of = |f: fn(&Figures) -> Option<f64>| -> Vec<f64> {
            figures.iter().filter_map(|x| f(x)).collect()
        };
        let worker_cpu = of(|f| f.worker_cpu_ms);
        let ratio = match (kind, median(worker_cpu.clone())) {
            (Kind::Rust, Some(cpu)) => {
                jazz_req_cpu.insert(measurement.name(), cpu);
                "1".to_owned()
            }
            (_, Some(cpu)) => jazz_req_cpu
                .get(&measurement.name())
                .filter(|base| **base > 0.0)
                .map_or_else(|| "–".to_owned(), |base| format!("{:.1}×", cpu / base)),
            (_, None) => "–".to_owned(),
        };
        #[allow(clippy::cast_precision_loss)] // kB far below 2^53
        let rss = median(of(|f| f.rss_kb.map(|kb| kb as f64 / 1024.0)));
        #[allow(clippy::cast_precision_loss)]
        let growth = median(of(|f| f.rss_growth_kb.map(|kb| kb as f64 / 1024.0)));
        let ok: usize = figures.iter().map(|f| f.summary.successes()).sum();
        let all: usize = figures.iter().map(|f| f.summary.requests).sum();
        let failed_note = if failed.is_empty() {
            String::new()
        } else {
            format!(" ({} run(s) failed)", failed.len())
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}{} |",
            measurement.name(),
            kind.label(),
            cell(&worker_cpu, 2),
            ratio,
            cell(&of(|f| f.sync_cpu_ms), 2),
            median(of(|f| Some(f.summary.requests_per_second)))
                .map_or("–".to_owned(), |v| format!("{v:.0}")),
            median(of(|f| Some(f.summary.p50_ms))).map_or("–".to_owned(), |v| format!("{v:.1}")),
            median(of(|f| Some(f.summary.p99_ms))).map_or("–".to_owned(), |v| format!("{v:.1}")),
            rss.map_or("–".to_owned(), |v| format!("{v:.0} MB")),
            growth.map_or("–".to_owned(), |v| format!("{v:+.1} MB")),
            thousands(ok),
            thousands(all),
            failed_note
        );
    }
    out
}

/// One run's figures as JSON.
fn row_json(figures: &Figures) -> Value {
    let mut value = figures.summary.to_json();
    value["workerCpuMsPerRequest"] = json!(figures.worker_cpu_ms);
    value["syncServerCpuMsPerRequest"] = json!(figures.sync_cpu_ms);
    value["loadCpuMsPerRequest"] = json!(figures.load_cpu_ms);
    value["settleSeconds"] = json!(figures.settle_seconds);
    value["workerRssKb"] = json!(figures.rss_kb);
    value["rssGrowthKb"] = json!(figures.rss_growth_kb);
    value
}

/// The JSON line: the heading and every run's row.
fn json_line(heading: &Heading, args: &Args, rows: &[Row]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut value = match &row.outcome {
                Ok(figures) => row_json(figures),
                Err(error) => json!({"error": error}),
            };
            value["measurement"] = json!(row.measurement.name());
            value["worker"] = json!(row.kind.label());
            value["run"] = json!(row.run);
            value["timed"] = json!(match row.measurement {
                Measurement::Echo { requests } => requests,
                Measurement::Book { timed, .. } => timed,
            });
            value
        })
        .collect();
    json!({
        "yardstick": {
            "commit": heading.commit.0,
            "dirty": heading.commit.1,
            "date": heading.started_at,
            "jazzTools": heading.jazz_tools,
            "cores": cores(),
            "loadAverageBefore": heading.load_before,
            "loadAverageAfter": heading.load_after,
            "options": {
                "sizes": args.sizes,
                "timed": args.timed,
                "echo": args.echo,
                "runs": args.runs,
                "inFlight": args.in_flight,
                "accounts": args.accounts,
                "warmup": args.warmup,
                "fillChunk": args.fill_chunk,
                "rssFrom": args.rss_from,
                "wasm": args.wasm,
            },
        },
        "rows": rows,
    })
}
