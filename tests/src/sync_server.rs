//! A real Jazz sync server for the tests: `tests/js/sync-server.mjs` (cojson 0.20.19 +
//! cojson-transport-ws + ws, in memory, as `jazz-run sync --in-memory`), and
//! `tests/js/sync-peer.mjs`, a cojson client of it.
//!
//! [`SyncServer::start`] runs the server on a free port of `127.0.0.1` and stops it on drop;
//! [`SyncServer::restart`] stops it and starts a fresh one (empty, like any restarted
//! in-memory server) on the same port.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::node::{NodeError, ensure_npm_installed, run_node_script};

/// How long [`SyncServer::start`] waits for the server's port line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything that can go wrong while driving the sync server or its cojson peer.
#[derive(Debug, thiserror::Error)]
pub enum SyncServerError {
    /// npm or a Node script failed (see [`NodeError`]).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// `node sync-server.mjs` could not be started.
    #[error("could not start `node sync-server.mjs`")]
    Spawn(#[source] io::Error),
    /// The log file for the server's stderr could not be created.
    #[error("could not create {}", .path.display())]
    Log {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server printed no port within [`START_TIMEOUT`].
    #[error("sync-server.mjs printed no port within {waited:?}; its stderr:\n{stderr}")]
    StartTimeout {
        /// How long we waited.
        waited: Duration,
        /// The server's stderr so far.
        stderr: String,
    },
    /// The server exited before printing its port.
    #[error("sync-server.mjs exited ({status:?}) before printing its port; its stderr:\n{stderr}")]
    Exited {
        /// Its exit status, when known.
        status: Option<ExitStatus>,
        /// Its stderr.
        stderr: String,
    },
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
    child: Child,
    /// Kept open: the server exits when its stdin closes.
    _stdin: Option<ChildStdin>,
    port: u16,
    options: SyncServerOptions,
    stderr_log: PathBuf,
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
    /// until it listens. Its stderr goes to a log file, kept when the thread panics.
    ///
    /// # Errors
    /// Those of [`ensure_npm_installed`]; [`SyncServerError::Spawn`],
    /// [`SyncServerError::StartTimeout`], [`SyncServerError::Exited`],
    /// [`SyncServerError::BadOutput`].
    pub fn start_with(options: SyncServerOptions) -> Result<Self, SyncServerError> {
        let js = ensure_npm_installed()?;
        let stderr_log = fresh_log_path();
        let log = File::create(&stderr_log).map_err(|source| SyncServerError::Log {
            path: stderr_log.clone(),
            source,
        })?;
        let mut command = Command::new("node");
        command.arg("sync-server.mjs");
        if let Some(port) = options.port {
            command.args(["--port", &port.to_string()]);
        }
        if options.batch {
            command.arg("--batch");
        }
        if let Some(capture) = &options.capture {
            command.arg("--capture").arg(capture);
        }
        let mut child = command
            .current_dir(&js)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => SyncServerError::Node(NodeError::ToolMissing {
                    tool: "node",
                    source,
                }),
                _ => SyncServerError::Spawn(source),
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        // From here on, dropping `server` kills the child if we return early.
        let mut server = Self {
            child,
            _stdin: stdin,
            port: 0,
            options,
            stderr_log,
        };
        let line = server.first_stdout_line(stdout)?;
        let port = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|info| info.get("port")?.as_u64())
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(|| SyncServerError::BadOutput {
                what: "sync-server.mjs stdout",
                output: line.chars().take(2000).collect(),
            })?;
        server.port = port;
        Ok(server)
    }

    fn first_stdout_line(
        &mut self,
        stdout: Option<std::process::ChildStdout>,
    ) -> Result<String, SyncServerError> {
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(first)) = lines.next() {
                    // The receiver may have timed out and gone; nothing to do then.
                    let _ = tx.send(first);
                }
                for _ in lines.by_ref() {}
            });
        }
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(SyncServerError::StartTimeout {
                waited: START_TIMEOUT,
                stderr: self.stderr_text(),
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(SyncServerError::Exited {
                status: self.child.wait().ok(),
                stderr: self.stderr_text(),
            }),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ws://127.0.0.1:<port>`, the URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The server's stderr so far (empty if the log cannot be read).
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Kills the server (its connections drop at once) and waits for it to exit.
    pub fn stop(&mut self) {
        // Already exited is fine: either way it is gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        let fresh = Self::start_with(options)?;
        // The old log is replaced by the new one; the old process is already gone.
        let old = std::mem::replace(self, fresh);
        drop(old);
        Ok(())
    }
}

impl Drop for SyncServer {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "sync-server.mjs stderr kept in {}",
                self.stderr_log.display()
            );
        } else {
            // A leftover log in the temp dir is harmless.
            let _ = fs::remove_file(&self.stderr_log);
        }
    }
}

fn fresh_log_path() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "jazz-req-sync-server-{}-{n}.stderr.log",
        std::process::id()
    ))
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
