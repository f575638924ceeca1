//! Every exchange of `requests.json`, made by jazz-tools 0.20.19 (the committed vectors, or
//! the folder named by `JAZZ_REQ_VECTORS_DIR`): the Rust worker decodes and handles each
//! request body (its exact text, the clock at its `createdAt`) into the values and sender the
//! JS worker got, references expanded; exporting and signing each envelope again gives the
//! exact bytes the JS client sent and the JS worker answered; the Rust client reads each
//! response into the whole tree the JS client showed, or the same typed error. The checks are
//! in `support/request_exchanges.rs`, shared with `regenerated_vectors.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "support/request_exchanges.rs"]
mod request_exchanges;

use jazz_req_tests::fixtures::{load_from, vectors_dir};
use request_exchanges::{
    Check, Exchanges, check_client_reads, check_request_bytes, check_response_bytes,
    check_worker_decodes, check_worker_handles,
};
use serde_json::Value;

fn vectors() -> (Value, Value) {
    let dir = vectors_dir();
    (
        load_from(&dir, "requests.json").unwrap(),
        load_from(&dir, "crypto.json").unwrap(),
    )
}

fn run(check: Check) {
    let (requests, crypto) = vectors();
    let checked = check(&Exchanges::new(&requests, &crypto)).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked >= 3, "only {checked} exchanges");
}

#[test]
fn the_worker_decodes_every_request_as_jazz_tools_did() {
    run(check_worker_decodes);
}

#[test]
fn the_worker_handles_every_request_with_the_values_and_sender_jazz_tools_got() {
    run(check_worker_handles);
}

#[test]
fn every_request_body_is_rebuilt_byte_for_byte() {
    run(check_request_bytes);
}

#[test]
fn every_response_body_is_rebuilt_byte_for_byte() {
    run(check_response_bytes);
}

#[test]
fn the_client_reads_every_response_as_jazz_tools_did() {
    run(check_client_reads);
}
