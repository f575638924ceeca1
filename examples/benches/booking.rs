//! What one booking costs the worker as its event fills up:
//! `cargo bench -p jazz-req-examples --bench booking`.
//!
//! The seed's route (`book_event_ticket`) handled in process by a worker on an in-memory
//! store, with 100, 1,600 and 10,000 reservations already made (`BOOKING_SIZES=100,1600`
//! for others). The clients' bodies are made beforehand; only `handle` is timed. No
//! network and no sync server: what is measured is the worker's own work per booking.

#![allow(missing_docs, clippy::panic, clippy::unwrap_used)] // criterion_main! generates undocumented items

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use jazz_req::cojson::ResolveQuery;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{BookEventTicket, create_event};
use serde_json::{Map, Value};

fn or_panic<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A worker with the booking route and an event of `capacity` seats, and a client that
/// knows both.
fn setup(capacity: u32) -> (RequestWorker, RequestClient, CoID) {
    let (mut node, account) = or_panic(LocalNode::create_account(
        or_panic(new_random_agent_secret()),
        "Worker",
    ));
    node.attach_storage(Arc::new(MemoryStorage::new()));
    or_panic(node.flush());
    let event =
        or_panic(node.atomically(|node| create_event(&mut Tx::new(node), "Bench", capacity)));
    let event_id = event.id().clone();
    let mut pieces = or_panic(node.export(&account, &ResolveQuery::Value));
    pieces.extend(or_panic(node.export(&event_id, &ResolveQuery::Value)));
    let worker = or_panic(RequestWorker::new(node)).register(BookEventTicket);
    let (mut client_node, _) = or_panic(LocalNode::create_account(
        or_panic(new_random_agent_secret()),
        "Buyer",
    ));
    for piece in pieces {
        or_panic(client_node.import(piece));
    }
    (worker, RequestClient::new(client_node), event_id)
}

fn booking(client: &RequestClient, worker: &RequestWorker, event: &CoID) -> http::Request<Bytes> {
    let mut values = Map::new();
    values.insert("event".into(), Value::from(event.as_str()));
    let body = or_panic(client.request_body(worker.account(), &values));
    let mut request = http::Request::new(Bytes::from(body.to_json().to_string()));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = http::Uri::from_static("/api/book-event-ticket");
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

fn book(runtime: &tokio::runtime::Runtime, worker: &RequestWorker, request: http::Request<Bytes>) {
    let response = runtime.block_on(worker.handle(request));
    assert_eq!(response.status(), 200, "{:?}", response.body());
}

/// This process's CPU time (user + system) so far, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Books `count` more and prints the CPU and wall time each took, on average.
fn print_cpu_per_booking(
    runtime: &tokio::runtime::Runtime,
    worker: &RequestWorker,
    client: &RequestClient,
    event: &CoID,
    size: usize,
    count: usize,
) {
    let requests: Vec<_> = (0..count).map(|_| booking(client, worker, event)).collect();
    let (Some(cpu_before), started) = (cpu_seconds(), std::time::Instant::now()) else {
        return;
    };
    for request in requests {
        book(runtime, worker, request);
    }
    let wall = started.elapsed().as_secs_f64();
    if let Some(cpu_after) = cpu_seconds() {
        println!(
            "at {size} reservations: {:.3} ms CPU and {:.3} ms wall per booking ({count} bookings)",
            (cpu_after - cpu_before) * 1000.0 / count as f64,
            wall * 1000.0 / count as f64,
        );
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("BOOKING_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1_600, 10_000])
}

fn benches(c: &mut Criterion) {
    let runtime = or_panic(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    );
    let mut group = c.benchmark_group("booking, handled in process");
    group.sample_size(20);
    for size in sizes() {
        let (worker, client, event) = setup(u32::MAX);
        for _ in 0..size {
            book(&runtime, &worker, booking(&client, &worker, &event));
        }
        print_cpu_per_booking(&runtime, &worker, &client, &event, size, 300);
        group.bench_function(format!("at {size} reservations"), |b| {
            b.iter_custom(|iters| {
                let requests: Vec<_> = (0..iters)
                    .map(|_| booking(&client, &worker, &event))
                    .collect();
                let started = std::time::Instant::now();
                for request in requests {
                    book(&runtime, &worker, request);
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(booking_benches, benches);
criterion_main!(booking_benches);
