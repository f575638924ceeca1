//! Every entry of every section of `crypto.json` (committed fixtures, or the folder named by
//! `JAZZ_REQ_VECTORS_DIR`) reproduces byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_tests::crypto_vectors::{SECTIONS, check_all};
use jazz_req_tests::fixtures::{load_from, vectors_dir};

fn crypto_file() -> serde_json::Value {
    load_from(&vectors_dir(), "crypto.json").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_section_of_crypto_json_is_checked_and_matches() {
    let file = crypto_file();
    let counts = check_all(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts.len(), SECTIONS.len());
    for (name, count) in counts {
        assert!(count > 0, "{name} has no entries");
    }
}

macro_rules! section_test {
    ($name:ident, $check:path) => {
        #[test]
        fn $name() {
            let count = $check(&crypto_file()).unwrap_or_else(|e| panic!("{e}"));
            assert!(count > 0);
        }
    };
}

use jazz_req_tests::crypto_vectors as v;
section_test!(stable_stringify_matches, v::check_stable_stringify);
section_test!(secure_hash_matches, v::check_secure_hash);
section_test!(short_hash_matches, v::check_short_hash);
section_test!(agents_match, v::check_agents);
section_test!(signatures_match, v::check_signatures);
section_test!(encryption_matches, v::check_encryption);
section_test!(
    key_secret_encryption_matches,
    v::check_key_secret_encryption
);
section_test!(seals_match, v::check_seals);
section_test!(group_sealers_match, v::check_group_sealers);
section_test!(sealed_for_group_opens, v::check_sealed_for_group);
section_test!(blake3_with_context_matches, v::check_blake3_with_context);
