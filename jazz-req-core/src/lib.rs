//! Runtime of jazz-req: Jazz's crypto and wire format (cojson 0.20.19), and — as the crate
//! grows — the CoValue engine, storage, sync and the request protocol.
//!
//! Most users depend on the `jazz-req` facade crate instead of this one.

pub mod auth_token;
pub mod cojson;
pub mod crypto;
pub mod request;
pub mod schema;
pub mod storage;
pub mod sync;
