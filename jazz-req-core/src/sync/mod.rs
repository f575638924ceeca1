//! A client of a Jazz sync server: cojson 0.20.19's sync protocol (`src/sync.ts`) over a
//! WebSocket as cojson-transport-ws frames it, wire-compatible with `jazz-run sync` and Jazz
//! Cloud.
//!
//! - [`message`]: the protocol's messages (`load`, `known`, `content`, `done`, reconcile) and
//!   the server's ping, parsed and written;
//! - [`frame`]: several messages per frame, split on receipt and batched on sending;
//! - `state` (internal): the protocol state — what the server holds, loads waiting for
//!   answers, pushes waiting for acknowledgements — as a pure state machine;
//! - `connection` (internal): the task that owns the WebSocket: keep-alive, reconnection
//!   with [`Backoff`], resending what was not acknowledged;
//! - [`client`]: [`SyncClient`], the handle;
//! - [`source`]: [`ContentSource`], how the node side answers the server's questions;
//! - [`deps`]: what loaded content depends on.
//!
//! # The seam towards the worker
//!
//! The client never sees the node: it moves [`ContentMessage`]s, and the node side imports
//! and exports them under its own lock, never across an `.await` of the client.
//!
//! - **Loading** (resolve): with the node's lock held, find what a resolve query misses
//!   (`LocalNode::missing_for`); release it; `client.load(&id).await` (or the embedded store
//!   first, then the client: both are places a CoValue comes from); take the lock again and
//!   import the messages in order (verification can run before the lock with
//!   `VerifiedCoValue::verify_content`). Repeat until nothing is missing.
//! - **Writing** (a request's writes): with the lock held, take what the handler wrote (and
//!   what the request imported, e.g. its envelope) as content messages; release it; then
//!   store them durably and `client.push(content).await` concurrently; answer the request when
//!   both are done — `push` returns once the server acknowledged, as jazz-tools'
//!   `waitForSync` does before a worker's response leaves.
//! - **Answering the server**: give the client a [`ContentSource`] over the node (a
//!   `Mutex<LocalNode>` is one; a worker implements it on its shared state, holding a `Weak`
//!   to avoid a reference cycle with the client it owns). The server asks for dependencies of
//!   pushed content it lacks, and for everything after it restarted.
//! - **Updates**: one task drains [`SyncClient::updates`] and imports each message (a short
//!   lock each), so CoValues the worker loaded stay current.
//! - **Start and stop**: `SyncClient::connect` fails with a typed error when the server is
//!   unreachable (a worker start should report it); [`SyncClient::shutdown`] waits for the
//!   acknowledgement of everything pushed.
//!
//! The storage and the sync server are then two peers of the same shape — each loads a
//! CoValue with its dependencies as content messages and accepts content durably — so a
//! worker can hold a list of them instead of special-casing either.

pub mod backoff;
pub mod client;
#[cfg(test)]
mod client_tests;
mod connection;
pub mod deps;
pub mod error;
pub mod frame;
pub mod message;
pub mod options;
pub mod source;
mod state;
#[cfg(test)]
mod state_tests;

pub use backoff::Backoff;
pub use client::{PendingPush, SyncClient, Updates};
pub use connection::ConnectionState;
pub use error::{MessageError, SyncError, TransportError};
pub use frame::{FrameBatcher, MAX_FRAME_CHARS, parse_frame};
pub use message::{Incoming, KnownMessage, SyncMessage};
pub use options::SyncOptions;
pub use source::ContentSource;

#[cfg(doc)]
use crate::cojson::ContentMessage;
