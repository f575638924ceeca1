//! Compile-time tests of the macros (trybuild): every `ui/pass/*.rs` must compile, and every
//! `ui/fail/*.rs` must fail to compile with exactly the errors of its `.stderr` file.
//!
//! Each failing file holds one mistake, named in its first comment and in its file name
//! (`request_*`, `resolve_*`, `comap_*`, `coenum_*`). After a deliberate change of a message,
//! regenerate with
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p jazz-req-tests --test ui
//! ```
//!
//! and read every changed `.stderr`: the error must be the intended one, at the user's token,
//! with no cascade of unrelated errors.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
