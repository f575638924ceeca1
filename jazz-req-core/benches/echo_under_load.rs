//! Latency of small echoes while large requests arrive:
//! `cargo bench -p jazz-req-core --bench echo_under_load`.
//!
//! A worker (no storage, in process, on a two-thread tokio runtime) answers small echo
//! requests from a few concurrent clients, first alone, then while large requests (bodies of
//! about `JAZZ_REQ_BIG_BYTES`, default 0.9 MiB: an envelope of many transactions,
//! split into many dependent content pieces) arrive back to back. The echoes' p50 / p99 /
//! max and the large requests' median are printed for both runs; nothing is asserted (this
//! is a measurement, not a test). All bodies are made before the clock starts.
//!
//! Environment: `JAZZ_REQ_ECHOES` (echoes per run, default 2000), `JAZZ_REQ_BIG` (large
//! bodies made, default 64; each sent once, back to back; only the echoes that
//! start before the last of them is answered count), `JAZZ_REQ_ECHO_CLIENTS` (concurrent echo
//! senders, default 4).

#![allow(missing_docs, clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a bench

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jazz_req_core::cojson::permissions_role::Role;
use jazz_req_core::cojson::{LocalNode, Privacy, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::request::envelope::sign_envelope;
use jazz_req_core::request::{RequestClient, RequestContext, RequestWorker, RouteSpec};
use serde_json::{Map, Value, json};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn setup() -> (RequestWorker, RequestClient, RequestClient) {
    let (worker_node, worker_account) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Worker").unwrap();
    let worker_pieces = worker_node
        .export(&worker_account, &ResolveQuery::Value)
        .unwrap();
    let worker = RequestWorker::new(worker_node).unwrap().route(
        RouteSpec::new("/api/echo"),
        |ctx: RequestContext| async move {
            let values = ctx.values();
            let name = values
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Ok(Map::from_iter([(
                "bio".to_owned(),
                json!(format!("Profile for {name}")),
            )]))
        },
    );
    let client = || {
        let (mut node, _) =
            LocalNode::create_account(new_random_agent_secret().unwrap(), "Client").unwrap();
        for piece in worker_pieces.clone() {
            node.import(piece).unwrap();
        }
        RequestClient::new(node)
    };
    (worker, client(), client())
}

fn post(body: String) -> http::Request<Bytes> {
    http::Request::post("/api/echo")
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .unwrap()
}

fn echo_body(client: &RequestClient, worker: &CoIDRef) -> String {
    let values = json!({"name": "John Doe", "email": "john@example.com", "age": 30});
    client
        .request_body(worker, values.as_object().unwrap())
        .unwrap()
        .to_json()
        .to_string()
}

type CoIDRef = jazz_req_core::crypto::CoID;

/// A request whose envelope holds many transactions (a `pad` field set again and again), so
/// that its session is split into many content pieces, each after the one before.
fn big_body(client: &RequestClient, worker: &CoIDRef, bytes: usize) -> String {
    const CHUNK: usize = 3_000;
    let mut node = client.node().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let envelope = node
        .batch(|node| {
            let group = node.create_group()?;
            node.add_member(&group, worker.as_str(), Role::Writer)?;
            let init = [("name", json!("Big"))];
            let map = node.create_map(&group, &init, Privacy::Private)?;
            // Private changes are base64url of the ciphertext: 4/3 of the text.
            for i in 0..(bytes * 3 / 4) / (CHUNK + 40) {
                let text: String =
                    std::iter::repeat_n(char::from(b'a' + (i % 26) as u8), CHUNK).collect();
                node.map_set(&map, "pad", json!(text), Privacy::Private)?;
            }
            Ok(map)
        })
        .unwrap();
    let signed = sign_envelope(&node, &envelope, &ResolveQuery::Value, now).unwrap();
    drop(node);
    let text = signed.to_json().to_string();
    let mut node = client.node().unwrap();
    // The client keeps nothing of it.
    node.evict(&[envelope]);
    text
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

struct RunResult {
    /// The echoes' latencies (those that started while large requests were still coming, in
    /// a run with large requests).
    echoes: Vec<Duration>,
    bigs: Vec<Duration>,
    wall: Duration,
}

fn run(
    runtime: &tokio::runtime::Runtime,
    worker: &RequestWorker,
    echoes: Vec<String>,
    bigs: &[String],
    clients: usize,
) -> RunResult {
    runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let big_task = {
            let worker = worker.clone();
            let bigs = bigs.to_vec();
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut last = Instant::now();
                // Each large body is handled once (a copy would be refused as a replay).
                for body in bigs {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = Instant::now();
                    let response = worker.handle(post(body)).await;
                    assert_eq!(response.status(), 200, "{:?}", response.body());
                    times.push(started.elapsed());
                    last = Instant::now();
                }
                (times, last)
            })
        };
        let started = Instant::now();
        // Without echoes (`JAZZ_REQ_ECHOES=0`, for profiling) every large request is sent.
        let stop_bigs = !echoes.is_empty();
        let per_client = echoes.len().div_ceil(clients.max(1));
        let mut tasks = Vec::new();
        let mut echoes = echoes.into_iter();
        for _ in 0..clients {
            let mine: Vec<String> = echoes.by_ref().take(per_client).collect();
            let worker = worker.clone();
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::with_capacity(mine.len());
                for body in mine {
                    let started = Instant::now();
                    let response = worker.handle(post(body)).await;
                    assert_eq!(response.status(), 200, "{:?}", response.body());
                    times.push((started, started.elapsed()));
                }
                times
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.extend(task.await.unwrap());
        }
        let wall = started.elapsed();
        stop.store(stop_bigs, Ordering::Relaxed);
        let (bigs, last_big) = big_task.await.unwrap();
        let mut echoes: Vec<Duration> = times
            .into_iter()
            .filter(|(at, _)| bigs.is_empty() || *at < last_big)
            .map(|(_, took)| took)
            .collect();
        echoes.sort();
        RunResult { echoes, bigs, wall }
    })
}

fn report(label: &str, result: &RunResult) {
    let mut bigs = result.bigs.clone();
    bigs.sort();
    println!(
        "{label:<26} {:>5} echoes: p50 {} p90 {} p99 {} max {} ({:.0} echo/s); large: {} (median {})",
        result.echoes.len(),
        ms(percentile(&result.echoes, 0.5)),
        ms(percentile(&result.echoes, 0.9)),
        ms(percentile(&result.echoes, 0.99)),
        ms(result.echoes.last().copied().unwrap_or_default()),
        result.echoes.len() as f64 / result.wall.as_secs_f64(),
        bigs.len(),
        ms(percentile(&bigs, 0.5)),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names neither run skips it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "echo_under_load".contains(a.as_str())) {
        return;
    }
    let echoes = env_or("JAZZ_REQ_ECHOES", 2_000);
    let big_count = env_or("JAZZ_REQ_BIG", 64);
    let big_bytes = env_or("JAZZ_REQ_BIG_BYTES", (1 << 20) * 9 / 10);
    let clients = env_or("JAZZ_REQ_ECHO_CLIENTS", 4);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (worker, echo_client, big_client) = setup();
    let account = worker.account().clone();

    // Warm up: both clients known to the worker.
    for body in [
        echo_body(&echo_client, &account),
        echo_body(&big_client, &account),
    ] {
        let response = runtime.block_on(worker.handle(post(body)));
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
    let bigs: Vec<String> = (0..big_count)
        .map(|_| big_body(&big_client, &account, big_bytes))
        .collect();
    let pieces = serde_json::from_str::<Value>(&bigs[0]).unwrap()["contentPieces"]
        .as_array()
        .map_or(0, Vec::len);
    println!(
        "large body: {} bytes, {pieces} content pieces; {clients} echo clients",
        bigs[0].len()
    );

    let make_echoes = || -> Vec<String> {
        (0..echoes)
            .map(|_| echo_body(&echo_client, &account))
            .collect()
    };
    let alone = run(&runtime, &worker, make_echoes(), &[], clients);
    report("echo alone", &alone);
    let loaded = run(&runtime, &worker, make_echoes(), &bigs, clients);
    report("echo with large requests", &loaded);
}
