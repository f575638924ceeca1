//! jazz-tools apps and a jazz-tools worker that are peers of a real sync server
//! ([`crate::sync_server::SyncServer`]), for the live interop tests of issue 8:
//!
//! - [`run_sync_app`] runs `tests/js/interop-sync-app.mjs` (one operation per run: create an
//!   account on the server, organise an event, book as new buyers, echo, capture signed
//!   bodies, read back from the server; see the script's header), with a time limit;
//! - [`JsSyncWorker`] runs `tests/js/interop-sync-worker.mjs`: `startWorker({ syncServer,
//!   accountID, accountSecret })` and `route.handle()` behind Node's HTTP server, serving
//!   `POST /api/book-event-ticket` and `POST /api/echo`; killed on drop.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::{NodeError, ensure_npm_installed};
use crate::ts_peer::http_request;

/// How long one [`run_sync_app`] may take by default.
pub const APP_TIMEOUT: Duration = Duration::from_secs(90);

/// How long [`JsSyncWorker::start`] waits for the worker's line.
pub const WORKER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// What can go wrong while driving the Node side.
#[derive(Debug, thiserror::Error)]
pub enum SyncAppError {
    /// npm could not install the packages (see [`NodeError`]).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A process could not be started, fed or read.
    #[error("{action}")]
    Io {
        /// What was being done.
        action: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// The script ran longer than allowed and was killed.
    #[error("`node {script}` did not finish within {waited:?}; its stderr:\n{stderr}")]
    Timeout {
        /// The script.
        script: &'static str,
        /// How long it ran.
        waited: Duration,
        /// Its stderr.
        stderr: String,
    },
    /// The script failed.
    #[error("`node {script}` failed ({status}); its stderr:\n{stderr}")]
    Failed {
        /// The script.
        script: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// Its stderr.
        stderr: String,
    },
    /// The script printed something other than its one JSON line.
    #[error("`node {script}` printed no JSON line: {output}")]
    BadOutput {
        /// The script.
        script: &'static str,
        /// What it printed (possibly truncated).
        output: String,
    },
    /// The worker exited or stayed silent before listening.
    #[error("interop-sync-worker.mjs did not start ({reason}); its stderr:\n{stderr}")]
    NotStarted {
        /// What happened.
        reason: String,
        /// Its stderr.
        stderr: String,
    },
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> SyncAppError {
    let action = action.into();
    move |source| SyncAppError::Io { action, source }
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
/// [`SyncAppError::Node`] when npm fails; [`SyncAppError::Io`] when node cannot be run;
/// [`SyncAppError::Timeout`], [`SyncAppError::Failed`] (with its stderr),
/// [`SyncAppError::BadOutput`].
pub fn run_sync_app_within(input: &Value, limit: Duration) -> Result<Value, SyncAppError> {
    let js = ensure_npm_installed()?;
    let log = fresh_log_path("app");
    let stderr_file =
        File::create(&log).map_err(io_error(format!("could not create {}", log.display())))?;
    let mut child = Command::new("node")
        .arg(APP_SCRIPT)
        .current_dir(&js)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_file))
        .spawn()
        .map_err(io_error(format!("could not start `node {APP_SCRIPT}`")))?;
    let stderr = || {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let _ = fs::remove_file(&log);
        text
    };
    if let Some(mut pipe) = child.stdin.take() {
        let text = input.to_string();
        // A script that dies early closes the pipe; its exit status tells why.
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    let (tx, rx) = mpsc::channel();
    if let Some(mut out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut text = String::new();
            let read = out.read_to_string(&mut text).map(|_| text);
            // The receiver may have given up.
            let _ = tx.send(read);
        });
    }
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SyncAppError::Timeout {
                    script: APP_SCRIPT,
                    waited: limit,
                    stderr: stderr(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(source) => {
                let _ = child.kill();
                return Err(SyncAppError::Io {
                    action: format!("could not wait for `node {APP_SCRIPT}`"),
                    source,
                });
            }
        }
    };
    let output = rx
        .recv_timeout(Duration::from_secs(10))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    if !status.success() {
        return Err(SyncAppError::Failed {
            script: APP_SCRIPT,
            status,
            stderr: stderr(),
        });
    }
    let _ = stderr();
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
    child: Child,
    /// Kept open: the worker exits when its stdin closes.
    stdin: Option<ChildStdin>,
    stderr_log: PathBuf,
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
    /// [`SyncAppError::Node`], [`SyncAppError::Io`]; [`SyncAppError::NotStarted`] with its
    /// stderr when it exits or prints nothing usable in time.
    pub fn start_with(
        sync_url: &str,
        credentials: Option<(&str, &str)>,
        crypto: JsCrypto,
    ) -> Result<Self, SyncAppError> {
        let js = ensure_npm_installed()?;
        let stderr_log = fresh_log_path("worker");
        let log = File::create(&stderr_log).map_err(io_error(format!(
            "could not create {}",
            stderr_log.display()
        )))?;
        let mut child = Command::new("node")
            .arg(WORKER_SCRIPT)
            .current_dir(&js)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(io_error(format!("could not start `node {WORKER_SCRIPT}`")))?;
        let stdout = child.stdout.take();
        // From here on, dropping `worker` kills the child.
        let mut worker = Self {
            stdin: child.stdin.take(),
            child,
            stderr_log,
            url: String::new(),
            account: String::new(),
            secret: String::new(),
        };
        let mut input = json!({
            "url": sync_url,
            "crypto": match crypto { JsCrypto::Wasm => "wasm", JsCrypto::Napi => "napi" },
        });
        if let Some((account, secret)) = credentials {
            input["accountID"] = json!(account);
            input["agentSecret"] = json!(secret);
        }
        if let Some(pipe) = worker.stdin.as_mut() {
            let written = writeln!(pipe, "{input}").and_then(|()| pipe.flush());
            if let Err(e) = written {
                return Err(worker.not_started(format!("writing its input failed: {e}")));
            }
        }
        let line = worker.first_line(stdout)?;
        let info: Value = serde_json::from_str(&line)
            .map_err(|_| worker.not_started(format!("it printed {line:?}")))?;
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(url), Some(account), Some(secret)) =
            (text("url"), text("accountID"), text("agentSecret"))
        else {
            return Err(worker.not_started(format!("it printed {line:?}")));
        };
        worker.url = url;
        worker.account = account;
        worker.secret = secret;
        Ok(worker)
    }

    /// The Node process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port` of its HTTP server.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The worker's stderr so far (empty if the log cannot be read).
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
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

    fn not_started(&self, reason: String) -> SyncAppError {
        SyncAppError::NotStarted {
            reason,
            stderr: self.stderr_text(),
        }
    }

    fn first_line(
        &mut self,
        stdout: Option<std::process::ChildStdout>,
    ) -> Result<String, SyncAppError> {
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(first)) = lines.next() {
                    // The receiver may have given up.
                    let _ = tx.send(first);
                }
                for _ in lines.by_ref() {}
            });
        }
        match rx.recv_timeout(WORKER_START_TIMEOUT) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(self.not_started(format!("no line within {WORKER_START_TIMEOUT:?}")))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                Err(self.not_started(format!("it exited ({status:?})")))
            }
        }
    }
}

impl Drop for JsSyncWorker {
    fn drop(&mut self) {
        // Closing stdin asks it to exit; kill it anyway so that nothing lingers.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "interop-sync-worker.mjs stderr kept in {}",
                self.stderr_log.display()
            );
        } else {
            let _ = fs::remove_file(&self.stderr_log);
        }
    }
}

fn fresh_log_path(what: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "jazz-req-interop-sync-{what}-{}-{n}.stderr.log",
        std::process::id()
    ))
}

/// Builds the examples `names` of this workspace with the cargo running the tests (`release`:
/// `--release`) and returns their executables, by name. After `cargo test --workspace`, which
/// builds the examples too, the dev build is up to date at once.
///
/// # Errors
/// [`SyncAppError::Io`] when cargo cannot be run; [`SyncAppError::BadOutput`] when the build
/// fails (with cargo's stderr) or names no executable for one of `names`.
pub fn build_examples(
    names: &[&str],
    release: bool,
) -> Result<std::collections::HashMap<String, PathBuf>, SyncAppError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "-p",
            "jazz-req-examples",
            "--message-format=json-render-diagnostics",
        ]);
    if release {
        command.arg("--release");
    }
    for name in names {
        command.args(["--example", name]);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(io_error("could not run `cargo build`"))?;
    let failed = |output: String| SyncAppError::BadOutput {
        script: "cargo build",
        output,
    };
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    let mut paths = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let name = message["target"]["name"].as_str().unwrap_or_default();
        if message["reason"] == "compiler-artifact"
            && names.contains(&name)
            && let Some(executable) = message["executable"].as_str()
        {
            paths.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    match names.iter().find(|name| !paths.contains_key(**name)) {
        Some(missing) => Err(failed(format!("no executable reported for {missing}"))),
        None => Ok(paths),
    }
}
