//! The request protocol of jazz-tools 0.20.19 `experimental_defineRequest`, byte-compatible:
//! signed envelopes of CoValue content, the worker's `handle` over the `http` crate's types,
//! and the client's `send`.
//!
//! - [`body`]: the signed body `{contentPieces, id, createdAt, authToken, signerID}`;
//! - [`envelope`]: building envelopes and taking received ones apart;
//! - [`worker`]: [`RequestWorker`], answering requests (checks, replay guard, handler,
//!   response, durable store of its effects);
//! - [`client`]: [`RequestClient`], sending requests and loading responses;
//! - [`error`]: [`JazzRequestError`] (message, code, details) and [`SendError`];
//! - [`replay`], [`clock`], [`route`], [`handler`].

pub mod body;
pub mod client;
pub mod client_bundle;
pub mod client_errors;
pub mod clock;
mod durable;
pub mod envelope;
pub mod error;
pub mod handler;
mod in_flight;
pub mod inspect;
pub mod outgoing;
pub mod replay;
pub mod route;
mod serial;
pub mod serve;
pub mod serve_options;
pub mod sync_peer;
pub mod timed_body;
pub mod tower_service;
pub mod typed_route;
mod unique;
pub mod worker;
pub mod worker_writes;
mod writes;

pub use body::SignedBody;
pub use client::{RequestClient, Response};
pub use client_bundle::{ClientBundle, ClientBundleBuilder};
pub use client_errors::{ClientLoadError, ImportError, Waiting};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{JazzRequestError, SendError};
pub use handler::{Handler, HandlerResult, RequestContext};
pub use inspect::{InspectReport, inspect};
pub use outgoing::OutgoingBody;
pub use replay::{ReplayGuard, StoredReplayGuard};
pub use route::RouteSpec;
pub use serve::{
    Listener, ServerHandle, serve, serve_connections, serve_connections_with, serve_until,
    serve_with, spawn_server, spawn_server_with,
};
pub use serve_options::ServeOptions;
pub use sync_peer::PeerStartError;
pub use typed_route::{Route, WorkerIdError, WorkerRef};
pub use worker::{DecodedRequest, RequestWorker, WorkerConfig, WorkerMemory};
pub use worker_writes::WorkerWriteError;
