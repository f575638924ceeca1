//! Criterion benchmarks of all-or-nothing writes: `cargo bench -p jazz-req-core --bench atomic`.
//!
//! The same writes (create a group, create a map in it, append to a list of 1,000 items) in
//! a `batch`, in an `atomically` scope that succeeds, and in one that fails and is undone.
//! Each iteration starts from a fresh node holding the list (made outside the timing).

#![allow(missing_docs, clippy::panic)] // criterion_main! generates undocumented items

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jazz_req_core::cojson::{LocalNode, NodeError, Privacy};
use jazz_req_core::crypto::{CoID, random::new_random_agent_secret};
use serde_json::{Value, json};

fn node_with_list() -> (LocalNode, CoID) {
    let secret = new_random_agent_secret().unwrap_or_else(|e| panic!("{e}"));
    let (mut node, _) =
        LocalNode::create_account(secret, "Bench").unwrap_or_else(|e| panic!("{e}"));
    let group = node.create_group().unwrap_or_else(|e| panic!("{e}"));
    let items: Vec<Value> = (0..1000).map(|i| json!(format!("item {i}"))).collect();
    let list = node
        .create_list(&group, &items, Privacy::Private)
        .unwrap_or_else(|e| panic!("{e}"));
    (node, list)
}

fn writes(node: &mut LocalNode, list: &CoID) -> Result<CoID, NodeError> {
    let group = node.create_group()?;
    let map = node.create_map(&group, &[("title", json!("new"))], Privacy::Private)?;
    node.list_append(list, json!(map.as_str()), Privacy::Private)?;
    Ok(map)
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("group + map + append to a 1,000-item list");
    group.bench_function("batch", |b| {
        b.iter_batched(
            node_with_list,
            |(mut node, list)| {
                let map = node.batch(|node| writes(node, &list));
                black_box((map.is_ok(), node))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("atomically (succeeds)", |b| {
        b.iter_batched(
            node_with_list,
            |(mut node, list)| {
                let map = node.atomically(|node| writes(node, &list));
                black_box((map.is_ok(), node))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("atomically (fails, undone)", |b| {
        b.iter_batched(
            node_with_list,
            |(mut node, list)| {
                let undone: Result<CoID, NodeError> = node.atomically(|node| {
                    writes(node, &list)?;
                    Err(NodeError::NotLoaded(list.clone()))
                });
                black_box((undone.is_err(), node))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(atomic, benches);
criterion_main!(atomic);
