//! A memory soak of `interop_worker` (issue 9, item 8), outside CI:
//!
//! ```sh
//! cargo build --release --example interop_worker --example soak
//! target/release/examples/soak            # 100,000 requests from 1,000 accounts
//! ```
//!
//! Starts `interop_worker` (the one next to this executable, or `--worker PATH`) as a child
//! process on a fresh SQLite store, with an event of 100 seats, and sends it `--requests`
//! requests over HTTP on loopback, `--in-flight` at a time, from `--accounts` distinct
//! accounts: every `--book-every`th a booking (100 sell, the rest are "Event is full"), the
//! others echoes (one in 50 asks to fail: 422). Each body is signed by its account just
//! before it is sent.
//!
//! With `--arrival gradual` (the default) the accounts arrive over the whole run (account
//! `i` sends requests `i·R/A … (i+1)·R/A − 1`): at 10 % of the requests 10 % of the accounts
//! have been seen, so memory that grows per account shows between the samples. With
//! `--arrival round-robin` every account has been seen after the first `A` requests, so what
//! still grows grows per request.
//!
//! Every `--sample-every` requests it prints the worker's resident memory (`VmRSS` and
//! `RssAnon` from `/proc/PID/status`), the replay guard's size as the store shows it (rows of
//! the `claims` table, and those not yet expired), the CoValues stored, the store's size on
//! disk, and the rate. The last line on stdout is one JSON object with every sample. The
//! worker is stopped with SIGTERM at the end (it must exit 0).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use jazz_req::cojson::ResolveQuery;
use jazz_req::cojson::header::Ruleset;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req_examples::echo::PLEASE_FAIL;
use jazz_req_examples::event_tickets::{Event, create_event};
use serde_json::{Map, Value, json};

/// Sends many requests from many accounts to an `interop_worker` and watches its memory.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Requests to send.
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Distinct accounts sending them.
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Every this many requests, a sample.
    #[arg(long, default_value_t = 10_000)]
    sample_every: usize,
    /// Every this many requests, a booking (the others are echoes).
    #[arg(long, default_value_t = 10)]
    book_every: usize,
    /// How the accounts arrive.
    #[arg(long, value_enum, default_value_t = Arrival::Gradual)]
    arrival: Arrival,
    /// The `interop_worker` executable (default: the one next to this one).
    #[arg(long, value_name = "PATH")]
    worker: Option<PathBuf>,
}

/// Which account sends request `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Arrival {
    /// Account `k · A / R`: new accounts keep arriving until the end.
    Gradual,
    /// Account `k mod A`: every account is seen within the first `A` requests.
    RoundRobin,
}

type RunError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("soak: {error}");
            ExitCode::FAILURE
        }
    }
}

/// One sample of the worker.
#[derive(Clone, Debug, serde::Serialize)]
struct Sample {
    requests: usize,
    accounts_seen: usize,
    vm_rss_kib: u64,
    rss_anon_kib: u64,
    claims_rows: u64,
    claims_live: u64,
    covalues_stored: u64,
    store_bytes: u64,
    seconds: f64,
    requests_per_second: f64,
}

/// What the answers were.
#[derive(Debug, Default, serde::Serialize)]
struct Tally {
    echoed: usize,
    asked_to_fail: usize,
    sold: usize,
    full: usize,
    unexpected: BTreeMap<String, usize>,
}

async fn run(args: &Args) -> Result<Value, RunError> {
    if args.accounts == 0 || args.requests < args.accounts || args.in_flight == 0 {
        return Err("--requests must be at least --accounts, and both above 0".into());
    }
    let worker_bin = match &args.worker {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("interop_worker"),
    };
    if !worker_bin.exists() {
        return Err(format!(
            "{} does not exist: build it with `cargo build --release --example interop_worker` \
             (or pass --worker PATH)",
            worker_bin.display()
        )
        .into());
    }
    let dir = std::env::temp_dir().join(format!("jazz-req-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = dir.join("worker.sqlite");
    let outcome = soak(args, &worker_bin, &store).await;
    std::fs::remove_dir_all(&dir).ok();
    outcome
}

async fn soak(args: &Args, worker_bin: &Path, store: &Path) -> Result<Value, RunError> {
    // The worker's account and the event, as `jazz-req account create --store` and
    // `seed_event` write them.
    let secret = new_random_agent_secret()?;
    let (mut node, account) = LocalNode::create_account(secret.clone(), "Soak worker")?;
    node.attach_storage(Arc::new(SqliteStorage::open(store)?));
    let event = node.batch(|node| create_event(&mut Tx::new(node), "Soak", 100))?;
    node.flush()?;
    let mut pieces = node.export_json(&account, &ResolveQuery::Value)?;
    pieces.extend(node.export_json(
        event.id(),
        &Event::resolve().reservations(|r| r).into_query(),
    )?);
    drop(node);

    let mut child = Command::new(worker_bin)
        .args(["--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .env("JAZZ_WORKER_ACCOUNT", account.as_str())
        .env("JAZZ_WORKER_SECRET", secret.to_secret_string().as_str())
        .env_remove("JAZZ_REQ_STORE")
        .env_remove("JAZZ_SYNC_SERVER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let addr = match listening(&mut child) {
        Ok(addr) => addr,
        Err(error) => {
            child.kill().ok();
            child.wait().ok();
            return Err(error);
        }
    };
    eprintln!(
        "worker {pid} on {addr}; {} accounts, {} requests, {} in flight, arrival {:?}",
        args.accounts, args.requests, args.in_flight, args.arrival
    );
    let result = drive(args, pid, addr, &account, event.id(), &pieces, store).await;
    // Stop it gracefully whatever happened.
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let status = child.wait()?;
    let (samples, tally, baseline) = result?;
    eprintln!("worker stopped: {status}");
    Ok(json!({
        "requests": args.requests,
        "accounts": args.accounts,
        "in_flight": args.in_flight,
        "arrival": format!("{:?}", args.arrival),
        "baseline": baseline,
        "samples": samples,
        "answers": tally,
        "worker_exit": status.code(),
    }))
}

/// Reads the worker's first line: where it listens.
fn listening(child: &mut Child) -> Result<SocketAddr, RunError> {
    let stdout = child.stdout.take().ok_or("the worker has no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let value: Value = serde_json::from_str(line.trim())
        .map_err(|_| format!("the worker printed {line:?}, not its listening line"))?;
    let addr = value["listening"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("the worker printed {line:?}, not its listening line"))?;
    Ok(addr)
}

/// A sender: its client (its node holds the worker's account and the event).
struct Sender {
    client: RequestClient,
}

async fn drive(
    args: &Args,
    pid: u32,
    addr: SocketAddr,
    worker: &CoID,
    event: &CoID,
    pieces: &[Value],
    store: &Path,
) -> Result<(Vec<Sample>, Tally, Sample), RunError> {
    let started_accounts = Instant::now();
    let mut senders = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let (node, _) =
            LocalNode::create_account(new_random_agent_secret()?, &format!("Sender {i}"))?;
        let client = RequestClient::new(node).with_worker(worker.clone());
        client.import_pieces(pieces)?;
        senders.push(Sender { client });
    }
    eprintln!(
        "{} accounts made in {:.1} s",
        args.accounts,
        started_accounts.elapsed().as_secs_f64()
    );
    let baseline = sample(pid, store, 0, 0, Duration::ZERO)?;
    print_sample(&baseline);

    let senders = Arc::new(senders);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.in_flight)
        .build()?;
    let (sample_tx, mut sample_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_account = args.requests.div_ceil(args.accounts);
    for _ in 0..args.in_flight {
        let (senders, next, done, http) =
            (senders.clone(), next.clone(), done.clone(), http.clone());
        let (event, worker, sample_tx) = (event.clone(), worker.clone(), sample_tx.clone());
        let (requests, accounts, book_every, sample_every, arrival) = (
            args.requests,
            args.accounts,
            args.book_every.max(1),
            args.sample_every.max(1),
            args.arrival,
        );
        tasks.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= requests {
                    break;
                }
                let who = match arrival {
                    Arrival::Gradual => (k / per_account).min(accounts - 1),
                    Arrival::RoundRobin => k % accounts,
                };
                let sender = &senders[who];
                let booking = k % book_every == book_every - 1;
                let (path, values) = if booking {
                    ("/api/book-event-ticket", booking_values(&event))
                } else {
                    ("/api/echo", echo_values(k))
                };
                let outcome = send(&http, addr, path, &sender.client, &worker, &values).await;
                let key = match outcome {
                    Ok((200, _)) if booking => {
                        tally.sold += 1;
                        None
                    }
                    Ok((200, _)) => {
                        tally.echoed += 1;
                        None
                    }
                    Ok((400, message)) if booking && message == "Event is full" => {
                        tally.full += 1;
                        None
                    }
                    Ok((422, message)) if !booking && message == "Asked to fail" => {
                        tally.asked_to_fail += 1;
                        None
                    }
                    Ok((status, message)) => Some(format!("{path} {status} {message}")),
                    Err(error) => Some(format!("{path} {error}")),
                };
                if let Some(key) = key {
                    *tally.unexpected.entry(key).or_default() += 1;
                }
                let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                if finished.is_multiple_of(sample_every) || finished == requests {
                    let _ = sample_tx.send(finished);
                }
            }
            tally
        });
    }
    drop(sample_tx);

    let mut samples = Vec::new();
    while let Some(finished) = sample_rx.recv().await {
        let seen = match args.arrival {
            Arrival::Gradual => finished.div_ceil(per_account).min(args.accounts),
            Arrival::RoundRobin => finished.min(args.accounts),
        };
        let taken =
            tokio::task::block_in_place(|| sample(pid, store, finished, seen, started.elapsed()))?;
        print_sample(&taken);
        samples.push(taken);
    }
    let mut tally = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined?;
        tally.echoed += part.echoed;
        tally.asked_to_fail += part.asked_to_fail;
        tally.sold += part.sold;
        tally.full += part.full;
        for (key, count) in part.unexpected {
            *tally.unexpected.entry(key).or_default() += count;
        }
    }
    eprintln!("answers: {tally:?}");
    Ok((samples, tally, baseline))
}

fn booking_values(event: &CoID) -> Map<String, Value> {
    Map::from_iter([("event".to_owned(), json!(event.as_str()))])
}

fn echo_values(k: usize) -> Map<String, Value> {
    let text = if k % 50 == 7 {
        PLEASE_FAIL.to_owned()
    } else {
        format!("soak {k} ✓")
    };
    let mut values = Map::from_iter([
        ("text".to_owned(), json!(text)),
        ("n".to_owned(), json!(k)),
        ("flag".to_owned(), json!(k.is_multiple_of(2))),
    ]);
    if k.is_multiple_of(3) {
        values.insert("note".to_owned(), json!("a note"));
    }
    values
}

/// Signs a request of `client`, posts it, and forgets its envelope and group on the client
/// (so that the soak's own memory stays flat); the status and the error message.
async fn send(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    client: &RequestClient,
    worker: &CoID,
    values: &Map<String, Value>,
) -> Result<(u16, String), RunError> {
    let body = client.request_body(worker, values)?;
    {
        let mut node = client.node()?;
        let group = node.get(&body.id).and_then(|v| match &v.header().ruleset {
            Ruleset::OwnedByGroup { group, .. } => Some(group.clone()),
            _ => None,
        });
        let ids: Vec<CoID> = std::iter::once(body.id.clone()).chain(group).collect();
        node.evict(&ids);
    }
    let response = http
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_json().to_string())
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status == 200 && answer["type"] != "success" {
        return Err(format!("a 200 that is not a success: {text}").into());
    }
    Ok((
        status,
        answer["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// The worker's memory and the store's figures now.
fn sample(
    pid: u32,
    store: &Path,
    requests: usize,
    accounts_seen: usize,
    elapsed: Duration,
) -> Result<Sample, RunError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    let db = rusqlite::Connection::open_with_flags(
        store,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(Duration::from_secs(10))?;
    let count = |sql: &str| -> Result<u64, rusqlite::Error> {
        db.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let claims_live = db.query_row(
        "SELECT count(*) FROM claims WHERE expires_at > ?1",
        [i64::try_from(now).unwrap_or(i64::MAX)],
        |row| row.get::<_, i64>(0),
    )?;
    let file_size = |suffix: &str| {
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map_or(0, |m| m.len())
    };
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a count of requests
    let requests_per_second = if seconds > 0.0 {
        requests as f64 / seconds
    } else {
        0.0
    };
    Ok(Sample {
        requests,
        accounts_seen,
        vm_rss_kib: field("VmRSS:"),
        rss_anon_kib: field("RssAnon:"),
        claims_rows: count("SELECT count(*) FROM claims")?,
        claims_live: u64::try_from(claims_live).unwrap_or(0),
        covalues_stored: count("SELECT count(*) FROM covalues")?,
        store_bytes: file_size("") + file_size("-wal"),
        seconds,
        requests_per_second,
    })
}

fn print_sample(s: &Sample) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{:>7} requests {:>5} accounts | worker VmRSS {:>7} KiB (anon {:>7}) | claims {:>7} rows ({:>6} live) | {:>7} CoValues stored, {:>6.1} MiB | {:>6.1} s, {:>5.0} req/s",
        s.requests,
        s.accounts_seen,
        s.vm_rss_kib,
        s.rss_anon_kib,
        s.claims_rows,
        s.claims_live,
        s.covalues_stored,
        s.store_bytes as f64 / 1_048_576.0,
        s.seconds,
        s.requests_per_second,
    );
}
