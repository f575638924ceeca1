//! jazz-tools apps and a jazz-tools worker that are peers of a real sync server
//! ([`crate::sync_server::SyncServer`]), for the live interop tests of issue 8:
//!
//! - [`run_sync_app`] runs `tests/js/interop-sync-app.mjs` (one operation per run: create an
//!   account on the server, organise an event, book as new buyers, echo, capture signed
//!   bodies, read back from the server; see the script's header), with a time limit;
//! - [`JsSyncWorker`] runs `tests/js/interop-sync-worker.mjs`: `startWorker({ syncServer,
//!   accountID, accountSecret })` and `route.handle()` behind Node's HTTP server, serving
//!   `POST /api/book-event-ticket` and `POST /api/echo`; killed on drop.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::child_process::{ChildError, ChildProcess};
use crate::node::{NodeError, run_node_script_within, spawn_node_script};
use crate::ts_peer::http_request;

/// How long one [`run_sync_app`] may take by default.
pub const APP_TIMEOUT: Duration = Duration::from_secs(90);

/// How long [`JsSyncWorker::start`] waits for the worker's line.
pub const WORKER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// What can go wrong while driving the Node side.
#[derive(Debug, thiserror::Error)]
pub enum SyncAppError {
    /// npm could not install the packages, or a script failed, timed out or could not be
    /// started (see [`NodeError`], which quotes its stderr).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The worker failed to start, or exited or stayed silent before its line (with its
    /// stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A script printed something other than the JSON expected.
    #[error("`{script}` printed no JSON line: {output}")]
    BadOutput {
        /// The script.
        script: &'static str,
        /// What it printed (possibly truncated).
        output: String,
    },
}

const APP_SCRIPT: &str = "interop-sync-app.mjs";
const WORKER_SCRIPT: &str = "interop-sync-worker.mjs";

/// Runs `interop-sync-app.mjs` with `input` and returns the JSON line it prints, killing it
/// after [`APP_TIMEOUT`].
///
/// # Errors
/// Those of [`run_sync_app_within`].
pub fn run_sync_app(input: &Value) -> Result<Value, SyncAppError> {
    run_sync_app_within(input, APP_TIMEOUT)
}

/// Runs `interop-sync-app.mjs` with `input`, killed after `limit`.
///
/// # Errors
/// [`SyncAppError::Node`] when npm fails, node cannot be run, or the script fails or times
/// out (with its stderr); [`SyncAppError::BadOutput`].
pub fn run_sync_app_within(input: &Value, limit: Duration) -> Result<Value, SyncAppError> {
    let output = run_node_script_within(Path::new(APP_SCRIPT), &input.to_string(), limit)?;
    let line = output.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|_| SyncAppError::BadOutput {
        script: APP_SCRIPT,
        output: output.chars().take(2000).collect(),
    })
}

/// Which crypto the jazz-tools worker runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JsCrypto {
    /// cojson's WebAssembly build: what `startWorker` uses when given none.
    #[default]
    Wasm,
    /// cojson's N-API build (native, faster).
    Napi,
}

/// A running `interop-sync-worker.mjs`: a jazz-tools worker that is a peer of a sync server.
#[derive(Debug)]
pub struct JsSyncWorker {
    /// Its stdin stays open: the worker exits when it closes.
    process: ChildProcess,
    /// `http://127.0.0.1:<port>`, the base URL of its routes.
    pub url: String,
    /// The worker's account.
    pub account: String,
    /// The account's agent secret.
    pub secret: String,
}

impl JsSyncWorker {
    /// Starts a jazz-tools worker on a new account it creates on the sync server at
    /// `sync_url`, and waits (up to [`WORKER_START_TIMEOUT`]) until it listens.
    ///
    /// # Errors
    /// As [`JsSyncWorker::start_with`].
    pub fn start(sync_url: &str) -> Result<Self, SyncAppError> {
        Self::start_with(sync_url, None, JsCrypto::default())
    }

    /// Starts a jazz-tools worker as the account `credentials` (`(accountID, agentSecret)`,
    /// which must be on the server) or, with `None`, a new one it creates there.
    ///
    /// # Errors
    /// [`SyncAppError::Node`] when npm or node fails; [`SyncAppError::Child`] with its stderr
    /// when it exits or stays silent before its line; [`SyncAppError::BadOutput`].
    pub fn start_with(
        sync_url: &str,
        credentials: Option<(&str, &str)>,
        crypto: JsCrypto,
    ) -> Result<Self, SyncAppError> {
        let mut process = spawn_node_script(Path::new(WORKER_SCRIPT), [""; 0])?;
        let mut input = json!({
            "url": sync_url,
            "crypto": match crypto { JsCrypto::Wasm => "wasm", JsCrypto::Napi => "napi" },
        });
        if let Some((account, secret)) = credentials {
            input["accountID"] = json!(account);
            input["agentSecret"] = json!(secret);
        }
        process.write_line(&input.to_string())?;
        let info = process.ready_line(WORKER_START_TIMEOUT)?;
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(url), Some(account), Some(secret)) =
            (text("url"), text("accountID"), text("agentSecret"))
        else {
            return Err(SyncAppError::BadOutput {
                script: WORKER_SCRIPT,
                output: info.to_string(),
            });
        };
        Ok(Self {
            process,
            url,
            account,
            secret,
        })
    }

    /// The Node process's id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `host:port` of its HTTP server.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The end of the worker's stderr so far.
    pub fn stderr_text(&self) -> String {
        self.process.stderr_text()
    }

    /// `GET /stats`: how many times each handler ran, and the process's memory.
    ///
    /// # Errors
    /// [`SyncAppError::BadOutput`] when the reply is not the JSON expected (the HTTP error,
    /// if any, in its text).
    pub fn stats(&self) -> Result<Value, SyncAppError> {
        let bad = |output: String| SyncAppError::BadOutput {
            script: WORKER_SCRIPT,
            output,
        };
        let reply = http_request(self.addr(), "GET", "/stats", None)
            .map_err(|e| bad(format!("GET /stats failed: {e}")))?;
        reply
            .body_json()
            .filter(|_| reply.status == 200)
            .ok_or_else(|| {
                bad(format!(
                    "GET /stats: {} {}",
                    reply.status,
                    reply.body_text()
                ))
            })
    }
}
