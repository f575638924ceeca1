//! Fuzzing on stable Rust (issue 9, item 7): structure-aware proptest strategies drive
//!
//! - `RequestWorker::handle` with mutated real request bodies (the jazz-tools bodies of
//!   `requests.json` and bodies of a Rust client): JSON-level edits anywhere in the body
//!   (replace, remove, insert, duplicate, swap, graft a node of another body), string edits
//!   inside pieces (a character flipped, inserted, deleted, a string truncated or replaced by
//!   another real one), number edits, byte flips of the text; optionally the sessions
//!   re-signed by their authors where a client holds the key (not the worker's) and the
//!   token re-signed by the sender, so that the mutations get past the signatures into
//!   import, permissions, decryption and the handler;
//!   and with arbitrary bodies (arbitrary JSON, body-shaped JSON, bytes);
//! - content import (`ContentMessage::from_json`, `LocalNode::import`) with the same edits of
//!   real piece sets (requests, responses, the event, `covalues.json`) and arbitrary
//!   piece-shaped JSON;
//! - a typed route (`#[jazz_request]`) with a request field of every kind — `String`, `bool`,
//!   each integer type, `f64`, `f32`, `Option`, `serde_json::Value`, `Json<T>`, a `CoEnum`,
//!   `Ref<T>`, `Loaded<T>` (of a `#[derive(CoMap)]` map with a field of every kind),
//!   `CoList<T>`, `Account`, `Group` — with requests signed correctly by a real client whose
//!   values (of the request, or of the loaded map) are hostile JSON: integers at and past the
//!   ends of every type (`i64::MIN`, `u64::MAX`, 2^53 + 1, …), `1e308`, `-0.0`, fractions,
//!   huge strings, nested arrays and objects, ids of CoValues of the wrong kind or of none.
//!   There only the first property is checked (no panic, never a 5xx: 200 or 4xx).
//!
//! Properties of every case: no panic; never a 5xx; a refused request never reaches the
//! handler and leaves the worker's store as it was, also once the node has stored what the
//! request left in it; an accepted one is seen by the handler as sent by the body's sender,
//! with exactly the genuine values unless the body was signed again (the sender may say
//! anything it signs: a run of its signed transactions grafted from the envelope's group
//! into the envelope verifies, and the handler then sees the group's fields); a node never
//! holds a transaction that is not one its session's signer signed at that place unless a
//! session was re-signed (a session's signature covers neither the CoValue nor the session
//! id, in cojson as here: see [`World::originals`]); whatever a node accepted it reads
//! without panicking and exports into pieces another node imports.
//!
//! CI runs [`CI_CASES`] cases of each (proptest, shrinking on failure). The long mode runs
//! `JAZZ_REQ_FUZZ_CASES` cases of each on every core, each case under `catch_unwind` so that
//! a panic is counted and the run goes on, and prints the count, the rate and what it found:
//!
//! ```sh
//! JAZZ_REQ_FUZZ_CASES=1000000 cargo test --release -p jazz-req-tests --test fuzz_requests \
//!     -- --nocapture --test-threads 1
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// tests fail loudly
// The typed route takes a field of every kind, and its generated client stub (which no
// attribute on the handler reaches) takes them all as arguments.
#![allow(clippy::too_many_arguments)]

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use jazz_req_core::cojson::permissions_role::Role;
use jazz_req_core::cojson::{
    ContentMessage, KnownState, LocalNode, ResolveQuery, SessionLog, keys::Reader,
};
use jazz_req_core::crypto::{self, AgentSecret, CoID, SessionAuthor, SessionID, SignerSecret};
use jazz_req_core::request::envelope::{create_envelope, sign_envelope};
use jazz_req_core::request::{
    JazzRequestError, ManualClock, RequestContext, RequestWorker, Route as _, RouteSpec,
    SignedBody, WorkerConfig,
};
use jazz_req_core::storage::{MemoryStorage, Storage};
use jazz_req_tests::fixtures::{committed_vectors_dir, load_from};
use jazz_req_tests::rust_peer::expanded;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value, json};

/// Cases of each fuzz target in CI (the dev profile takes well under a minute for both).
const CI_CASES: u32 = 4000;

/// The variable that switches to the long mode and says how many cases to run.
const CASES_VAR: &str = "JAZZ_REQ_FUZZ_CASES";

const ECHO: &str = "/api/echo";
const BOOK: &str = "/api/book-event-ticket";

// ---------------------------------------------------------------------------------------
// The world: real bodies and pieces, the worker's store, who can sign what.
// ---------------------------------------------------------------------------------------

/// One request body to mutate.
struct BodySeed {
    label: String,
    text: String,
    path: &'static str,
    created_at: u64,
    /// The account that sent it (whose signer signs the token).
    sender: CoID,
    /// The sender and values a handler sees for the genuine body.
    genuine: Seen,
}

/// A set of pieces to import, as one peer sent them, and who imports them.
struct PieceSet {
    label: String,
    pieces: Value,
    reader: (CoID, AgentSecret),
}

/// What a handler saw: the sender and the values, references expanded.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    sender: CoID,
    values: Map<String, Value>,
}

struct World {
    worker: CoID,
    worker_secret: AgentSecret,
    /// What the worker's store holds before any request: its account and the event.
    template: Vec<ContentMessage>,
    bodies: Vec<BodySeed>,
    sets: Vec<PieceSet>,
    /// Every original transaction of the piece sets by the signer of its session and its
    /// index there → its canonical texts. A session's signature covers its transactions only
    /// (a hash chain from the empty hash), neither the CoValue nor the session id, in cojson
    /// as here: a run of transactions signed by an agent verifies at the same place in any
    /// session of that agent (or of its account), in any CoValue.
    originals: HashMap<(String, usize), Vec<String>>,
    /// Signers of the accounts and agents whose secrets the tests know.
    signers: HashMap<String, SignerSecret>,
    /// The signers a sender of a request could sign with: the clients' (agents 0 and 1 of
    /// `crypto.json`), not the worker's.
    forgers: HashMap<String, SignerSecret>,
    /// Every string and object key of the seeds (arbitrary values draw from them).
    vocab: Vec<String>,
    keys: Vec<String>,
}

fn agent(crypto: &Value, n: usize) -> AgentSecret {
    AgentSecret::parse(crypto["agents"][n]["agentSecret"].as_str().unwrap()).unwrap()
}

fn messages(pieces: &[Value]) -> Vec<ContentMessage> {
    pieces
        .iter()
        .map(|p| ContentMessage::from_json(p).unwrap())
        .collect()
}

/// Who signs a session: the signer of its author (an agent, or the agent of an account of
/// `crypto.json`), else the author's text.
fn signer_of(session: &SessionID, signers: &HashMap<String, SignerSecret>) -> String {
    let author = session.author_str();
    signers
        .get(author)
        .map_or_else(|| author.to_owned(), |s| s.signer_id().to_string())
}

fn originals(
    sets: &[PieceSet],
    signers: &HashMap<String, SignerSecret>,
) -> HashMap<(String, usize), Vec<String>> {
    let mut all: HashMap<(String, usize), Vec<String>> = HashMap::new();
    for piece in sets
        .iter()
        .flat_map(|set| set.pieces.as_array().into_iter().flatten())
    {
        let Ok(message) = ContentMessage::from_json(piece) else {
            continue;
        };
        for (session, content) in &message.new {
            for (i, tx) in content.new_transactions.iter().enumerate() {
                let texts = all
                    .entry((signer_of(session, signers), content.after + i))
                    .or_default();
                let text = tx.canonical_json();
                if !texts.contains(&text) {
                    texts.push(text);
                }
            }
        }
    }
    all
}

fn collect_strings(value: &Value, strings: &mut Vec<String>, keys: &mut Vec<String>) {
    match value {
        Value::String(s) => strings.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, strings, keys)),
        Value::Object(map) => {
            for (k, v) in map {
                keys.push(k.clone());
                collect_strings(v, strings, keys);
            }
        }
        _ => {}
    }
}

fn world() -> &'static World {
    static WORLD: std::sync::OnceLock<World> = std::sync::OnceLock::new();
    WORLD.get_or_init(build_world)
}

fn build_world() -> World {
    let dir = committed_vectors_dir();
    let requests = load_from(&dir, "requests.json").unwrap();
    let crypto = load_from(&dir, "crypto.json").unwrap();
    let covalues = load_from(&dir, "covalues.json").unwrap();
    let worker = CoID::parse(requests["workerAccountID"].as_str().unwrap()).unwrap();
    let js_client = CoID::parse(requests["clientAccountID"].as_str().unwrap()).unwrap();
    let worker_secret = agent(&crypto, 2);
    let event_pieces = requests["eventPieces"].as_array().unwrap().clone();
    let event = CoID::parse(requests["eventID"].as_str().unwrap()).unwrap();
    let template = messages(&event_pieces);

    let mut signers = HashMap::new();
    for n in 0..3 {
        let secret = agent(&crypto, n);
        signers.insert(secret.agent_id().to_string(), secret.signer.clone());
        let account = crypto["agents"][n]["accountID"].as_str().unwrap();
        signers.insert(account.to_owned(), secret.signer.clone());
    }

    let mut bodies = Vec::new();
    for exchange in requests["exchanges"].as_array().unwrap() {
        let text = exchange["requestBodyText"].as_str().unwrap().to_owned();
        let url = exchange["url"].as_str().unwrap();
        bodies.push(BodySeed {
            label: format!("jazz-tools {}", exchange["label"].as_str().unwrap()),
            path: if url.ends_with(BOOK) { BOOK } else { ECHO },
            created_at: exchange["requestBody"]["createdAt"].as_u64().unwrap(),
            text,
            sender: js_client.clone(),
            genuine: Seen {
                sender: js_client.clone(),
                values: Map::new(),
            },
        });
    }

    // A Rust client (agents[1]) that knows the worker and the event.
    let (mut node, rust_client) = LocalNode::create_account(agent(&crypto, 1), "Rust").unwrap();
    for message in &template {
        node.import(message.clone()).unwrap();
    }
    let at = bodies[0].created_at + 1_000;
    let book_query = ResolveQuery::from_json(&json!({"event": {"reservations": true}})).unwrap();
    for (label, path, values, query) in [
        (
            "Rust echo",
            ECHO,
            json!({"name": "Zoë", "email": "zoe@example.com", "age": 31.5}),
            ResolveQuery::Value,
        ),
        (
            "Rust book",
            BOOK,
            json!({"event": event.as_str()}),
            book_query,
        ),
    ] {
        let envelope = create_envelope(
            &mut node,
            &worker,
            Role::Writer,
            values.as_object().unwrap(),
        )
        .unwrap();
        let body = sign_envelope(&node, &envelope, &query, at).unwrap();
        bodies.push(BodySeed {
            label: label.into(),
            text: body.to_json().to_string(),
            path,
            created_at: at,
            sender: rust_client.clone(),
            genuine: Seen {
                sender: rust_client.clone(),
                values: Map::new(),
            },
        });
    }

    let mut sets = Vec::new();
    let client_reader = (js_client.clone(), agent(&crypto, 0));
    let worker_reader = (worker.clone(), worker_secret.clone());
    for (i, exchange) in requests["exchanges"].as_array().unwrap().iter().enumerate() {
        let pieces = exchange["requestBody"]["contentPieces"].clone();
        sets.push(PieceSet {
            label: format!("request {i}"),
            pieces,
            reader: worker_reader.clone(),
        });
        if let Some(payload) = exchange["responseBody"].get("payload") {
            let pieces = payload["contentPieces"].clone();
            sets.push(PieceSet {
                label: format!("response {i}"),
                pieces,
                reader: client_reader.clone(),
            });
        }
    }
    let event_set = Value::Array(event_pieces.clone());
    sets.push(PieceSet {
        label: "event".into(),
        pieces: event_set,
        reader: client_reader.clone(),
    });
    let alice = CoID::parse(covalues["ids"]["aliceAccount"].as_str().unwrap()).unwrap();
    let mut all: Vec<Value> = Vec::new();
    for key in [
        "aliceAccount",
        "bobAccount",
        "aliceProfileGroup",
        "aliceProfile",
        "group",
        "everyoneGroup",
        "map",
        "list",
        "publicMap",
    ] {
        for piece in covalues["pieces"][key].as_array().into_iter().flatten() {
            if !all.contains(piece) {
                all.push(piece.clone());
            }
        }
    }
    let covalue_set = Value::Array(all);
    sets.push(PieceSet {
        label: "covalues".into(),
        pieces: covalue_set,
        reader: (alice, agent(&crypto, 0)),
    });

    let (mut vocab, mut keys) = (Vec::new(), Vec::new());
    for body in &bodies {
        collect_strings(
            &serde_json::from_str(&body.text).unwrap(),
            &mut vocab,
            &mut keys,
        );
    }
    for set in &sets {
        collect_strings(&set.pieces, &mut vocab, &mut keys);
    }
    vocab.sort();
    vocab.dedup();
    keys.sort();
    keys.dedup();

    let forgers = signers
        .iter()
        .filter(|(_, signer)| signer.signer_id() != worker_secret.signer.signer_id())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut world = World {
        worker,
        worker_secret,
        template,
        bodies,
        originals: originals(&sets, &signers),
        forgers,
        sets,
        signers,
        vocab,
        keys,
    };
    // What the handler sees of each genuine body.
    let runtime = runtime();
    for i in 0..world.bodies.len() {
        let seed = &world.bodies[i];
        let harness = Harness::new(&world, seed.created_at);
        let status = runtime.block_on(harness.post(seed.path, seed.text.as_bytes()));
        assert_eq!(status.0, 200, "{}: {}", seed.label, status.1);
        let seen = harness.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{}", seed.label);
        assert_eq!(seen[0].sender, seed.sender, "{}", seed.label);
        let genuine = seen[0].clone();
        drop(seen);
        world.bodies[i].genuine = genuine;
    }
    world
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// A fresh worker per case, on an in-memory store holding the template.
// ---------------------------------------------------------------------------------------

struct Harness {
    worker: RequestWorker,
    storage: Arc<MemoryStorage>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stored: Vec<KnownState>,
}

fn snapshot(storage: &MemoryStorage) -> Vec<KnownState> {
    storage
        .ids()
        .unwrap()
        .iter()
        .map(|id| storage.known_state(id).unwrap().unwrap())
        .collect()
}

impl Harness {
    fn new(world: &World, now: u64) -> Self {
        let storage = Arc::new(MemoryStorage::new());
        let mut node = LocalNode::new(Reader::new(
            Some(world.worker.clone()),
            world.worker_secret.clone(),
        ));
        node.attach_storage(storage.clone() as Arc<dyn Storage>);
        for message in &world.template {
            node.import(message.clone()).unwrap();
        }
        node.flush().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (echo_seen, book_seen) = (seen.clone(), seen.clone());
        let record = |seen: &Arc<Mutex<Vec<Seen>>>, ctx: &RequestContext| {
            let values = ctx
                .with_node(|node| Ok::<_, JazzRequestError>(expanded(node, ctx.values())))
                .unwrap_or_default();
            seen.lock().unwrap().push(Seen {
                sender: ctx.made_by().id().clone(),
                values,
            });
        };
        let book = RouteSpec::new(BOOK).with_request_resolve(
            ResolveQuery::from_json(&json!({"event": {"reservations": true}})).unwrap(),
        );
        let worker = RequestWorker::with_clock(
            node,
            Arc::new(ManualClock::new(now)),
            WorkerConfig::default(),
        )
        .unwrap()
        .route(RouteSpec::new(ECHO), move |ctx: RequestContext| {
            record(&echo_seen, &ctx);
            async move { Ok(ctx.values().clone()) }
        })
        .route(book, move |ctx: RequestContext| {
            record(&book_seen, &ctx);
            async move {
                let event = ctx.value("event").cloned().unwrap_or(Value::Null);
                Ok(Map::from_iter([("event".to_owned(), event)]))
            }
        });
        let stored = snapshot(&storage);
        Self {
            worker,
            storage,
            seen,
            stored,
        }
    }

    /// Posts `body`: the status and the body's text.
    async fn post(&self, path: &str, body: &[u8]) -> (u16, String) {
        let request = http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .body(Bytes::copy_from_slice(body))
            .unwrap();
        let response = self.worker.handle(request).await;
        (
            response.status().as_u16(),
            String::from_utf8_lossy(response.body()).into_owned(),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Mutations.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Any,
    NotRoot,
    Container,
    Array,
    ArrayItem,
    Text,
    Number,
}

fn paths(value: &Value, class: Class) -> Vec<Vec<Seg>> {
    fn walk(
        value: &Value,
        path: &mut Vec<Seg>,
        in_array: bool,
        class: Class,
        out: &mut Vec<Vec<Seg>>,
    ) {
        let keep = match class {
            Class::Any => true,
            Class::NotRoot => !path.is_empty(),
            Class::Container => value.is_object() || value.is_array(),
            Class::Array => value.is_array(),
            Class::ArrayItem => in_array,
            Class::Text => value.is_string(),
            Class::Number => value.is_number(),
        };
        if keep {
            out.push(path.clone());
        }
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk(item, path, true, class, out);
                    path.pop();
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    path.push(Seg::Key(key.clone()));
                    walk(item, path, false, class, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), false, class, &mut out);
    out
}

fn node_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut at = value;
    for seg in path {
        at = match (seg, at) {
            (Seg::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

fn node_ref<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut at = value;
    for seg in path {
        at = match (seg, at) {
            (Seg::Key(k), Value::Object(map)) => map.get(k)?,
            (Seg::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

fn pick(value: &Value, class: Class, at: usize) -> Option<Vec<Seg>> {
    let all = paths(value, class);
    (!all.is_empty()).then(|| all[at % all.len()].clone())
}

#[derive(Clone, Debug)]
enum TextEdit {
    Flip { pos: usize, ch: char },
    Insert { pos: usize, ch: char },
    Delete { pos: usize },
    Truncate { pos: usize },
    Vocab { index: usize },
    Append { text: String },
}

#[derive(Clone, Debug)]
enum NumberEdit {
    Add(i64),
    Set(Value),
    Negate,
}

#[derive(Clone, Debug)]
enum Edit {
    Replace {
        at: usize,
        with: Value,
    },
    Remove {
        at: usize,
    },
    Insert {
        at: usize,
        key: String,
        with: Value,
    },
    Duplicate {
        at: usize,
    },
    Swap {
        at: usize,
        i: usize,
        j: usize,
    },
    Graft {
        at: usize,
        donor: usize,
        from: usize,
    },
    Number {
        at: usize,
        how: NumberEdit,
    },
    Text {
        at: usize,
        how: TextEdit,
    },
}

#[derive(Clone, Debug)]
enum ByteEdit {
    Flip { pos: usize, bit: u8 },
    Insert { pos: usize, byte: u8 },
    Delete { pos: usize },
    Truncate { pos: usize },
}

fn edit_text(text: &str, how: &TextEdit, vocab: &[String]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = |pos: usize, len: usize| if len == 0 { 0 } else { pos % len };
    match how {
        TextEdit::Flip { pos, ch } => {
            if !chars.is_empty() {
                let i = at(*pos, chars.len());
                chars[i] = *ch;
            }
        }
        TextEdit::Insert { pos, ch } => {
            let i = at(*pos, chars.len() + 1);
            chars.insert(i, *ch);
        }
        TextEdit::Delete { pos } => {
            if !chars.is_empty() {
                let i = at(*pos, chars.len());
                chars.remove(i);
            }
        }
        TextEdit::Truncate { pos } => chars.truncate(at(*pos, chars.len() + 1)),
        TextEdit::Vocab { index } => return vocab[index % vocab.len()].clone(),
        TextEdit::Append { text: extra } => chars.extend(extra.chars()),
    }
    chars.into_iter().collect()
}

/// Applies `edit` to `value`; `donors` are other real values to graft from.
fn apply_edit(value: &mut Value, edit: &Edit, donors: &[&Value], vocab: &[String]) {
    match edit {
        Edit::Replace { at, with } => {
            if let Some(path) = pick(value, Class::Any, *at)
                && let Some(node) = node_mut(value, &path)
            {
                *node = with.clone();
            }
        }
        Edit::Remove { at } => {
            if let Some(mut path) = pick(value, Class::NotRoot, *at) {
                let last = path.pop();
                match (node_mut(value, &path), last) {
                    (Some(Value::Object(map)), Some(Seg::Key(k))) => {
                        map.shift_remove(&k);
                    }
                    (Some(Value::Array(items)), Some(Seg::Index(i))) if i < items.len() => {
                        items.remove(i);
                    }
                    _ => {}
                }
            }
        }
        Edit::Insert { at, key, with } => {
            if let Some(path) = pick(value, Class::Container, *at) {
                match node_mut(value, &path) {
                    Some(Value::Object(map)) => {
                        map.insert(key.clone(), with.clone());
                    }
                    Some(Value::Array(items)) => {
                        let i = key.len() % (items.len() + 1);
                        items.insert(i, with.clone());
                    }
                    _ => {}
                }
            }
        }
        Edit::Duplicate { at } => {
            if let Some(mut path) = pick(value, Class::ArrayItem, *at)
                && let Some(Seg::Index(i)) = path.pop()
                && let Some(Value::Array(items)) = node_mut(value, &path)
                && i < items.len()
            {
                let copy = items[i].clone();
                items.insert(i + 1, copy);
            }
        }
        Edit::Swap { at, i, j } => {
            if let Some(path) = pick(value, Class::Array, *at)
                && let Some(Value::Array(items)) = node_mut(value, &path)
                && !items.is_empty()
            {
                let n = items.len();
                items.swap(i % n, j % n);
            }
        }
        Edit::Graft { at, donor, from } => {
            if donors.is_empty() {
                return;
            }
            let donor = donors[donor % donors.len()];
            let Some(from) = pick(donor, Class::NotRoot, *from) else {
                return;
            };
            let graft = node_ref(donor, &from).cloned();
            if let Some(path) = pick(value, Class::NotRoot, *at)
                && let (Some(node), Some(graft)) = (node_mut(value, &path), graft)
            {
                *node = graft;
            }
        }
        Edit::Number { at, how } => {
            if let Some(path) = pick(value, Class::Number, *at)
                && let Some(node) = node_mut(value, &path)
            {
                let n = node.as_f64().unwrap_or(0.0);
                *node = match how {
                    NumberEdit::Add(d) => match node.as_i64() {
                        Some(i) => json!(i.saturating_add(*d)),
                        None => json!(n + *d as f64),
                    },
                    NumberEdit::Set(v) => v.clone(),
                    NumberEdit::Negate => match node.as_i64().and_then(i64::checked_neg) {
                        Some(i) => json!(i),
                        None => json!(-n),
                    },
                };
            }
        }
        Edit::Text { at, how } => {
            if let Some(path) = pick(value, Class::Text, *at)
                && let Some(Value::String(text)) = node_mut(value, &path)
            {
                *text = edit_text(text, how, vocab);
            }
        }
    }
}

fn apply_bytes(text: &mut Vec<u8>, edit: &ByteEdit) {
    let len = text.len();
    if len == 0 {
        return;
    }
    match edit {
        ByteEdit::Flip { pos, bit } => text[pos % len] ^= 1 << (bit % 8),
        ByteEdit::Insert { pos, byte } => text.insert(pos % (len + 1), *byte),
        ByteEdit::Delete { pos } => {
            text.remove(pos % len);
        }
        ByteEdit::Truncate { pos } => text.truncate(pos % len),
    }
}

/// Re-signs, in every content piece, the sessions of authors whose signers are known (from
/// their first transaction): the changed content verifies again, so that it reaches the
/// checks after the signatures. Pieces that do not parse are left as they are.
fn resign_sessions(pieces: &mut Value, signers: &HashMap<String, SignerSecret>) {
    let Some(items) = pieces.as_array_mut() else {
        return;
    };
    for item in items {
        let Ok(mut message) = ContentMessage::from_json(item) else {
            continue;
        };
        let mut changed = false;
        for (session, content) in &mut message.new {
            let author = match session.author() {
                SessionAuthor::Account(id) => id.to_string(),
                SessionAuthor::Agent(agent) => agent.to_string(),
            };
            let Some(signer) = signers.get(&author) else {
                continue;
            };
            if content.after != 0 || content.new_transactions.is_empty() {
                continue;
            }
            let mut log = SessionLog::new(session.clone());
            let mut last = None;
            for tx in &content.new_transactions {
                match log.append_own(tx.clone(), signer) {
                    Ok(signature) => last = Some(signature),
                    Err(_) => {
                        last = None;
                        break;
                    }
                }
            }
            if let Some(signature) = last {
                content.last_signature = signature;
                changed = true;
            }
        }
        if changed {
            *item = message.to_json();
        }
    }
}

/// Signs `body` again as `signer`, keeping its (possibly mutated) pieces, id and createdAt
/// when they still have the shape a token covers.
fn resign_token(body: &mut Value, signer: &SignerSecret) {
    let Some(object) = body.as_object_mut() else {
        return;
    };
    let (Some(Value::Array(pieces)), Some(Value::String(id)), Some(Value::Number(created_at))) = (
        object.get("contentPieces").cloned(),
        object.get("id").cloned(),
        object.get("createdAt").cloned(),
    ) else {
        return;
    };
    let Ok(id) = CoID::parse(&id) else {
        return;
    };
    let placeholder = SignedBody::sign(Vec::new(), id.clone(), 0, signer);
    let unsigned = SignedBody {
        content_pieces: pieces,
        id,
        created_at,
        auth_token: placeholder.auth_token,
        signer_id: signer.signer_id(),
    };
    let token = crypto::sign_hash(signer, &unsigned.signing_hash());
    object.insert("authToken".into(), json!(token.to_string()));
    object.insert("signerID".into(), json!(signer.signer_id().to_string()));
}

// ---------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------

fn text_strategy() -> BoxedStrategy<String> {
    let w = world();
    prop_oneof![
        4 => (0..w.vocab.len()).prop_map(move |i| w.vocab[i].clone()),
        2 => "\\PC{0,12}",
        1 => (
            prop::sample::select(vec![
                "co_z", "signature_z", "signer_z", "sealer_z", "key_z", "encrypted_U",
                "sealed_U", "hash_z", "_session_z", "binary_U", "everyone", "$handled",
            ]),
            "[1-9A-HJ-NP-Za-km-z]{0,44}",
        )
            .prop_map(|(p, s)| format!("{p}{s}")),
    ]
    .boxed()
}

fn number_strategy() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(1),
            json!(3),
            json!(6),
            json!(0.5),
            json!(-0.0),
            json!(9_007_199_254_740_993_u64),
            json!(1e21),
            json!(u64::MAX),
            json!(i64::MIN),
        ]),
    ]
    .boxed()
}

fn key_strategy() -> BoxedStrategy<String> {
    let w = world();
    prop_oneof![
        3 => (0..w.keys.len()).prop_map(move |i| w.keys[i].clone()),
        1 => text_strategy(),
    ]
    .boxed()
}

fn json_strategy() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number_strategy(),
        text_strategy().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key_strategy(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A transaction-shaped object with real-looking fields.
fn transaction_strategy() -> BoxedStrategy<Value> {
    (
        any::<bool>(),
        number_strategy(),
        text_strategy(),
        text_strategy(),
        prop::option::of(text_strategy()),
    )
        .prop_map(|(private, made_at, a, b, meta)| {
            let mut tx = if private {
                json!({"encryptedChanges": a, "keyUsed": b, "madeAt": made_at, "privacy": "private"})
            } else {
                json!({"changes": a, "madeAt": made_at, "privacy": "trusting"})
            };
            if let Some(meta) = meta {
                tx["meta"] = json!(meta);
            }
            tx
        })
        .boxed()
}

/// A content-piece-shaped object: real ids, headers, sessions and signatures mixed.
fn piece_strategy() -> BoxedStrategy<Value> {
    let w = world();
    let headers: Vec<Value> = w
        .sets
        .iter()
        .flat_map(|s| s.pieces.as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.get("header").cloned())
        .collect();
    (
        text_strategy(),
        prop::option::of(prop_oneof![
            3 => prop::sample::select(headers),
            1 => json_strategy(),
        ]),
        prop::sample::select(vec![json!(0), json!(3), json!(6), json!(1), json!("3")]),
        prop::collection::vec(
            (
                text_strategy(),
                0usize..3,
                prop::collection::vec(transaction_strategy(), 0..3),
                text_strategy(),
            ),
            0..3,
        ),
    )
        .prop_map(|(id, header, priority, sessions)| {
            let mut piece = json!({"action": "content", "id": id});
            if let Some(header) = header {
                piece["header"] = header;
            }
            piece["priority"] = priority;
            let new: Map<String, Value> = sessions
                .into_iter()
                .map(|(session, after, txs, signature)| {
                    (
                        session,
                        json!({"after": after, "newTransactions": txs, "lastSignature": signature}),
                    )
                })
                .collect();
            piece["new"] = Value::Object(new);
            piece
        })
        .boxed()
}

fn edit_strategy() -> BoxedStrategy<Edit> {
    let at = any::<usize>();
    prop_oneof![
        2 => (at, json_strategy()).prop_map(|(at, with)| Edit::Replace { at, with }),
        3 => at.prop_map(|at| Edit::Remove { at }),
        1 => (at, key_strategy(), json_strategy())
            .prop_map(|(at, key, with)| Edit::Insert { at, key, with }),
        2 => at.prop_map(|at| Edit::Duplicate { at }),
        2 => (at, any::<usize>(), any::<usize>()).prop_map(|(at, i, j)| Edit::Swap { at, i, j }),
        2 => (at, any::<usize>(), any::<usize>())
            .prop_map(|(at, donor, from)| Edit::Graft { at, donor, from }),
        2 => (at, prop_oneof![
            (-5i64..5).prop_map(NumberEdit::Add),
            number_strategy().prop_map(NumberEdit::Set),
            Just(NumberEdit::Negate),
        ])
            .prop_map(|(at, how)| Edit::Number { at, how }),
        6 => (at, text_edit_strategy()).prop_map(|(at, how)| Edit::Text { at, how }),
    ]
    .boxed()
}

fn text_edit_strategy() -> BoxedStrategy<TextEdit> {
    let pos = any::<usize>();
    let ch = prop_oneof![
        4 => prop::sample::select(
            "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>(),
        1 => prop::sample::select(vec!['"', '\\', '_', '/', '$', '\0', '\u{2028}', 'é', '😀']),
    ];
    prop_oneof![
        4 => (pos, ch.clone()).prop_map(|(pos, ch)| TextEdit::Flip { pos, ch }),
        1 => (pos, ch).prop_map(|(pos, ch)| TextEdit::Insert { pos, ch }),
        1 => pos.prop_map(|pos| TextEdit::Delete { pos }),
        1 => pos.prop_map(|pos| TextEdit::Truncate { pos }),
        1 => any::<usize>().prop_map(|index| TextEdit::Vocab { index }),
        1 => "\\PC{1,8}".prop_map(|text| TextEdit::Append { text }),
    ]
    .boxed()
}

fn byte_edit_strategy() -> BoxedStrategy<ByteEdit> {
    let pos = any::<usize>();
    prop_oneof![
        4 => (pos, any::<u8>()).prop_map(|(pos, bit)| ByteEdit::Flip { pos, bit }),
        1 => (pos, any::<u8>()).prop_map(|(pos, byte)| ByteEdit::Insert { pos, byte }),
        1 => pos.prop_map(|pos| ByteEdit::Delete { pos }),
        1 => pos.prop_map(|pos| ByteEdit::Truncate { pos }),
    ]
    .boxed()
}

/// One request case.
#[derive(Clone, Debug)]
enum BodyCase {
    /// A real body, mutated.
    Mutated {
        seed: usize,
        edits: Vec<Edit>,
        resign_sessions: bool,
        resign_token: bool,
        bytes: Vec<ByteEdit>,
    },
    /// An arbitrary JSON body for a seed's route and clock, optionally signed by its sender.
    Arbitrary {
        seed: usize,
        body: Value,
        sign: bool,
    },
    /// Arbitrary bytes.
    Bytes { seed: usize, bytes: Vec<u8> },
}

fn body_case_strategy() -> BoxedStrategy<BodyCase> {
    let seeds = world().bodies.len();
    let body_shaped = (
        prop::collection::vec(
            prop_oneof![3 => piece_strategy(), 1 => json_strategy()],
            0..5,
        ),
        text_strategy(),
        number_strategy(),
        text_strategy(),
        text_strategy(),
    )
        .prop_map(|(pieces, id, created_at, token, signer)| {
            json!({"contentPieces": pieces, "id": id, "createdAt": created_at,
                   "authToken": token, "signerID": signer})
        });
    prop_oneof![
        12 => (
            0..seeds,
            prop::collection::vec(edit_strategy(), 1..4),
            prop::bool::weighted(0.35),
            prop::bool::weighted(0.7),
            prop_oneof![
                6 => Just(Vec::new()),
                1 => prop::collection::vec(byte_edit_strategy(), 1..3),
            ],
        )
            .prop_map(|(seed, edits, resign_sessions, resign_token, bytes)| BodyCase::Mutated {
                seed,
                edits,
                resign_sessions,
                resign_token,
                bytes,
            }),
        2 => (0..seeds, prop_oneof![1 => json_strategy(), 3 => body_shaped], any::<bool>())
            .prop_map(|(seed, body, sign)| BodyCase::Arbitrary { seed, body, sign }),
        1 => (0..seeds, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(seed, bytes)| BodyCase::Bytes { seed, bytes }),
    ]
    .boxed()
}

/// One import case: a real piece set, edited, optionally re-signed, and an arbitrary piece.
#[derive(Clone, Debug)]
struct ImportCase {
    set: usize,
    edits: Vec<Edit>,
    resign_sessions: bool,
    extra: Option<Value>,
}

fn import_case_strategy() -> BoxedStrategy<ImportCase> {
    let sets = world().sets.len();
    (
        0..sets,
        prop::collection::vec(edit_strategy(), 0..4),
        prop::bool::weighted(0.35),
        prop::option::weighted(
            0.25,
            prop_oneof![3 => piece_strategy(), 1 => json_strategy()],
        ),
    )
        .prop_map(|(set, edits, resign_sessions, extra)| ImportCase {
            set,
            edits,
            resign_sessions,
            extra,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------

/// What a case ended in (for the histogram): the status and the start of the message.
type Outcome = String;

fn outcome(status: u16, body: &str) -> Outcome {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| b.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let reason = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| {
            b.pointer("/details/reason")
                .and_then(Value::as_str)
                .map(|r| r.split([':', '(']).next().unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let mut text = format!("{status} {message}");
    if !reason.is_empty() {
        text.push_str(" — ");
        text.push_str(&reason.chars().take(60).collect::<String>());
    }
    text
}

/// The body a case posts, the seed it comes from, and whether it was signed again (its
/// sessions or its token): then the sender may have changed what it says.
fn body_of(case: &BodyCase) -> (Vec<u8>, &'static BodySeed, bool) {
    let w = world();
    let donors: Vec<Value> = w
        .bodies
        .iter()
        .map(|b| serde_json::from_str(&b.text).unwrap())
        .collect();
    let donor_refs: Vec<&Value> = donors.iter().collect();
    match case {
        BodyCase::Mutated {
            seed,
            edits,
            resign_sessions: resign,
            resign_token: token,
            bytes,
        } => {
            let seed = &w.bodies[*seed];
            let mut body: Value = serde_json::from_str(&seed.text).unwrap();
            for edit in edits {
                apply_edit(&mut body, edit, &donor_refs, &w.vocab);
            }
            if *resign && let Some(pieces) = body.get_mut("contentPieces") {
                resign_sessions(pieces, &w.forgers);
            }
            if *token {
                resign_token(&mut body, &w.signers[seed.sender.as_str()]);
            }
            let mut text = body.to_string().into_bytes();
            for edit in bytes {
                apply_bytes(&mut text, edit);
            }
            (text, seed, *resign || *token)
        }
        BodyCase::Arbitrary { seed, body, sign } => {
            let seed = &w.bodies[*seed];
            let mut body = body.clone();
            if *sign {
                resign_token(&mut body, &w.signers[seed.sender.as_str()]);
            }
            (body.to_string().into_bytes(), seed, true)
        }
        BodyCase::Bytes { seed, bytes } => (bytes.clone(), &w.bodies[*seed], true),
    }
}

/// Runs one request case on a fresh worker: `Ok(outcome)` or the property it breaks.
fn check_body_case(runtime: &tokio::runtime::Runtime, case: &BodyCase) -> Result<Outcome, String> {
    let (body, seed, resigned) = body_of(case);
    let harness = Harness::new(world(), seed.created_at);
    let (status, text) = runtime.block_on(harness.post(seed.path, &body));
    let shown = || String::from_utf8_lossy(&body).into_owned();
    if status >= 500 {
        return Err(format!("{status} {text} for the body {}", shown()));
    }
    let seen = harness.seen.lock().unwrap().clone();
    if status == 200 {
        let [one] = seen.as_slice() else {
            return Err(format!("200 but the handler ran {} times", seen.len()));
        };
        if one.sender != seed.sender {
            return Err(format!(
                "200 with sender {} instead of {} for the body {}",
                one.sender,
                seed.sender,
                shown()
            ));
        }
        if !resigned && *one != seed.genuine {
            return Err(format!(
                "200 with values {:?} instead of the genuine {:?} for the body {}",
                one.values,
                seed.genuine.values,
                shown()
            ));
        }
        return Ok(outcome(status, &text));
    }
    if !seen.is_empty() {
        return Err(format!(
            "{status} {text} after the handler ran, for the body {}",
            shown()
        ));
    }
    if snapshot(&harness.storage) != harness.stored {
        return Err(format!(
            "{status} {text} changed the store, for the body {}",
            shown()
        ));
    }
    // What it left for the node to store (a piece with a header of a CoValue the worker has
    // is queued even when it brings nothing new) changes nothing once stored either.
    runtime
        .block_on(harness.worker.with_node(|node| node.flush().map(|_| ())))
        .unwrap();
    let after = snapshot(&harness.storage);
    if after != harness.stored {
        let changed: Vec<&CoID> = after
            .iter()
            .filter(|state| !harness.stored.contains(state))
            .map(|state| &state.id)
            .collect();
        return Err(format!(
            "{status} {text} left content that changed the store once stored ({changed:?}), \
             for the body {}",
            shown()
        ));
    }
    Ok(outcome(status, &text))
}

/// Imports one case's pieces into a fresh node as the set's reader and checks the node.
fn check_import_case(case: &ImportCase) -> Result<Outcome, String> {
    let w = world();
    let set = &w.sets[case.set];
    let donors: Vec<&Value> = w.sets.iter().map(|s| &s.pieces).collect();
    let mut pieces = set.pieces.clone();
    for edit in &case.edits {
        apply_edit(&mut pieces, edit, &donors, &w.vocab);
    }
    if let (Some(extra), Some(items)) = (&case.extra, pieces.as_array_mut()) {
        let at = extra.to_string().len() % (items.len() + 1);
        items.insert(at, extra.clone());
    }
    if case.resign_sessions {
        resign_sessions(&mut pieces, &w.signers);
    }
    let reader = || Reader::new(Some(set.reader.0.clone()), set.reader.1.clone());
    let mut node = LocalNode::new(reader());
    let (mut parsed, mut imported, mut refused) = (0, 0, 0);
    let items: Vec<Value> = match &pieces {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for item in &items {
        let Ok(message) = ContentMessage::from_json(item) else {
            continue;
        };
        parsed += 1;
        match node.import(message) {
            Ok(_) => imported += 1,
            Err(_) => refused += 1,
        }
    }
    let ids: Vec<CoID> = node.ids().cloned().collect();
    for id in &ids {
        // Reading never panics (errors are fine).
        let _ = node.read(id);
        let _ = node.loaded_tree(id);
        let _ = node.undecryptable(id);
        let _ = node.creator(id);
        let exported = node
            .export(id, &ResolveQuery::Value)
            .map_err(|e| format!("{}: {id} is held but does not export: {e}", set.label))?;
        // No transaction that is not an original one at its place in its session, unless
        // re-signed.
        if !case.resign_sessions {
            for message in exported.iter().filter(|m| &m.id == id) {
                for (session, content) in &message.new {
                    for (i, tx) in content.new_transactions.iter().enumerate() {
                        let key = (signer_of(session, &w.signers), content.after + i);
                        let genuine = w.originals.get(&key);
                        if !genuine.is_some_and(|texts| texts.contains(&tx.canonical_json())) {
                            return Err(format!(
                                "{}: {id} holds a transaction that is not the original at \
                                 {session} #{}: {} (pieces {pieces})",
                                set.label,
                                content.after + i,
                                tx.canonical_json()
                            ));
                        }
                    }
                }
            }
        }
        // What a node holds, another node imports.
        let mut other = LocalNode::new(reader());
        for message in exported {
            let what = message.id.clone();
            other.import(message).map_err(|e| {
                format!(
                    "{}: {id} exported from a node does not import again ({what}: {e}); \
                     pieces {pieces}",
                    set.label
                )
            })?;
        }
    }
    Ok(format!(
        "parsed {}, imported {}, refused {}",
        bucket(parsed),
        bucket(imported),
        bucket(refused)
    ))
}

fn bucket(n: usize) -> &'static str {
    match n {
        0 => "0",
        1..=3 => "1-3",
        _ => "4+",
    }
}

// ---------------------------------------------------------------------------------------
// The two modes: proptest in CI, a long counted run with `JAZZ_REQ_FUZZ_CASES`.
// ---------------------------------------------------------------------------------------

fn long_cases() -> Option<u64> {
    std::env::var(CASES_VAR).ok().and_then(|s| s.parse().ok())
}

fn print_histogram(name: &str, histogram: &BTreeMap<String, u64>) {
    let mut rows: Vec<(&String, &u64)> = histogram.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1));
    println!("{name}: outcomes");
    for (outcome, count) in rows.iter().take(60) {
        println!("  {count:>9}  {outcome}");
    }
    if rows.len() > 60 {
        println!("  … and {} more kinds", rows.len() - 60);
    }
}

/// Runs `cases` cases drawn from `strategy` with proptest (shrinking a failure).
fn ci_run<T: std::fmt::Debug>(
    name: &str,
    cases: u32,
    strategy: BoxedStrategy<T>,
    check: impl Fn(&T) -> Result<Outcome, String>,
) {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    let histogram = Mutex::new(BTreeMap::<String, u64>::new());
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |case| {
        let outcome = check(&case).map_err(TestCaseError::fail)?;
        *histogram.lock().unwrap().entry(outcome).or_default() += 1;
        Ok(())
    });
    let elapsed = started.elapsed();
    print_histogram(name, &histogram.lock().unwrap());
    println!(
        "{name}: {cases} cases in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        f64::from(cases) / elapsed.as_secs_f64()
    );
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

/// Runs `total` cases on every core, each under `catch_unwind`; prints the count, the rate,
/// the panics and the broken properties, and fails if there were any.
fn long_run<T: std::fmt::Debug>(
    name: &str,
    total: u64,
    strategy: &(dyn Fn() -> BoxedStrategy<T> + Sync),
    check: &(dyn Fn(&tokio::runtime::Runtime, &T) -> Result<Outcome, String> + Sync),
) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let started = Instant::now();
    let done = std::sync::atomic::AtomicU64::new(0);
    let panics = std::sync::atomic::AtomicU64::new(0);
    let broken = std::sync::atomic::AtomicU64::new(0);
    let findings = Mutex::new(Vec::<String>::new());
    let histogram = Mutex::new(BTreeMap::<String, u64>::new());
    let report_every = (total / 20).max(1);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (done, panics, broken, findings, histogram) =
                (&done, &panics, &broken, &findings, &histogram);
            scope.spawn(move || {
                let runtime = runtime();
                let strategy = strategy();
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&thread.to_le_bytes());
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                seed[8..16].copy_from_slice(&nanos.to_le_bytes());
                let mut runner = TestRunner::new_with_rng(
                    Config::default(),
                    TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
                );
                let mut local = BTreeMap::<String, u64>::new();
                let share = total / threads + u64::from(thread < total % threads);
                for _ in 0..share {
                    let Ok(tree) = strategy.new_tree(&mut runner) else {
                        continue;
                    };
                    let case = tree.current();
                    let result = catch_unwind(AssertUnwindSafe(|| check(&runtime, &case)));
                    match result {
                        Ok(Ok(outcome)) => *local.entry(outcome).or_default() += 1,
                        Ok(Err(finding)) => {
                            broken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let mut findings = findings.lock().unwrap();
                            if findings.len() < 20 {
                                eprintln!("{name}: FOUND {finding}\n  case: {case:?}");
                                findings.push(format!("{finding}\n  case: {case:?}"));
                            }
                        }
                        Err(_) => {
                            panics.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let mut findings = findings.lock().unwrap();
                            if findings.len() < 20 {
                                eprintln!("{name}: PANIC\n  case: {case:?}");
                                findings.push(format!("PANIC\n  case: {case:?}"));
                            }
                        }
                    }
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if n % report_every == 0 {
                        let secs = started.elapsed().as_secs_f64();
                        println!(
                            "{name}: {n}/{total} cases, {:.0}/s, {} panics, {} broken",
                            n as f64 / secs,
                            panics.load(std::sync::atomic::Ordering::Relaxed),
                            broken.load(std::sync::atomic::Ordering::Relaxed),
                        );
                    }
                }
                let mut histogram = histogram.lock().unwrap();
                for (k, v) in local {
                    *histogram.entry(k).or_default() += v;
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(std::sync::atomic::Ordering::Relaxed);
    let (p, b) = (
        panics.load(std::sync::atomic::Ordering::Relaxed),
        broken.load(std::sync::atomic::Ordering::Relaxed),
    );
    print_histogram(name, &histogram.lock().unwrap());
    for finding in findings.lock().unwrap().iter() {
        println!("{name}: FOUND {finding}");
    }
    println!(
        "{name}: {n} cases in {secs:.0} s on {threads} threads: {:.0} cases/s; panics {p}; \
         broken properties {b}",
        n as f64 / secs
    );
    assert_eq!((p, b), (0, 0), "{name}: panics and broken properties");
}

#[test]
fn fuzz_the_worker_with_mutated_and_arbitrary_bodies() {
    let name = "worker handle";
    match long_cases() {
        Some(total) => long_run(name, total, &body_case_strategy, &check_body_case),
        None => {
            let runtime = runtime();
            ci_run(name, CI_CASES, body_case_strategy(), |case| {
                check_body_case(&runtime, case)
            });
        }
    }
}

#[test]
fn fuzz_content_import_with_mutated_and_arbitrary_pieces() {
    let name = "content import";
    match long_cases() {
        Some(total) => long_run(name, total, &import_case_strategy, &|_, case| {
            check_import_case(case)
        }),
        None => ci_run(name, CI_CASES, import_case_strategy(), check_import_case),
    }
}

#[test]
fn every_genuine_seed_is_accepted_and_seen_as_sent() {
    let w = world();
    assert!(w.bodies.len() >= 5);
    for seed in &w.bodies {
        assert_eq!(seed.genuine.sender, seed.sender, "{}", seed.label);
        assert!(!seed.genuine.values.is_empty(), "{}", seed.label);
    }
    // The book seeds see the event loaded from the worker's store, not an id.
    let book = w.bodies.iter().find(|b| b.path == BOOK).unwrap();
    assert!(
        book.genuine.values["event"].is_object(),
        "{:?}",
        book.genuine
    );
    // Each piece set imports whole as its reader.
    for set in &w.sets {
        let case = ImportCase {
            set: w.sets.iter().position(|s| s.label == set.label).unwrap(),
            edits: Vec::new(),
            resign_sessions: false,
            extra: None,
        };
        check_import_case(&case).unwrap_or_else(|e| panic!("{e}"));
    }
}

// ---------------------------------------------------------------------------------------
// Typed routes: every field kind, hostile values signed by a real client.
// ---------------------------------------------------------------------------------------

/// Cases of the typed fuzz target in CI (about 20 s in the dev profile; every run tried
/// before the fix found the `i64::MIN` overflow `read_safe_integer` had).
const CI_TYPED_CASES: u32 = 600;

const EVERYTHING: &str = "/api/everything";

/// A string enum (`z.enum`).
#[derive(Clone, Copy, Debug, PartialEq, jazz_req::CoEnum)]
pub enum Mood {
    /// A plain variant.
    Calm,
    /// A renamed one.
    #[co(rename = "ANGRY")]
    Angry,
}

/// A map a reference names.
#[derive(jazz_req::CoMap, Debug)]
pub struct Leaf {
    /// Its name.
    pub name: String,
}

/// A map with a field of every kind a schema has: what a `Loaded<Everything>` request field
/// makes the worker read from a CoMap the client wrote.
#[derive(jazz_req::CoMap, Debug)]
pub struct Everything {
    /// `z.string()`.
    pub text: String,
    /// `z.boolean()`.
    pub flag: bool,
    /// Each integer type.
    pub tiny: i8,
    /// -
    pub small: i16,
    /// -
    pub medium: i32,
    /// -
    pub large: i64,
    /// -
    pub size: isize,
    /// -
    pub byte: u8,
    /// -
    pub word: u16,
    /// -
    pub dword: u32,
    /// -
    pub qword: u64,
    /// -
    pub count: usize,
    /// `z.number()`.
    pub double: f64,
    /// -
    pub single: f32,
    /// `.optional()`.
    pub maybe: Option<i32>,
    /// `z.json()`.
    pub raw: Value,
    /// `z.object(…)`.
    pub settings: jazz_req::prelude::Json<BTreeMap<String, u32>>,
    /// `z.enum(…)`.
    pub mood: Mood,
    /// A reference.
    pub leaf: jazz_req::prelude::Ref<Leaf>,
    /// A list of strings.
    pub tags: jazz_req::prelude::CoList<String>,
    /// A list of references.
    pub leaves: jazz_req::prelude::CoList<jazz_req::prelude::Ref<Leaf>>,
    /// An account.
    pub owner: jazz_req::prelude::Account,
    /// A group.
    pub staff: jazz_req::prelude::Group,
}

/// What `/api/everything` answers.
#[derive(jazz_req::CoMap, Debug)]
pub struct Taken {
    /// Always true.
    pub ok: bool,
}

/// Takes a request field of every kind (and a loaded map of every kind) and answers `ok`:
/// whatever reaches it was read without a panic.
#[jazz_req::jazz_request(
    url = "/api/everything",
    resolve = { everything: { leaf: true, tags: true, leaves: { $each: true } }, tags: true, leaves: { $each: true } },
)]
pub async fn take_everything(
    _ctx: RequestContext,
    text: String,
    flag: bool,
    tiny: i8,
    small: i16,
    medium: i32,
    large: i64,
    size: isize,
    byte: u8,
    word: u16,
    dword: u32,
    qword: u64,
    count: usize,
    double: f64,
    single: f32,
    maybe: Option<i32>,
    raw: Value,
    settings: jazz_req::prelude::Json<BTreeMap<String, u32>>,
    mood: Mood,
    leaf: jazz_req::prelude::Ref<Leaf>,
    tags: jazz_req::prelude::CoList<String>,
    leaves: jazz_req::prelude::CoList<jazz_req::prelude::Ref<Leaf>>,
    owner: jazz_req::prelude::Account,
    staff: jazz_req::prelude::Group,
    everything: jazz_req::prelude::Loaded<Everything>,
    maybe_leaf: Option<jazz_req::prelude::Ref<Leaf>>,
) -> Result<Taken, JazzRequestError> {
    // Everything is read; using it checks nothing more, but keeps the values alive.
    let _ = (
        text, flag, tiny, small, medium, large, size, byte, word, dword, qword, count, double,
        single, maybe, raw, settings, mood, leaf, tags, leaves, owner, staff, everything,
        maybe_leaf,
    );
    Ok(Taken { ok: true })
}

/// The request fields of `/api/everything` in order; the first [`EVERYTHING_FIELDS`] are
/// also the fields of [`Everything`].
const TYPED_FIELDS: [&str; 25] = [
    "text",
    "flag",
    "tiny",
    "small",
    "medium",
    "large",
    "size",
    "byte",
    "word",
    "dword",
    "qword",
    "count",
    "double",
    "single",
    "maybe",
    "raw",
    "settings",
    "mood",
    "leaf",
    "tags",
    "leaves",
    "owner",
    "staff",
    "everything",
    "maybe_leaf",
];
const EVERYTHING_FIELDS: usize = 23;

/// A client with CoValues of every kind the worker can read, and the worker's account.
struct TypedWorld {
    worker: CoID,
    worker_secret: AgentSecret,
    worker_pieces: Vec<ContentMessage>,
    /// The client's CoValues as the worker holds them before any request (a worker imports
    /// only a request's envelope and what it depends on: what the values name, it must have
    /// from elsewhere, as a jazz-tools worker has it from its sync server).
    shared: Vec<ContentMessage>,
    client: Mutex<LocalNode>,
    /// The group the client's CoValues are in (the worker reads it).
    group: CoID,
    /// A valid value of each field of [`TYPED_FIELDS`] (the `everything` one names a map of
    /// the valid values).
    valid: Map<String, Value>,
    /// Ids of CoValues of every kind, and of none: what hostile references name.
    ids: Vec<String>,
    /// When every body is made (the worker's clock says the same).
    now: u64,
}

fn typed_world() -> &'static TypedWorld {
    static WORLD: std::sync::OnceLock<TypedWorld> = std::sync::OnceLock::new();
    WORLD.get_or_init(build_typed_world)
}

fn build_typed_world() -> TypedWorld {
    let worker_secret = crypto::random::new_random_agent_secret().unwrap();
    let (worker_node, worker) = LocalNode::create_account(worker_secret.clone(), "Worker").unwrap();
    let worker_pieces = worker_node.export(&worker, &ResolveQuery::Value).unwrap();
    let (mut node, client) =
        LocalNode::create_account(crypto::random::new_random_agent_secret().unwrap(), "Client")
            .unwrap();
    for piece in &worker_pieces {
        node.import(piece.clone()).unwrap();
    }
    let private = jazz_req_core::cojson::Privacy::Private;
    let (group, staff, leaf, tags, leaves) = node
        .batch(|node| {
            let group = node.create_group()?;
            node.add_member(&group, worker.as_str(), Role::Reader)?;
            let staff = node.create_group()?;
            node.add_member(&staff, worker.as_str(), Role::Reader)?;
            let leaf = node.create_map(&group, &[("name", json!("a leaf"))], private)?;
            let tags = node.create_list(&group, &[json!("a"), json!("b")], private)?;
            let leaves = node.create_list(&group, &[json!(leaf.as_str())], private)?;
            Ok::<_, jazz_req_core::cojson::NodeError>((group, staff, leaf, tags, leaves))
        })
        .unwrap();
    let mut valid = Map::new();
    for (field, value) in [
        ("text", json!("héllo 🎷")),
        ("flag", json!(true)),
        ("tiny", json!(-128)),
        ("small", json!(32767)),
        ("medium", json!(-2_147_483_648_i64)),
        ("large", json!(-9_007_199_254_740_991_i64)),
        ("size", json!(9_007_199_254_740_991_i64)),
        ("byte", json!(255)),
        ("word", json!(65535)),
        ("dword", json!(4_294_967_295_u64)),
        ("qword", json!(9_007_199_254_740_991_u64)),
        ("count", json!(0)),
        ("double", json!(0.1)),
        ("single", json!(1.5)),
        ("maybe", json!(7)),
        ("raw", json!({"a": [1, "b", null, {"c": 2.5}]})),
        ("settings", json!({"seats": 3})),
        ("mood", json!("ANGRY")),
        ("leaf", json!(leaf.as_str())),
        ("tags", json!(tags.as_str())),
        ("leaves", json!(leaves.as_str())),
        ("owner", json!(client.as_str())),
        ("staff", json!(staff.as_str())),
    ] {
        valid.insert(field.to_owned(), value);
    }
    let init: Vec<(&str, Value)> = valid.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let everything = node.create_map(&group, &init, private).unwrap();
    valid.insert("everything".into(), json!(everything.as_str()));
    valid.insert("maybe_leaf".into(), json!(leaf.as_str()));
    let mut shared = Vec::new();
    for id in [&group, &staff, &leaf, &tags, &leaves, &everything] {
        shared.extend(node.export(id, &ResolveQuery::Value).unwrap());
    }
    let ids = vec![
        worker.to_string(),
        client.to_string(),
        group.to_string(),
        staff.to_string(),
        leaf.to_string(),
        tags.to_string(),
        leaves.to_string(),
        everything.to_string(),
        CoID::from_bytes(&[7; 32]).to_string(),
        "co_z".to_owned(),
        format!("{}x", leaf),
    ];
    TypedWorld {
        worker,
        worker_secret,
        worker_pieces,
        shared,
        client: Mutex::new(node),
        group,
        valid,
        ids,
        now: 1_750_000_000_000,
    }
}

/// What a field of a case is.
#[derive(Clone, Debug)]
enum Pick {
    /// Left out.
    Missing,
    /// This value.
    Hostile(Value),
}

/// Which field a pick replaces: a request field, or a field of the `everything` map.
#[derive(Clone, Debug)]
enum Target {
    Request(usize),
    Everything(usize),
}

/// A typed case: a few fields of a valid request replaced.
#[derive(Clone, Debug)]
struct TypedCase {
    picks: Vec<(Target, Pick)>,
}

/// The integers at the ends of what each kind holds, and past them: `i64::MIN` (whose
/// absolute value overflows), `u64::MAX`, and the floats JSON parses them into.
fn extreme_integers() -> Vec<Value> {
    vec![
        json!(i64::MIN),
        json!(-(2f64.powi(63))),
        json!(i64::MAX),
        json!(2f64.powi(63)),
        json!(u64::MAX),
        json!(2f64.powi(64)),
    ]
}

/// Numbers at the edges of each field kind: the limits of each integer type and one past
/// them, of safe integers, of f32 and f64, signed zero and fractions.
fn edge_numbers() -> Vec<Value> {
    vec![
        json!(1e308),
        json!(-1e308),
        json!(f64::MAX),
        json!(f64::MIN),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(-0.0),
        json!(0.5),
        json!(-0.5),
        json!(1.000_000_000_000_000_2),
        json!(9_007_199_254_740_991_i64),
        json!(9_007_199_254_740_992_i64),
        json!(-9_007_199_254_740_992_i64),
        json!(9_007_199_254_740_993.0),
        json!(127),
        json!(128),
        json!(-128),
        json!(-129),
        json!(255),
        json!(256),
        json!(-1),
        json!(0),
        json!(32768),
        json!(-32769),
        json!(65536),
        json!(2_147_483_648_i64),
        json!(-2_147_483_649_i64),
        json!(4_294_967_296_u64),
        json!(3.402_823_5e38),
        json!(3.5e38),
        json!(1e-46),
    ]
}

fn typed_number_strategy() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => prop::sample::select(extreme_integers()),
        4 => prop::sample::select(edge_numbers()),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter_map("finite", |n| n.is_finite().then(|| json!(n))),
    ]
    .boxed()
}

fn typed_text_strategy() -> BoxedStrategy<String> {
    let w = typed_world();
    prop_oneof![
        2 => prop::sample::select(w.ids.clone()),
        2 => prop::sample::select(vec![
            "", "Calm", "calm", "ANGRY", "Angry", "angry", "everyone", "$jazz", "\u{0}",
            "🎷", "1e308", "-9223372036854775808", "true", "null",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,16}",
        1 => (prop::sample::select(vec![1usize << 10, 1 << 16, 1 << 18]), any::<char>())
            .prop_map(|(n, c)| std::iter::repeat_n(c, n).collect()),
    ]
    .boxed()
}

/// A hostile value: mostly a number or a string at the top (what a field reads first),
/// else JSON nested up to four levels deep.
fn hostile_strategy() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        3 => typed_number_strategy(),
        2 => typed_text_strategy().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
    ]
    .boxed();
    let nested = leaf.clone().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => prop::sample::select(TYPED_FIELDS.to_vec()).prop_map(str::to_owned),
                        1 => Just("$jazz".to_owned()),
                        1 => "\\PC{0,8}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    });
    prop_oneof![5 => typed_number_strategy(), 3 => leaf, 2 => nested].boxed()
}

fn typed_case_strategy() -> BoxedStrategy<TypedCase> {
    let target = prop_oneof![
        3 => (0..TYPED_FIELDS.len()).prop_map(Target::Request),
        2 => (0..EVERYTHING_FIELDS).prop_map(Target::Everything),
    ];
    let pick = prop_oneof![
        1 => Just(Pick::Missing),
        6 => hostile_strategy().prop_map(Pick::Hostile),
    ];
    prop::collection::vec((target, pick), 1..4)
        .prop_map(|picks| TypedCase { picks })
        .boxed()
}

/// Makes the case's request on the client (a new `everything` map if one of its fields is
/// replaced) and signs it with the route's request resolve — or, if the client cannot export
/// what a hostile reference names, with the envelope alone. Returns the body and the new
/// map's pieces (the worker holds them, as it holds the client's other CoValues); `None`
/// when the client itself refuses to write the values (a transaction over 1 MiB).
fn typed_body(case: &TypedCase) -> Option<(Vec<u8>, Vec<ContentMessage>)> {
    let w = typed_world();
    let mut values = w.valid.clone();
    let mut inner: Option<Map<String, Value>> = None;
    for (target, pick) in &case.picks {
        let (map, field) = match target {
            Target::Request(i) => (&mut values, TYPED_FIELDS[*i]),
            Target::Everything(i) => (
                inner.get_or_insert_with(|| {
                    let mut fields = w.valid.clone();
                    fields.remove("everything");
                    fields.remove("maybe_leaf");
                    fields
                }),
                TYPED_FIELDS[*i],
            ),
        };
        match pick {
            Pick::Missing => map.remove(field),
            Pick::Hostile(value) => map.insert(field.to_owned(), value.clone()),
        };
    }
    // A case that panicked while it held the client (the worker's panic is what the test
    // looks for) leaves it as usable as before.
    let mut node = w
        .client
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut held = Vec::new();
    if let Some(fields) = inner {
        let init: Vec<(&str, Value)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let map = node
            .create_map(&w.group, &init, jazz_req_core::cojson::Privacy::Private)
            .ok()?;
        held = node.export(&map, &ResolveQuery::Value).unwrap();
        values.insert("everything".into(), json!(map.as_str()));
    }
    let envelope = create_envelope(&mut node, &w.worker, Role::Writer, &values).ok()?;
    let body = sign_envelope(&node, &envelope, &TakeEverything::request_resolve(), w.now)
        .or_else(|_| sign_envelope(&node, &envelope, &ResolveQuery::Value, w.now))
        .unwrap();
    Some((body.to_json().to_string().into_bytes(), held))
}

/// A fresh worker serving `/api/everything`, holding its own account, the client's CoValues
/// and `held`.
fn typed_worker(held: &[ContentMessage]) -> RequestWorker {
    let w = typed_world();
    let mut node = LocalNode::new(Reader::new(Some(w.worker.clone()), w.worker_secret.clone()));
    for piece in w.worker_pieces.iter().chain(&w.shared).chain(held) {
        node.import(piece.clone()).unwrap();
    }
    RequestWorker::with_clock(
        node,
        Arc::new(ManualClock::new(w.now)),
        WorkerConfig::default(),
    )
    .unwrap()
    .register(TakeEverything)
}

/// Posts the case's body to a fresh worker: never a panic, never a 5xx.
fn check_typed_case(
    runtime: &tokio::runtime::Runtime,
    case: &TypedCase,
) -> Result<Outcome, String> {
    let Some((body, held)) = typed_body(case) else {
        return Ok("not sent: the client refused to write it".to_owned());
    };
    let worker = typed_worker(&held);
    let request = http::Request::builder()
        .method("POST")
        .uri(EVERYTHING)
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .unwrap();
    let response = runtime.block_on(worker.handle(request));
    let status = response.status().as_u16();
    let text = String::from_utf8_lossy(response.body()).into_owned();
    if status == 200 || (400..500).contains(&status) {
        Ok(without_ids(&outcome(status, &text)))
    } else {
        Err(format!("answered {status}: {text}"))
    }
}

/// `text` with every `co_z…` id written `co_z…` (so that the histogram groups outcomes by
/// kind, not by the CoValue a case made).
fn without_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("co_z") {
        out.push_str(&rest[..at]);
        out.push_str("co_z…");
        rest = rest[at + 4..].trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    }
    out.push_str(rest);
    out
}

#[test]
fn a_typed_request_with_every_field_kind_is_accepted() {
    let runtime = runtime();
    let outcome = check_typed_case(&runtime, &TypedCase { picks: Vec::new() }).unwrap();
    assert!(outcome.starts_with("200"), "{outcome}");
}

#[test]
fn fuzz_typed_routes_with_hostile_field_values() {
    let name = "typed route";
    match long_cases() {
        Some(total) => long_run(name, total, &typed_case_strategy, &check_typed_case),
        None => {
            let runtime = runtime();
            ci_run(name, CI_TYPED_CASES, typed_case_strategy(), |case| {
                check_typed_case(&runtime, case)
            });
        }
    }
}
