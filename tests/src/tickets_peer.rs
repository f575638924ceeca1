//! The jazz-tools side of the typed interop tests (`tests/tests/typed_interop_live.rs`): the
//! schemas of `tests/js/tickets-common.mjs` declared in Rust, and the Node scripts that use
//! them.
//!
//! - [`Sample`] (with [`Venue`] and [`Status`]) has one field of every kind `#[derive(CoMap)]`
//!   supports; `tickets-common.mjs` declares the same schema with `co.map({...})`.
//!   [`sample_view`] shows a value read in Rust the way `sampleView` there shows a value
//!   jazz-tools read, so the two can be compared whole.
//! - [`TicketsWorker`] runs `tests/js/tickets-worker.mjs`: a jazz-tools worker serving the
//!   seed's `book-event-ticket` route behind a Node HTTP server.
//! - [`run_tickets_client`] runs `tests/js/tickets-client.mjs` (jazz-tools buyers booking
//!   through any worker), [`run_schema_roundtrip`] `tests/js/schema-roundtrip.mjs`
//!   (jazz-tools reading, editing and writing `Sample`s).
//!
//! The ticket schemas themselves are the seed example's, `jazz_req_examples::event_tickets`.

use std::path::Path;
use std::time::Duration;

use jazz_req::prelude::*;
use jazz_req::schema::MAX_SAFE_INTEGER;
use serde_json::{Map, Value, json};

use crate::child_process::{ChildError, ChildProcess};
use crate::node::{NodeError, run_node_script, spawn_node_script};
use crate::ts_peer::{TsPeerError, http_request};

/// How long [`TicketsWorker::start`] waits for the worker's first stdout line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `z.enum(["open", "sold-out", "closed"])`.
#[derive(CoEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[co(rename_all = "kebab-case")]
pub enum Status {
    /// `"open"`.
    Open,
    /// `"sold-out"`.
    SoldOut,
    /// `"closed"`.
    Closed,
}

/// `co.map({ city: z.string(), seats: z.number() })`.
#[derive(CoMap, Debug, PartialEq)]
pub struct Venue {
    /// Where it is.
    pub city: String,
    /// How many seats it has.
    pub seats: u32,
}

/// One field of every kind the derive supports; `Sample` in `tests/js/tickets-common.mjs`.
#[derive(CoMap, Debug, PartialEq)]
#[co(rename_all = "camelCase")]
pub struct Sample {
    /// `z.string()`.
    pub title: String,
    /// `z.number()`, read as an integer from 0 to 2^32-1.
    pub seats_left: u32,
    /// `z.number()`, read as an integer within ±2^53.
    pub max_safe: i64,
    /// `z.number()`, read as an integer within ±2^53.
    pub min_safe: i64,
    /// `z.number()`, read as an `i32`.
    pub delta: i32,
    /// `z.number()`.
    pub ratio: f64,
    /// `z.number()`.
    pub negative_zero: f64,
    /// `z.boolean()`.
    pub open: bool,
    /// `z.string().optional()`.
    pub subtitle: Option<String>,
    /// `z.number().optional()`.
    pub rating: Option<f64>,
    /// `z.enum([...])`.
    pub status: Status,
    /// `z.object({ tier, priceCents, perks })`.
    pub meta: Json<Map<String, Value>>,
    /// `z.json()`.
    pub extra: Value,
    /// `Venue`, under the JS name `where` (a Rust keyword).
    #[co(rename = "where")]
    pub venue: Ref<Venue>,
    /// `co.list(z.string())`.
    pub tags: CoList<String>,
    /// `co.list(Venue)`.
    pub venues: CoList<Ref<Venue>>,
    /// `co.account()`.
    pub host: Account,
    /// `co.group()`.
    pub team: Group,
    /// `Venue.optional()`.
    pub backup: Option<Ref<Venue>>,
}

/// Everything a [`Sample`] references, loaded (`SAMPLE_RESOLVE` of `tickets-common.mjs`).
pub fn sample_resolve() -> impl ResolveBuilder {
    Sample::resolve()
        .venue(|v| v)
        .tags(|t| t)
        .venues(|l| l.each(|v| v))
        .host(|a| a)
        .team(|g| g)
        .backup(|v| v)
}

/// Why a loaded value could not be shown.
pub type ViewError = Box<dyn std::error::Error + Send + Sync>;

/// A number as JSON shows it in JavaScript: integral values (and -0) as integers.
pub fn js_number(x: f64) -> Value {
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)] // checked
    let integral = x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64;
    if integral {
        #[allow(clippy::cast_possible_truncation)] // integral and within ±2^53
        return Value::from(x as i64);
    }
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn venue_view(venue: &Loaded<Venue>) -> Value {
    json!({"id": venue.id().as_str(), "city": venue.city, "seats": venue.seats})
}

/// A [`Sample`] read in Rust, shown as `sampleView` (tickets-common.mjs) shows one jazz-tools
/// read: every present field, references expanded to `{id, …fields}`, and `keys`, the keys
/// the CoMap holds on `node` (an absent optional field has none). Every reference must be
/// loaded ([`sample_resolve`]).
pub fn sample_view(node: &LocalNode, sample: &Loaded<Sample>) -> Result<Value, ViewError> {
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| out.insert(key.to_owned(), value);
    put("id", json!(sample.id().as_str()));
    put("title", json!(sample.title));
    put("seatsLeft", json!(sample.seats_left));
    put("maxSafe", json!(sample.max_safe));
    put("minSafe", json!(sample.min_safe));
    put("delta", json!(sample.delta));
    put("ratio", js_number(sample.ratio));
    put("negativeZero", js_number(sample.negative_zero));
    put("open", json!(sample.open));
    if let Some(subtitle) = &sample.subtitle {
        put("subtitle", json!(subtitle));
    }
    if let Some(rating) = sample.rating {
        put("rating", js_number(rating));
    }
    put("status", json!(sample.status.as_str()));
    put("meta", Value::Object(sample.meta.0.clone()));
    put("extra", sample.extra.clone());
    put("where", venue_view(sample.venue.get()?));
    put("tags", json!(sample.tags.items()?));
    let venues: Result<Vec<Value>, ViewError> = sample
        .venues
        .items()?
        .iter()
        .map(|v| Ok(venue_view(v.get()?)))
        .collect();
    put("venues", Value::Array(venues?));
    put("host", json!({"id": sample.host.id().as_str()}));
    put("team", json!({"id": sample.team.id().as_str()}));
    if let Some(backup) = &sample.backup {
        put("backup", venue_view(backup.get()?));
    }
    let held = node.read(sample.id())?.value;
    let mut keys: Vec<&String> = held
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    keys.sort();
    put("keys", json!(keys));
    Ok(Value::Object(out))
}

/// Everything that can go wrong driving the scripts of this module.
#[derive(Debug, thiserror::Error)]
pub enum TicketsPeerError {
    /// npm or a Node script failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// An HTTP exchange with the worker failed.
    #[error(transparent)]
    Http(#[from] TsPeerError),
    /// `tickets-worker.mjs` failed to start, or exited or stayed silent before its line
    /// (with its stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A script's output is not the JSON its contract promises.
    #[error("{what} is not the expected JSON: {output}")]
    BadOutput {
        /// Which output.
        what: &'static str,
        /// The output (cut at 2000 characters).
        output: String,
    },
}

fn bad_output(what: &'static str, output: &str) -> TicketsPeerError {
    TicketsPeerError::BadOutput {
        what,
        output: output.chars().take(2000).collect(),
    }
}

/// The last non-empty line of a script's stdout, as JSON.
fn last_json_line(what: &'static str, stdout: &str) -> Result<Value, TicketsPeerError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(line).map_err(|_| bad_output(what, stdout))
}

/// Runs `tests/js/tickets-client.mjs` with `input` (see the script's header) and returns its
/// output: `{"results": [{"buyer", "ok" | "error"}]}`.
///
/// # Errors
/// Those of [`run_node_script`]; [`TicketsPeerError::BadOutput`].
pub fn run_tickets_client(input: &Value) -> Result<Value, TicketsPeerError> {
    let stdout = run_node_script(Path::new("tickets-client.mjs"), &input.to_string())?;
    last_json_line("tickets-client.mjs stdout", &stdout)
}

/// Runs `tests/js/schema-roundtrip.mjs` with `input` (see the script's header) and returns
/// its output: `{"account", "read"?, "edited"?, "created"?, "corrupted"?, "pieces"}`.
///
/// # Errors
/// Those of [`run_node_script`]; [`TicketsPeerError::BadOutput`].
pub fn run_schema_roundtrip(input: &Value) -> Result<Value, TicketsPeerError> {
    let stdout = run_node_script(Path::new("schema-roundtrip.mjs"), &input.to_string())?;
    last_json_line("schema-roundtrip.mjs stdout", &stdout)
}

/// A running `tests/js/tickets-worker.mjs`; the Node process is killed on drop.
#[derive(Debug)]
pub struct TicketsWorker {
    /// Its stdin stays open: the worker exits when it closes.
    process: ChildProcess,
    /// `http://127.0.0.1:<port>`, the base URL of the route.
    pub url: String,
    /// The worker's account.
    pub account: CoID,
    /// The worker account's pieces (what a client imports to know the worker).
    pub account_pieces: Vec<Value>,
    /// The event the route books.
    pub event: CoID,
    /// The event's pieces with its reservations, taken at start.
    pub event_pieces: Vec<Value>,
}

impl TicketsWorker {
    /// Starts a jazz-tools worker (a fresh account) whose event has `capacity` seats, and
    /// waits (up to [`START_TIMEOUT`]) until it listens.
    ///
    /// # Errors
    /// Those of [`spawn_node_script`]; [`TicketsPeerError::Child`] when it exits or stays
    /// silent before its line (with its stderr); [`TicketsPeerError::BadOutput`].
    pub fn start(capacity: u32) -> Result<Self, TicketsPeerError> {
        let mut process = spawn_node_script(Path::new("tickets-worker.mjs"), [""; 0])?;
        let input = json!({"name": "Ticket worker", "capacity": capacity});
        process.write_line(&input.to_string())?;
        let info = process.ready_line(START_TIMEOUT)?;
        let line = info.to_string();
        let id = |key: &str| {
            info.get(key)
                .and_then(Value::as_str)
                .and_then(|s| CoID::parse(s).ok())
        };
        let list = |key: &str| info.get(key).and_then(Value::as_array).cloned();
        let (Some(url), Some(account), Some(event), Some(account_pieces), Some(event_pieces)) = (
            info.get("url").and_then(Value::as_str),
            id("workerAccountID"),
            id("eventID"),
            list("workerPieces"),
            list("eventPieces"),
        ) else {
            return Err(bad_output("tickets-worker.mjs stdout", &line));
        };
        Ok(Self {
            process,
            url: url.to_owned(),
            account,
            account_pieces,
            event,
            event_pieces,
        })
    }

    /// The end of the worker's stderr so far.
    pub fn stderr_text(&self) -> String {
        self.process.stderr_text()
    }

    /// `GET /stats`: `{"handlerRuns": n, "event": {"id", "capacity", "reservations": [{"id",
    /// "account", "event"}]}}`, the event as the worker holds it now.
    ///
    /// # Errors
    /// [`TicketsPeerError::Http`], [`TicketsPeerError::BadOutput`].
    pub fn stats(&self) -> Result<Value, TicketsPeerError> {
        let addr = self.url.trim_start_matches("http://");
        let reply = http_request(addr, "GET", "/stats", None)?;
        reply
            .body_json()
            .ok_or_else(|| bad_output("GET /stats", &reply.body_text()))
    }

    /// What a client needs to book here: `baseUrl`, `workerAccountID`, `workerPieces`,
    /// `eventID`, `eventPieces` (the input of [`run_tickets_client`], without `buyers`).
    pub fn client_input(&self) -> Value {
        json!({
            "baseUrl": self.url,
            "workerAccountID": self.account.as_str(),
            "workerPieces": self.account_pieces,
            "eventID": self.event.as_str(),
            "eventPieces": self.event_pieces,
        })
    }
}
