//! What the `load` and `yardstick` examples share: drive a worker's `POST /api/echo` or
//! `POST /api/book-event-ticket` over HTTP with pre-signed requests and measure it.
//!
//! - [`senders`]: sender accounts on the sync server, events to book, signed bodies;
//! - [`drive`]: sends bodies with a fixed number in flight and sums up the answers;
//! - [`procfs`]: a process's CPU time and resident memory, from `/proc` (Linux only);
//! - [`process`]: child processes (the sync server, the workers) that die with their owner,
//!   and the npm project of `tests/js` that runs the Node ones.

pub mod drive;
pub mod error;
pub mod process;
pub mod procfs;
pub mod senders;

pub use drive::{Driver, Route, Sent, Summary};
pub use error::LoadError;
pub use senders::Senders;
