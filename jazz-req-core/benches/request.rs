//! Criterion benchmark of the worker: `cargo bench -p jazz-req-core --bench request`.
//!
//! One fresh signed echo request (3 fields in, 3 out) from a repeat client, handled in
//! process (`RequestWorker::handle` on an `http::Request`, no network), as
//! `tests/js/bench-request.mjs` measures jazz-tools' `route.handle()`. Making the request
//! (the client's side) is not timed. Measured with no storage, in-memory storage, and the
//! embedded SQLite store (each response durable before it is answered). On mimalloc, as the
//! project's worker binary (`interop_worker`). `JAZZ_REQ_BENCH_CLOCK=cpu` times the CPU the
//! worker's thread spends instead (see `cpu_per_request`).

#![allow(missing_docs, clippy::panic)] // criterion_main! generates undocumented items

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use jazz_req_core::cojson::{LocalNode, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::request::{RequestClient, RequestContext, RequestWorker, RouteSpec};
use jazz_req_core::storage::{MemoryStorage, SqliteStorage, Storage};
use serde_json::{Map, Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn or_panic<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn setup(storage: Option<Arc<dyn Storage>>) -> (RequestWorker, RequestClient) {
    let (mut worker_node, worker_account) = or_panic(LocalNode::create_account(
        or_panic(new_random_agent_secret()),
        "Worker",
    ));
    if let Some(storage) = storage {
        worker_node.attach_storage(storage);
        or_panic(worker_node.flush());
    }
    let worker_pieces = or_panic(worker_node.export(&worker_account, &ResolveQuery::Value));
    let worker = or_panic(RequestWorker::new(worker_node)).route(
        RouteSpec::new("/api/echo"),
        |ctx: RequestContext| async move {
            let values = ctx.values();
            let name = values
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let email = values
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let age = values
                .get("age")
                .and_then(Value::as_u64)
                .unwrap_or_default();
            Ok(Map::from_iter([
                ("bio".to_owned(), json!(format!("Profile for {name}"))),
                (
                    "avatar".to_owned(),
                    json!(format!("https://example.com/a/{email}.jpg")),
                ),
                ("age".to_owned(), json!(age + 1)),
            ]))
        },
    );
    let (mut client_node, _) = or_panic(LocalNode::create_account(
        or_panic(new_random_agent_secret()),
        "Client",
    ));
    for piece in worker_pieces {
        or_panic(client_node.import(piece));
    }
    (worker, RequestClient::new(client_node))
}

fn request(client: &RequestClient, worker: &RequestWorker) -> http::Request<Bytes> {
    let values = json!({"name": "John Doe", "email": "john@example.com", "age": 30});
    let body =
        or_panic(client.request_body(worker.account(), values.as_object().unwrap_or(&Map::new())));
    let mut request = http::Request::new(Bytes::from(body.to_json().to_string()));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static("/api/echo");
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

/// The CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux; brought up
/// to date at least every scheduler tick, so only long runs are measured with it).
fn thread_cpu() -> std::time::Duration {
    let text = or_panic(std::fs::read_to_string("/proc/thread-self/schedstat"));
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected schedstat: {text}"));
    std::time::Duration::from_nanos(ns)
}

/// `JAZZ_REQ_BENCH_CLOCK=cpu`: instead of criterion's wall-time samples, `requests` echoes in
/// one run and the CPU time the worker's thread spent on them (every request runs on it here,
/// on a current-thread runtime; a store's writer thread is not counted), beside the wall
/// time: a figure that holds on a busy machine, where wall time grows with what else runs.
fn cpu_per_request(name: &str, storage: Option<Arc<dyn Storage>>, requests: usize) {
    let runtime = or_panic(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    );
    let (worker, client) = setup(storage);
    let warm: Vec<_> = (0..200).map(|_| request(&client, &worker)).collect();
    for req in warm {
        assert_eq!(runtime.block_on(worker.handle(req)).status(), 200);
    }
    let bodies: Vec<_> = (0..requests).map(|_| request(&client, &worker)).collect();
    let (cpu, wall) = (thread_cpu(), std::time::Instant::now());
    for req in bodies {
        assert_eq!(runtime.block_on(worker.handle(req)).status(), 200);
    }
    let (cpu, wall) = (thread_cpu().saturating_sub(cpu), wall.elapsed());
    #[allow(clippy::cast_precision_loss)] // a count of requests
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / requests as f64;
    println!(
        "{name}: {:.1} µs CPU per request ({:.1} µs wall), {requests} requests",
        per(cpu),
        per(wall)
    );
}

fn bench_with(c: &mut Criterion, name: &str, storage: Option<Arc<dyn Storage>>) {
    let runtime = or_panic(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    );
    let (worker, client) = setup(storage);
    // The first request makes the client known to the worker; later ones are "repeat".
    let first = runtime.block_on(worker.handle(request(&client, &worker)));
    assert_eq!(first.status(), 200, "{:?}", first.body());
    c.bench_function(name, |b| {
        // Only the worker's `handle` is timed; the client's bodies are made beforehand.
        b.iter_custom(|iters| {
            let requests: Vec<_> = (0..iters).map(|_| request(&client, &worker)).collect();
            let started = std::time::Instant::now();
            for req in requests {
                let response = runtime.block_on(worker.handle(req));
                assert_eq!(response.status(), 200);
            }
            started.elapsed()
        })
    });
}

fn benches(c: &mut Criterion) {
    if std::env::var("JAZZ_REQ_BENCH_CLOCK").is_ok_and(|v| v == "cpu") {
        let requests = std::env::var("JAZZ_REQ_BENCH_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(4_000);
        cpu_per_request("echo, no storage", None, requests);
        cpu_per_request(
            "echo, in-memory storage",
            Some(Arc::new(MemoryStorage::new())),
            requests,
        );
        return;
    }
    bench_with(c, "handle one echo request (no storage)", None);
    bench_with(
        c,
        "handle one echo request (in-memory storage)",
        Some(Arc::new(MemoryStorage::new())),
    );
    let dir = std::env::temp_dir().join(format!("jazz-req-bench-{}", std::process::id()));
    or_panic(std::fs::create_dir_all(&dir));
    let sqlite = or_panic(SqliteStorage::open(dir.join("worker.sqlite")));
    bench_with(
        c,
        "handle one echo request (SQLite, durable)",
        Some(Arc::new(sqlite)),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(request_benches, benches);
criterion_main!(request_benches);
