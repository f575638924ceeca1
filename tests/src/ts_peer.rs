//! The real jazz-tools 0.20.19 request peers, driven from Rust tests.
//!
//! - [`TsWorker`] runs `tests/js/ts-worker.mjs`: a jazz-tools worker behind a Node HTTP
//!   server on `127.0.0.1`, serving `POST /api/echo`, `/api/fail`,
//!   `/api/book-event-ticket` and `GET /stats` (see the script's header for the contract).
//! - [`run_ts_client`] runs `tests/js/ts-client.mjs`: a jazz-tools client that sends
//!   requests to a worker over HTTP (or only captures the bodies it would send).
//! - [`http_request`] is a tiny HTTP/1.1 client over [`TcpStream`], enough to post raw
//!   (replayed, tampered, concurrent) bodies to any worker without an HTTP dependency.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::{NodeError, ensure_npm_installed, run_node_script};

/// How long [`TsWorker::start`] waits for the worker's first stdout line.
pub const WORKER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`http_request`] waits for a connection or for the reply.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(90);

/// Everything that can go wrong while driving the TypeScript peers.
#[derive(Debug, thiserror::Error)]
pub enum TsPeerError {
    /// npm or a Node script failed (see [`NodeError`]).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// `node ts-worker.mjs` could not be started.
    #[error("could not start `node ts-worker.mjs`")]
    Spawn(#[source] io::Error),
    /// A file or pipe operation failed.
    #[error("{action}")]
    Io {
        /// What was being done.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The worker printed nothing within [`WORKER_START_TIMEOUT`].
    #[error("ts-worker.mjs printed no line within {waited:?}; its stderr:\n{stderr}")]
    StartTimeout {
        /// How long we waited.
        waited: Duration,
        /// The worker's standard error output so far.
        stderr: String,
    },
    /// The worker exited before printing its line.
    #[error("ts-worker.mjs exited ({status:?}) before printing its line; its stderr:\n{stderr}")]
    WorkerExited {
        /// Its exit status, when known.
        status: Option<ExitStatus>,
        /// Its standard error output.
        stderr: String,
    },
    /// A script's output is not the JSON its contract promises.
    #[error("{what} is not the expected JSON: {output}")]
    BadOutput {
        /// Which output.
        what: &'static str,
        /// The output (possibly truncated).
        output: String,
    },
    /// An HTTP exchange failed at the socket level.
    #[error("HTTP {method} {addr}{path} failed")]
    Http {
        /// The request method.
        method: String,
        /// `host:port`.
        addr: String,
        /// The request path.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An HTTP reply could not be parsed.
    #[error("malformed HTTP reply ({reason}): {reply}")]
    BadHttpReply {
        /// What is wrong with it.
        reason: &'static str,
        /// The start of the reply.
        reply: String,
    },
}

fn bad_output(what: &'static str, output: &str) -> TsPeerError {
    TsPeerError::BadOutput {
        what,
        output: output.chars().take(2000).collect(),
    }
}

/// A running `tests/js/ts-worker.mjs`; the Node process is killed on drop.
#[derive(Debug)]
pub struct TsWorker {
    child: Child,
    /// Kept open: the worker exits when its stdin closes.
    stdin: Option<ChildStdin>,
    url: String,
    addr: String,
    worker_account_id: String,
    worker_pieces: Vec<Value>,
    event_id: String,
    event_pieces: Vec<Value>,
    stderr_log: PathBuf,
    startup: Duration,
}

impl TsWorker {
    /// Starts a jazz-tools worker whose account is created from `agent_secret`
    /// (`sealerSecret_z…/signerSecret_z…`), with an event of `capacity` seats, and waits
    /// (up to [`WORKER_START_TIMEOUT`]) until it listens.
    ///
    /// The worker's stderr goes to a log file ([`TsWorker::stderr_log`]), removed on drop
    /// unless the thread is panicking (a failing test keeps it and prints its path).
    ///
    /// # Errors
    /// Those of [`ensure_npm_installed`]; [`TsPeerError::Spawn`], [`TsPeerError::StartTimeout`],
    /// [`TsPeerError::WorkerExited`] (with the worker's stderr), [`TsPeerError::BadOutput`].
    pub fn start(agent_secret: &str, capacity: u32) -> Result<Self, TsPeerError> {
        Self::start_with(agent_secret, capacity, None)
    }

    /// Like [`TsWorker::start`]; with `sync_latency`, the worker is connected to a sync
    /// server (an in-process cojson node) whose messages take that long each way, as a
    /// production worker talks to Jazz Cloud. Whole milliseconds; zero means no sync server.
    ///
    /// # Errors
    /// As [`TsWorker::start`].
    pub fn start_with(
        agent_secret: &str,
        capacity: u32,
        sync_latency: Option<Duration>,
    ) -> Result<Self, TsPeerError> {
        let js = ensure_npm_installed()?;
        let started = Instant::now();
        let stderr_log = fresh_log_path();
        let log = File::create(&stderr_log).map_err(|source| TsPeerError::Io {
            action: format!("could not create {}", stderr_log.display()),
            source,
        })?;
        let mut child = Command::new("node")
            .arg("ts-worker.mjs")
            .current_dir(&js)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => TsPeerError::Node(NodeError::ToolMissing {
                    tool: "node",
                    source,
                }),
                _ => TsPeerError::Spawn(source),
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        // From here on, dropping `guard` kills the child if we return early.
        let mut guard = Self {
            child,
            stdin,
            url: String::new(),
            addr: String::new(),
            worker_account_id: String::new(),
            worker_pieces: Vec::new(),
            event_id: String::new(),
            event_pieces: Vec::new(),
            stderr_log,
            startup: Duration::ZERO,
        };

        let mut input =
            json!({ "agentSecret": agent_secret, "name": "Worker", "capacity": capacity });
        if let Some(latency) = sync_latency {
            input["syncLatencyMs"] = json!(latency.as_millis());
        }
        let write = guard
            .stdin
            .as_mut()
            .map(|pipe| writeln!(pipe, "{input}").and_then(|()| pipe.flush()));
        if let Some(Err(source)) = write {
            // The worker died at once; what it printed says more than the broken pipe.
            let status = guard.child.wait().ok();
            return Err(match status {
                Some(status) => TsPeerError::WorkerExited {
                    status: Some(status),
                    stderr: guard.stderr_text(),
                },
                None => TsPeerError::Io {
                    action: "could not write the worker's input".to_owned(),
                    source,
                },
            });
        }

        let line = guard.first_stdout_line(stdout)?;
        let info: Value =
            serde_json::from_str(&line).map_err(|_| bad_output("ts-worker.mjs stdout", &line))?;
        let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_owned);
        let list = |key: &str| info.get(key).and_then(Value::as_array).cloned();
        let (Some(url), Some(worker_account_id), Some(event_id)) =
            (text("url"), text("workerAccountID"), text("eventID"))
        else {
            return Err(bad_output("ts-worker.mjs stdout", &line));
        };
        let (Some(worker_pieces), Some(event_pieces)) = (list("workerPieces"), list("eventPieces"))
        else {
            return Err(bad_output("ts-worker.mjs stdout", &line));
        };
        let Some(addr) = url.strip_prefix("http://") else {
            return Err(bad_output("ts-worker.mjs url", &url));
        };
        guard.addr = addr.trim_end_matches('/').to_owned();
        guard.url = url;
        guard.worker_account_id = worker_account_id;
        guard.worker_pieces = worker_pieces;
        guard.event_id = event_id;
        guard.event_pieces = event_pieces;
        guard.startup = started.elapsed();
        Ok(guard)
    }

    /// Reads the first stdout line on a helper thread (which then drains stdout until EOF).
    fn first_stdout_line(
        &mut self,
        stdout: Option<std::process::ChildStdout>,
    ) -> Result<String, TsPeerError> {
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
        match rx.recv_timeout(WORKER_START_TIMEOUT) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(TsPeerError::StartTimeout {
                waited: WORKER_START_TIMEOUT,
                stderr: self.stderr_text(),
            }),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                Err(TsPeerError::WorkerExited {
                    status,
                    stderr: self.stderr_text(),
                })
            }
        }
    }

    /// `http://127.0.0.1:<port>`, the base URL of the routes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:<port>`, for [`http_request`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The worker account's `co_z…` id.
    pub fn worker_account_id(&self) -> &str {
        &self.worker_account_id
    }

    /// The worker account's content pieces, as `exportCoValue` gives them.
    pub fn worker_pieces(&self) -> &[Value] {
        &self.worker_pieces
    }

    /// The event's `co_z…` id (the `book-event-ticket` route books seats on it).
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// The event's pieces (export with resolve `{reservations: true}`), taken at start.
    pub fn event_pieces(&self) -> &[Value] {
        &self.event_pieces
    }

    /// How long [`TsWorker::start`] took, from spawning Node to the first line.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The file that receives the worker's stderr.
    pub fn stderr_log(&self) -> &Path {
        &self.stderr_log
    }

    /// The worker's stderr so far (empty if the log cannot be read).
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// How many times the handler callback of `route` (`echo`, `fail`,
    /// `book-event-ticket`) has run, from `GET /stats`. An unknown route counts 0.
    ///
    /// # Errors
    /// [`TsPeerError::Http`], [`TsPeerError::BadHttpReply`], [`TsPeerError::BadOutput`].
    pub fn handler_runs(&self, route: &str) -> Result<u64, TsPeerError> {
        let reply = http_request(&self.addr, "GET", "/stats", None)?;
        let body = reply.body_text();
        let stats: Value =
            serde_json::from_str(&body).map_err(|_| bad_output("GET /stats", &body))?;
        let runs = stats
            .get("handlerRuns")
            .ok_or_else(|| bad_output("GET /stats", &body))?;
        Ok(runs.get(route).and_then(Value::as_u64).unwrap_or(0))
    }

    /// `POST <path>` with `Content-Type: application/json` and `body` as is.
    ///
    /// # Errors
    /// As [`http_request`].
    pub fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TsPeerError> {
        http_request(&self.addr, "POST", path, Some(body))
    }

    /// The input of [`run_ts_client`] for this worker: `agentSecret`, `baseUrl`,
    /// `workerAccountID`, `workerPieces`, `eventID`, `eventPieces` and `requests`.
    pub fn client_input(&self, agent_secret: &str, requests: Value) -> Value {
        json!({
            "agentSecret": agent_secret,
            "name": "Client",
            "baseUrl": self.url,
            "workerAccountID": self.worker_account_id,
            "workerPieces": self.worker_pieces,
            "eventID": self.event_id,
            "eventPieces": self.event_pieces,
            "requests": requests,
        })
    }
}

impl Drop for TsWorker {
    fn drop(&mut self) {
        // Closing stdin asks the worker to exit; kill it anyway so nothing lingers.
        drop(self.stdin.take());
        // Errors here mean the process is already gone: nothing left to clean up.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("ts-worker.mjs stderr kept in {}", self.stderr_log.display());
        } else {
            let _ = fs::remove_file(&self.stderr_log);
        }
    }
}

/// A fresh path in the system temporary directory for a worker's stderr.
fn fresh_log_path() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "jazz-req-ts-worker-{}-{n}.stderr.log",
        std::process::id()
    ))
}

/// Runs `tests/js/ts-client.mjs` with `input` (see the script's header, or
/// [`TsWorker::client_input`]) and returns its JSON output:
/// `{"clientAccountID", "clientPieces", "results"}` (or `"bodies"` and `"rawBodies"`
/// with `"captureOnly": true`).
///
/// # Errors
/// Those of [`run_node_script`] (with the script's stderr); [`TsPeerError::BadOutput`].
pub fn run_ts_client(input: &Value) -> Result<Value, TsPeerError> {
    let stdout = run_node_script(Path::new("ts-client.mjs"), &input.to_string())?;
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(line).map_err(|_| bad_output("ts-client.mjs stdout", &stdout))
}

/// One HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (chunked transfer decoded).
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends one HTTP/1.1 request to `addr` (`host:port`) with `Connection: close` and reads
/// the whole reply. A `body` is sent with `Content-Type: application/json`, as is.
///
/// # Errors
/// [`TsPeerError::Http`] for socket errors and timeouts ([`HTTP_TIMEOUT`]),
/// [`TsPeerError::BadHttpReply`] when the reply is not HTTP/1.x.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<HttpReply, TsPeerError> {
    let http_err = |source| TsPeerError::Http {
        method: method.to_owned(),
        addr: addr.to_owned(),
        path: path.to_owned(),
        source,
    };
    let mut stream = TcpStream::connect(addr).map_err(http_err)?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .map_err(http_err)?;
    stream
        .set_write_timeout(Some(HTTP_TIMEOUT))
        .map_err(http_err)?;
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").into_bytes();
    if let Some(body) = body {
        request.extend_from_slice(
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&request).map_err(http_err)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(http_err)?;
    parse_reply(&raw)
}

/// Parses a complete HTTP/1.x reply (the server closed the connection after it).
fn parse_reply(raw: &[u8]) -> Result<HttpReply, TsPeerError> {
    let bad = |reason| TsPeerError::BadHttpReply {
        reason,
        reply: String::from_utf8_lossy(&raw[..raw.len().min(500)]).into_owned(),
    };
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("headers are not UTF-8"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(bad("no HTTP/1.x status line"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no status code"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest).ok_or_else(|| bad("bad chunked body"))?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
        rest.get(..len)
            .ok_or_else(|| bad("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

/// Decodes a `Transfer-Encoding: chunked` body (trailers ignored).
fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
