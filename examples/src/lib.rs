//! Runnable examples of jazz-req; see `examples/examples/` and run one with
//! `cargo run --example <name>`.
