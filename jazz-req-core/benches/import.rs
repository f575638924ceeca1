//! Criterion benchmarks of the CoValue engine: `cargo bench -p jazz-req-core --bench import`.
//!
//! The four content pieces of a real request envelope (`requests.json`
//! `exchanges[0].requestBody.contentPieces`: client account, worker account, envelope group,
//! envelope) imported into a fresh node (every session verified: the floor is four Ed25519
//! verifications), re-imported into a node that has them (no signature checks), and read.

#![allow(missing_docs, clippy::panic)] // criterion_main! generates undocumented items

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use jazz_req_core::cojson::{ContentMessage, LocalNode, keys::Reader};
use jazz_req_core::crypto::{AgentSecret, CoID};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let dir = std::env::var_os("JAZZ_REQ_VECTORS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cojson"),
        Into::into,
    );
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn benches(c: &mut Criterion) {
    let requests = fixture("requests.json");
    let crypto = fixture("crypto.json");
    let body = &requests["exchanges"][0]["requestBody"];
    let pieces: Vec<ContentMessage> = body["contentPieces"]
        .as_array()
        .unwrap_or_else(|| panic!("no contentPieces"))
        .iter()
        .map(|p| ContentMessage::from_json(p).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let texts: Vec<String> = pieces.iter().map(ContentMessage::to_json_string).collect();
    let worker = CoID::parse(requests["workerAccountID"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = AgentSecret::parse(
        crypto["agents"][2]["agentSecret"]
            .as_str()
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let reader = Reader::new(Some(worker), secret);
    let envelope =
        CoID::parse(body["id"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));

    let fresh_node = || {
        let mut node = LocalNode::new(reader.clone());
        for piece in &pieces {
            node.import(piece.clone()).unwrap_or_else(|e| panic!("{e}"));
        }
        node
    };
    let loaded = fresh_node();

    c.bench_function("parse 4 request pieces from JSON text", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| ContentMessage::from_json_str(black_box(t)))
                .collect::<Result<Vec<_>, _>>()
        })
    });
    c.bench_function("import + verify 4 request pieces (fresh node)", |b| {
        b.iter(|| black_box(fresh_node()))
    });
    c.bench_function("re-import 4 known pieces (no signature checks)", |b| {
        b.iter_batched(
            || (fresh_node(), pieces.clone()),
            |(mut node, pieces)| {
                for piece in pieces {
                    node.import(piece).unwrap_or_else(|e| panic!("{e}"));
                }
                node
            },
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("read the envelope (validate, unseal key, decrypt)", |b| {
        b.iter(|| {
            loaded
                .read(black_box(&envelope))
                .unwrap_or_else(|e| panic!("{e}"))
        })
    });
}

criterion_group!(import_benches, benches);
criterion_main!(import_benches);
