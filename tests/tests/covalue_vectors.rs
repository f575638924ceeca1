//! CoValues and multi-peer scenarios made by real cojson 0.20.19 peers read the same in a
//! Rust node: every expectation of `covalues.json` and `scenarios.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_tests::covalue_vectors::{check_covalues, check_scenarios};
use jazz_req_tests::fixtures::{load_from, vectors_dir};

#[test]
fn every_covalue_reads_as_cojson_reads_it() {
    let dir = vectors_dir();
    let covalues = load_from(&dir, "covalues.json").unwrap_or_else(|e| panic!("{e}"));
    let crypto = load_from(&dir, "crypto.json").unwrap_or_else(|e| panic!("{e}"));
    let checked = check_covalues(&covalues, &crypto).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked >= 6, "only {checked} expectations");
}

#[test]
fn every_scenario_reads_as_the_real_observer_read_it() {
    let file = load_from(&vectors_dir(), "scenarios.json").unwrap_or_else(|e| panic!("{e}"));
    let checked = check_scenarios(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked >= 5, "only {checked} expectations");
}
