//! Runnable examples of jazz-req; see `examples/examples/` and run one with
//! `cargo run --example <name>`. The routes they serve live here, so tests use them too.

pub mod echo;
pub mod event_tickets;
pub mod loadgen;
pub mod ticket_sale;
