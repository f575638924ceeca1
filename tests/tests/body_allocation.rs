//! A body's size bounds what the worker allocates for it: a 1 MiB body of many tiny content
//! pieces (refused, its token does not match) must not make the worker ask for memory in
//! proportion to the number of pieces times a guess of their size.
//!
//! A test binary of its own: it counts every allocation of the process (a global allocator).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::sync::Arc;

use bytes::Bytes;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::request::{SystemClock, WorkerConfig};
use peak_alloc::PeakAlloc;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// The answer of the test route.
#[derive(CoMap, Debug)]
pub struct Done {
    pub ok: bool,
}

/// Never reached: every body here is refused before.
#[jazz_request(url = "/api/nothing")]
pub async fn nothing(ctx: RequestContext, n: u32) -> Result<Done, JazzRequestError> {
    let _ = (ctx, n);
    Ok(Done { ok: true })
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_of_many_tiny_pieces_allocates_in_proportion_to_its_size() {
    let secret = new_random_agent_secret().unwrap();
    let (node, account) = LocalNode::create_account(secret, "Worker").unwrap();
    let worker_pieces = node
        .export_json(&account, &jazz_req::cojson::ResolveQuery::Value)
        .unwrap();
    let worker = RequestWorker::with_clock(node, Arc::new(SystemClock), WorkerConfig::default())
        .unwrap()
        .register(Nothing);
    let (client_node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Client").unwrap();
    let client = RequestClient::new(client_node).with_worker(account.clone());
    client.import_pieces(&worker_pieces).unwrap();
    let mut body = client
        .request_body(&account, json!({"n": 1}).as_object().unwrap())
        .unwrap()
        .to_json();

    // Just under 1 MiB (the worker's limit) of pieces `0`: about half a million of them.
    let limit = worker.max_body_bytes();
    let pieces = (limit - 1_024) / 2;
    body["contentPieces"] = Value::Array(vec![json!(0); pieces]);
    let text = body.to_string();
    assert!(text.len() <= limit, "{} bytes", text.len());
    let request = http::Request::post("/api/nothing")
        .header("content-type", "application/json")
        .body(Bytes::from(text))
        .unwrap();

    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let response = worker.handle(request).await;
    let peak = ALLOCATOR.peak_usage().saturating_sub(before);
    let status = response.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    // The parsed pieces take 32 bytes each (16 MiB), their text 1 MiB; the signing text about
    // as much as the body. 64 MiB leaves room for all of it and none for a reservation per
    // piece (half a million pieces times 1 KiB is 512 MiB).
    assert!(
        peak < 64 << 20,
        "handling a {limit}-byte body of {pieces} pieces peaked at {} MiB",
        peak >> 20
    );
}
