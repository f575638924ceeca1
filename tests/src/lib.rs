//! Shared support for jazz-req's workspace tests: fixture loading and the Node side.

pub mod child_process;
pub mod covalue_vectors;
pub mod crypto_vectors;
pub mod fixtures;
pub mod holding_proxy;
pub mod kill_rounds;
pub mod meta_vectors;
pub mod node;
pub mod people;
pub mod rust_peer;
pub mod salt;
pub mod sync_apps;
pub mod sync_events;
pub mod sync_server;
pub mod sync_worker;
pub mod tickets_peer;
pub mod ts_peer;
pub mod unique_peer;
pub mod worker_process;
