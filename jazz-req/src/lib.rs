//! jazz-req: HTTP requests with server workers for Jazz apps, in Rust.
//!
//! A TypeScript Jazz client can call a Rust worker and a Rust client a TypeScript worker:
//! the bytes on the wire are exactly those of jazz-tools / cojson 0.20.19.
//!
//! Today the facade exposes the Jazz-compatible crypto layer ([`crypto`]); the CoValue
//! engine, the request protocol and the macros build on it.

pub use jazz_req_core::crypto;
