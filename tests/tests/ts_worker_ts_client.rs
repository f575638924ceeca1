//! The Node peers work together: the real jazz-tools client (`tests/js/ts-client.mjs`)
//! calls the real jazz-tools worker (`tests/js/ts-worker.mjs`) over real HTTP. Also
//! documents how jazz-tools 0.20.19 treats concurrent duplicates of one signed request
//! (REFERENCE-cojson.md §15 trap 11): the numbers are printed for the README.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Barrier;
use std::time::{Duration, Instant};

use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_tests::ts_peer::{HttpReply, TsWorker, run_ts_client};
use serde_json::{Value, json};

fn secret() -> String {
    new_random_agent_secret()
        .unwrap()
        .to_secret_string()
        .to_string()
}

fn person(name: &str) -> Value {
    json!({ "name": name, "email": format!("{}@example.com", name.to_lowercase()), "age": 30 })
}

#[test]
fn ts_client_calls_ts_worker_over_http() {
    let worker = TsWorker::start(&secret(), 2).unwrap();
    println!("ts-worker.mjs started in {:?}", worker.startup_time());
    let requests = json!([
        { "route": "echo", "values": person("John") },
        { "route": "fail", "values": person("Late") },
    ]);
    let started = Instant::now();
    let out = run_ts_client(&worker.client_input(&secret(), requests)).unwrap();
    println!("ts-client.mjs (2 requests) ran in {:?}", started.elapsed());
    let client = out["clientAccountID"].as_str().unwrap();
    assert!(client.starts_with("co_z"));
    assert_eq!(out["clientPieces"][0]["id"], client);

    let echo = &out["results"][0]["ok"];
    assert_eq!(
        echo["bio"],
        format!("Profile for John by {client}"),
        "{out:#}"
    );
    assert_eq!(echo["avatar"], "https://example.com/a/john@example.com.jpg");

    let fail = &out["results"][1]["error"];
    assert_eq!(fail["message"], "Event is full", "{out:#}");
    assert_eq!(fail["code"], 400);
    assert_eq!(fail["details"], json!({ "capacity": 2 }));
    assert_eq!(fail["isJazzRequestError"], true);

    assert_eq!(worker.handler_runs("echo").unwrap(), 1);
    assert_eq!(worker.handler_runs("fail").unwrap(), 1);
}

#[test]
fn ts_worker_books_until_the_event_is_full() {
    let worker = TsWorker::start(&secret(), 1).unwrap();
    let requests = json!([{ "route": "book-event-ticket" }, { "route": "book-event-ticket" }]);
    let out = run_ts_client(&worker.client_input(&secret(), requests)).unwrap();

    let ticket = &out["results"][0]["ok"]["ticket"];
    assert_eq!(ticket["seat"], 1, "{out:#}");
    assert!(ticket["$jazz"]["id"].as_str().unwrap().starts_with("co_z"));
    assert_eq!(ticket["event"]["$jazz"]["id"], worker.event_id());

    let full = &out["results"][1]["error"];
    assert_eq!(full["message"], "Event is full", "{out:#}");
    assert_eq!(full["code"], 400);
    assert_eq!(full["details"], json!({ "capacity": 1 }));
    assert_eq!(full["isJazzRequestError"], true);
    assert_eq!(worker.handler_runs("book-event-ticket").unwrap(), 2);
}

#[test]
fn ts_worker_answers_500_to_a_body_that_is_not_json() {
    let worker = TsWorker::start(&secret(), 2).unwrap();
    let reply = worker.post("/api/echo", b"not json").unwrap();
    assert_eq!(reply.status, 500, "{}", reply.body_text());
    assert_eq!(worker.handler_runs("echo").unwrap(), 0);
}

/// Captures one signed request body of `route` from the TS client.
fn captured_body(worker: &TsWorker, route: &str, values: Value) -> String {
    let mut input = worker.client_input(&secret(), json!([{ "route": route, "values": values }]));
    input["captureOnly"] = json!(true);
    let out = run_ts_client(&input).unwrap();
    assert!(out.get("results").is_none());
    assert_eq!(out["bodies"].as_array().unwrap().len(), 1, "{out:#}");
    out["rawBodies"][0].as_str().unwrap().to_owned()
}

/// Posts `body` to `path` from `n` threads released together.
fn post_concurrently(worker: &TsWorker, path: &str, body: &str, n: usize) -> Vec<HttpReply> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    worker.post(path, body.as_bytes()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn summary(replies: &[HttpReply]) -> Vec<String> {
    replies
        .iter()
        .map(|r| match r.body_json() {
            Some(body) if r.status != 200 => format!("{} {}", r.status, body["message"]),
            _ => r.status.to_string(),
        })
        .collect()
}

/// Sends N copies of one captured echo request and one captured booking at once; returns
/// (echo replies, echo handler runs, booking replies, booking handler runs).
fn duplicates(worker: &TsWorker, n: usize) -> (Vec<HttpReply>, u64, Vec<HttpReply>, u64) {
    let echo = captured_body(worker, "echo", person("Dup"));
    let echoed = post_concurrently(worker, "/api/echo", &echo, n);
    let echo_runs = worker.handler_runs("echo").unwrap();
    let book = captured_body(worker, "book-event-ticket", Value::Null);
    let booked = post_concurrently(worker, "/api/book-event-ticket", &book, n);
    let book_runs = worker.handler_runs("book-event-ticket").unwrap();
    // A copy sent afterwards is always refused by the `$handled` mark.
    let late = worker.post("/api/echo", echo.as_bytes()).unwrap();
    assert_eq!(late.status, 400, "{}", late.body_text());
    assert_eq!(
        late.body_json().unwrap()["message"],
        "Request payload is already handled"
    );
    (echoed, echo_runs, booked, book_runs)
}

const N: usize = 5;

/// REFERENCE §15 trap 11. A worker without a sync server goes from parsing the body to
/// writing `$handled` without leaving the microtask queue (everything it loads is in
/// memory), so copies arriving on separate connections are serialised by Node's event
/// loop: the first runs, the others get 400 "already handled".
#[test]
fn jazz_tools_standalone_worker_refuses_concurrent_duplicates() {
    let worker = TsWorker::start(&secret(), N as u32).unwrap();
    let (echoed, echo_runs, booked, book_runs) = duplicates(&worker, N);
    println!(
        "jazz-tools, no sync server, {N} concurrent copies: echo {:?} handler ran {echo_runs}x; \
         book-event-ticket {:?} handler ran {book_runs}x",
        summary(&echoed),
        summary(&booked)
    );
    for (replies, runs) in [(&echoed, echo_runs), (&booked, book_runs)] {
        assert_eq!(runs, 1);
        assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
        assert!(replies.iter().all(|r| r.status == 200
            || (r.status == 400
                && r.body_json().unwrap()["message"] == "Request payload is already handled")));
    }
}

/// REFERENCE §15 trap 11, as in production: with a sync server, the replay check first asks
/// the server for the envelope (a network round trip), so every copy that arrives within
/// that round trip passes the check and runs the handler — one signed booking request
/// books several seats.
///
/// How many copies land within the round trip is timing, so what is asserted is that more
/// than one ran (the trap), each 200 being one handler run and every other copy refused as
/// already handled; the printed line says how many did (usually all of them).
#[test]
fn jazz_tools_worker_with_sync_server_runs_the_handler_once_per_concurrent_duplicate() {
    // Wide enough that all copies land within one round trip even on a loaded machine.
    let latency = Duration::from_millis(250);
    let worker = TsWorker::start_with(&secret(), N as u32, Some(latency)).unwrap();
    let (echoed, echo_runs, booked, book_runs) = duplicates(&worker, N);
    println!(
        "jazz-tools, sync server {latency:?} away, {N} concurrent copies: echo {:?} handler ran \
         {echo_runs}x; book-event-ticket {:?} handler ran {book_runs}x",
        summary(&echoed),
        summary(&booked)
    );
    for (replies, runs) in [(&echoed, echo_runs), (&booked, book_runs)] {
        assert!(runs > 1, "{:?}", summary(replies));
        let ok = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(ok as u64, runs, "{:?}", summary(replies));
        assert!(
            replies.iter().all(|r| r.status == 200
                || (r.status == 400
                    && r.body_json().unwrap()["message"] == "Request payload is already handled")),
            "{:?}",
            summary(replies)
        );
    }
}
