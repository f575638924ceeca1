//! Procedural macros of jazz-req: `#[jazz_request]` and `#[derive(CoMap)]`.
//!
//! The macros arrive with the request protocol; this crate is the place they live in, so
//! that the facade's dependency graph is final from the start.
