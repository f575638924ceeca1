//! What the generated glue costs: `cargo bench -p jazz-req --bench typed_route`.
//!
//! The same echo request (3 fields in, 3 out) handled by the worker in process, once on an
//! untyped route (`RouteSpec` + a closure over JSON) and once on the route
//! `#[jazz_request]` generates (typed request read, typed response written). No storage, no
//! network; the client's bodies are made beforehand, as in jazz-req-core's `request` bench
//! (on mimalloc as the worker binary; `JAZZ_REQ_BENCH_CLOCK=cpu` prints the CPU time of the
//! worker's thread per request over one long run instead, as there).

#![allow(missing_docs, clippy::panic)] // criterion_main! generates undocumented items

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use jazz_req::cojson::ResolveQuery;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use serde_json::{Map, Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn or_panic<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// The typed echo's answer.
#[derive(CoMap)]
pub struct Profile {
    pub bio: String,
    pub avatar: String,
    pub age: u32,
}

/// The typed echo.
#[jazz_request(url = "/api/typed-echo")]
pub async fn typed_echo(
    _ctx: RequestContext,
    name: String,
    email: String,
    age: u32,
) -> Result<Profile, JazzRequestError> {
    Ok(Profile {
        bio: format!("Profile for {name}"),
        avatar: format!("https://example.com/a/{email}.jpg"),
        age: age + 1,
    })
}

fn untyped_echo(ctx: &RequestContext) -> Map<String, Value> {
    let values = ctx.values();
    let text = |key| values.get(key).and_then(Value::as_str).unwrap_or_default();
    let age = values
        .get("age")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    Map::from_iter([
        (
            "bio".to_owned(),
            json!(format!("Profile for {}", text("name"))),
        ),
        (
            "avatar".to_owned(),
            json!(format!("https://example.com/a/{}.jpg", text("email"))),
        ),
        ("age".to_owned(), json!(age + 1)),
    ])
}

fn setup() -> (RequestWorker, RequestClient) {
    let (worker_node, worker_account) = or_panic(LocalNode::create_account(
        or_panic(new_random_agent_secret()),
        "Worker",
    ));
    let worker_pieces = or_panic(worker_node.export(&worker_account, &ResolveQuery::Value));
    let worker = or_panic(RequestWorker::new(worker_node))
        .route(
            RouteSpec::new("/api/echo"),
            |ctx: RequestContext| async move { Ok(untyped_echo(&ctx)) },
        )
        .register(TypedEcho);
    let (mut client_node, _) = or_panic(LocalNode::create_account(
        or_panic(new_random_agent_secret()),
        "Client",
    ));
    for piece in worker_pieces {
        or_panic(client_node.import(piece));
    }
    (worker, RequestClient::new(client_node))
}

fn request(
    client: &RequestClient,
    worker: &RequestWorker,
    path: &'static str,
) -> http::Request<Bytes> {
    let values = json!({"name": "John Doe", "email": "john@example.com", "age": 30});
    let body =
        or_panic(client.request_body(worker.account(), values.as_object().unwrap_or(&Map::new())));
    let mut request = http::Request::new(Bytes::from(body.to_json().to_string()));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static(path);
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

/// The CPU time this thread has run, from `/proc/thread-self/schedstat` (Linux).
fn thread_cpu() -> std::time::Duration {
    let text = or_panic(std::fs::read_to_string("/proc/thread-self/schedstat"));
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected schedstat: {text}"));
    std::time::Duration::from_nanos(ns)
}

/// `requests` echoes on `path` in one run: CPU time of the worker's thread, and wall time.
fn cpu_per_request(
    runtime: &tokio::runtime::Runtime,
    (worker, client): (&RequestWorker, &RequestClient),
    (name, path): (&str, &'static str),
    requests: usize,
) {
    for _ in 0..200 {
        let response = runtime.block_on(worker.handle(request(client, worker, path)));
        assert_eq!(response.status(), 200);
    }
    let bodies: Vec<_> = (0..requests)
        .map(|_| request(client, worker, path))
        .collect();
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

fn benches(c: &mut Criterion) {
    let runtime = or_panic(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    );
    let (worker, client) = setup();
    if std::env::var("JAZZ_REQ_BENCH_CLOCK").is_ok_and(|v| v == "cpu") {
        let requests = std::env::var("JAZZ_REQ_BENCH_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(4_000);
        for route in [
            ("untyped route", "/api/echo"),
            ("#[jazz_request] route", "/api/typed-echo"),
        ] {
            cpu_per_request(&runtime, (&worker, &client), route, requests);
        }
        return;
    }
    let mut group = c.benchmark_group("echo request, handled in process");
    for (name, path) in [
        ("untyped route", "/api/echo"),
        ("#[jazz_request] route", "/api/typed-echo"),
    ] {
        // The first request makes the client known to the worker; later ones are "repeat".
        let first = runtime.block_on(worker.handle(request(&client, &worker, path)));
        assert_eq!(first.status(), 200, "{:?}", first.body());
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let requests: Vec<_> = (0..iters)
                    .map(|_| request(&client, &worker, path))
                    .collect();
                let started = std::time::Instant::now();
                for req in requests {
                    let response = runtime.block_on(worker.handle(req));
                    assert_eq!(response.status(), 200);
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(typed_route_benches, benches);
criterion_main!(typed_route_benches);
