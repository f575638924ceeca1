//! What the generated glue costs: `cargo bench -p jazz-req --bench typed_route`.
//!
//! The same echo request (3 fields in, 3 out) handled by the worker in process, once on an
//! untyped route (`RouteSpec` + a closure over JSON) and once on the route
//! `#[jazz_request]` generates (typed request read, typed response written). No storage, no
//! network; the client's bodies are made beforehand, as in jazz-req-core's `request` bench.

#![allow(missing_docs, clippy::panic)] // criterion_main! generates undocumented items

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use jazz_req::cojson::ResolveQuery;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use serde_json::{Map, Value, json};

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

fn benches(c: &mut Criterion) {
    let runtime = or_panic(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    );
    let (worker, client) = setup();
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
