//! A real Jazz sync server for the tests: `tests/js/sync-server.mjs` (cojson 0.20.19 +
//! cojson-transport-ws + ws, in memory, as `jazz-run sync --in-memory`), and
//! `tests/js/sync-peer.mjs`, a cojson client of it.
//!
//! [`SyncServer::start`] runs the server on a free port of `127.0.0.1` and stops it on drop;
//! [`SyncServer::restart`] stops it and starts a fresh one (empty, like any restarted
//! in-memory server) on the same port.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::child_process::{ChildError, ChildProcess};
use crate::node::{NodeError, run_node_script, spawn_node_script};

/// How long [`SyncServer::start`] waits for the server's port line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything that can go wrong while driving the sync server or its cojson peer.
#[derive(Debug, thiserror::Error)]
pub enum SyncServerError {
    /// npm or a Node script failed (see [`NodeError`]).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// `node sync-server.mjs` failed to start, or exited or stayed silent before printing
    /// its port (with its stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A script printed something other than the JSON its contract promises.
    #[error("{what} is not the expected JSON: {output}")]
    BadOutput {
        /// Which output.
        what: &'static str,
        /// The output (possibly truncated).
        output: String,
    },
}

/// How to run the server.
#[derive(Clone, Debug, Default)]
pub struct SyncServerOptions {
    /// Listen on this port (`None`: a free one).
    pub port: Option<u16>,
    /// Send what a connection is sent within one event-loop tick as one frame (messages
    /// joined by `"\n"`), as cojson-transport-ws batches queued messages.
    pub batch: bool,
    /// Append every frame, both ways, to this file as JSON lines `{"dir","frame"}`.
    pub capture: Option<PathBuf>,
}

/// A running `tests/js/sync-server.mjs`; killed on drop.
#[derive(Debug)]
pub struct SyncServer {
    /// Its stdin stays open: the server exits when it closes.
    process: ChildProcess,
    port: u16,
    options: SyncServerOptions,
}

impl SyncServer {
    /// Starts an in-memory sync server on a free port.
    ///
    /// # Errors
    /// As [`SyncServer::start_with`].
    pub fn start() -> Result<Self, SyncServerError> {
        Self::start_with(SyncServerOptions::default())
    }

    /// Starts an in-memory sync server as `options` say, and waits (up to [`START_TIMEOUT`])
    /// until it listens.
    ///
    /// # Errors
    /// Those of [`spawn_node_script`]; [`SyncServerError::Child`] when it exits or stays
    /// silent before its port line (with its stderr); [`SyncServerError::BadOutput`].
    pub fn start_with(options: SyncServerOptions) -> Result<Self, SyncServerError> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(port) = options.port {
            args.extend(["--port".into(), port.to_string().into()]);
        }
        if options.batch {
            args.push("--batch".into());
        }
        if let Some(capture) = &options.capture {
            args.extend(["--capture".into(), capture.into()]);
        }
        let mut process = spawn_node_script(Path::new("sync-server.mjs"), args)?;
        let info = process.ready_line(START_TIMEOUT)?;
        let port = info
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(|| SyncServerError::BadOutput {
                what: "sync-server.mjs stdout",
                output: info.to_string().chars().take(2000).collect(),
            })?;
        Ok(Self {
            process,
            port,
            options,
        })
    }

    /// The Node process's id (e.g. to read its CPU time).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ws://127.0.0.1:<port>`, the URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The end of the server's stderr so far.
    pub fn stderr_text(&self) -> String {
        self.process.stderr_text()
    }

    /// Kills the server (its connections drop at once) and waits for it to exit.
    pub fn stop(&mut self) {
        // An error means it is gone already: either way it is gone.
        let _ = self.process.kill();
    }

    /// Stops the server and starts a new, empty one on the same port with the same options.
    ///
    /// # Errors
    /// As [`SyncServer::start_with`].
    pub fn restart(&mut self) -> Result<(), SyncServerError> {
        self.stop();
        let options = SyncServerOptions {
            port: Some(self.port),
            ..self.options.clone()
        };
        *self = Self::start_with(options)?;
        Ok(())
    }
}

/// Runs `tests/js/sync-peer.mjs` (a cojson client of a sync server) with `input` and returns
/// the JSON it prints (see the script's header for the operations).
///
/// # Errors
/// Those of [`run_node_script`]; [`SyncServerError::BadOutput`] when it prints no JSON.
pub fn run_sync_peer(input: &Value) -> Result<Value, SyncServerError> {
    let output = run_node_script(Path::new("sync-peer.mjs"), &input.to_string())?;
    let line = output.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|_| SyncServerError::BadOutput {
        what: "sync-peer.mjs stdout",
        output: output.chars().take(2000).collect(),
    })
}
