//! Transaction meta made by real cojson 0.20.19 / jazz-tools 0.20.19 peers reads the same in a
//! Rust node: every case of `meta.json` (reader branch pointers, first writer wins, unique
//! values created by two clients, merged branches, hand-written merge meta, an account's role
//! in itself), for every observer, value and transaction.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_tests::fixtures::{load_from, vectors_dir};
use jazz_req_tests::meta_vectors::check_meta;

#[test]
fn every_meta_case_reads_as_cojson_reads_it() {
    let file = load_from(&vectors_dir(), "meta.json").unwrap_or_else(|e| panic!("{e}"));
    let checks = check_meta(&file).unwrap_or_else(|e| panic!("{e}"));
    println!("meta.json: {checks:?}");
    // Each kind of verdict is present, so a check that always passed would show here.
    assert!(checks.cases >= 10, "{checks:?}");
    assert!(checks.views > checks.cases, "{checks:?}");
    assert!(checks.invalid >= 10, "{checks:?}");
    assert!(checks.dropped >= 1, "{checks:?}");
    assert!(checks.merged >= 10, "{checks:?}");
    assert!(checks.roles >= 2, "{checks:?}");
    assert!(checks.unique_ids >= 2, "{checks:?}");
}
