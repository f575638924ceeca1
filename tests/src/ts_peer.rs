//! The real jazz-tools 0.20.19 request peers, driven from Rust tests.
//!
//! - [`TsWorker`] runs `tests/js/ts-worker.mjs`: a jazz-tools worker behind a Node HTTP
//!   server on `127.0.0.1`, serving `POST /api/echo`, `/api/fail`,
//!   `/api/book-event-ticket` and `GET /stats` (see the script's header for the contract).
//! - [`run_ts_client`] runs `tests/js/ts-client.mjs`: a jazz-tools client that sends
//!   requests to a worker over HTTP (or only captures the bodies it would send).
//! - [`http_request`] is a tiny HTTP/1.1 client over [`TcpStream`], enough to post raw
//!   (replayed, tampered, concurrent) bodies to any worker without an HTTP dependency.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::child_process::{ChildError, ChildProcess};
use crate::node::{NodeError, ensure_npm_installed, run_node_script, spawn_node_script};

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
    /// `node ts-worker.mjs` failed to start, or exited or stayed silent before its line
    /// (with its stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
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
    /// Its stdin stays open: the worker exits when it closes.
    process: ChildProcess,
    url: String,
    addr: String,
    worker_account_id: String,
    worker_pieces: Vec<Value>,
    event_id: String,
    event_pieces: Vec<Value>,
    startup: Duration,
}

impl TsWorker {
    /// Starts a jazz-tools worker whose account is created from `agent_secret`
    /// (`sealerSecret_z…/signerSecret_z…`), with an event of `capacity` seats, and waits
    /// (up to [`WORKER_START_TIMEOUT`]) until it listens.
    ///
    /// # Errors
    /// Those of [`spawn_node_script`]; [`TsPeerError::Child`] when it exits or stays silent
    /// before its line (with its stderr); [`TsPeerError::BadOutput`].
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
        // Not counted in the start-up time: `npm ci` when the packages are not installed yet.
        ensure_npm_installed()?;
        let started = Instant::now();
        let mut process = spawn_node_script(Path::new("ts-worker.mjs"), [""; 0])?;
        let mut input =
            json!({ "agentSecret": agent_secret, "name": "Worker", "capacity": capacity });
        if let Some(latency) = sync_latency {
            input["syncLatencyMs"] = json!(latency.as_millis());
        }
        process.write_line(&input.to_string())?;
        let info = process.ready_line(WORKER_START_TIMEOUT)?;
        let line = info.to_string();
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
        Ok(Self {
            process,
            addr: addr.trim_end_matches('/').to_owned(),
            url,
            worker_account_id,
            worker_pieces,
            event_id,
            event_pieces,
            startup: started.elapsed(),
        })
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

    /// The end of the worker's stderr so far.
    pub fn stderr_text(&self) -> String {
        self.process.stderr_text()
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
