//! A Rust worker with the test routes (`echo`, `fail`, `book-event-ticket`, as the jazz-tools
//! worker of `tests/js/ts-worker.mjs` has them), served on loopback, and Rust clients for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery};
use jazz_req_core::crypto::{self, CoID};
use jazz_req_core::request::{
    Clock, JazzRequestError, RequestClient, RequestContext, RequestWorker, RouteSpec, WorkerConfig,
    spawn_server,
};
use jazz_req_core::storage::Storage;
use jazz_req_examples::event_tickets::{book, create_event};
use serde_json::{Map, Value, json};

/// A running Rust worker.
pub struct RustWorker {
    /// The worker (to inspect its node).
    pub worker: RequestWorker,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The event `book-event-ticket` books.
    pub event: CoID,
    /// How many times each handler ran: echo, fail, book.
    pub runs: Arc<[AtomicU64; 3]>,
}

/// The route specs of the test routes at `base`.
pub fn routes(base: &str) -> [RouteSpec; 3] {
    let resolve = |v: Value| ResolveQuery::from_json(&v).unwrap_or(ResolveQuery::Value);
    [
        RouteSpec::new(format!("{base}/api/echo")),
        RouteSpec::new(format!("{base}/api/fail")),
        RouteSpec::new(format!("{base}/api/book-event-ticket"))
            .with_request_resolve(resolve(json!({"event": {"reservations": true}})))
            .with_response_resolve(resolve(json!({"ticket": true}))),
    ]
}

fn text(values: &Map<String, Value>, key: &str) -> String {
    values
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl RustWorker {
    /// Starts a worker for `node` (holding its account, storage attached if wanted) on
    /// 127.0.0.1, with an event of `capacity` seats everyone can read.
    pub async fn start(
        mut node: LocalNode,
        capacity: u32,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Result<Self, String> {
        let event = create_event(&mut node, "Jazz night", capacity).map_err(|e| e.to_string())?;
        node.flush().map_err(|e| e.to_string())?;
        let runs: Arc<[AtomicU64; 3]> =
            Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
        let [echo_spec, fail_spec, book_spec] = routes("");
        let (r0, r1, r2) = (runs.clone(), runs.clone(), runs.clone());
        let worker = RequestWorker::with_clock(node, clock, config)
            .map_err(|e| e.to_string())?
            .route(echo_spec, move |ctx: RequestContext| {
                r0[0].fetch_add(1, Ordering::SeqCst);
                async move {
                    let values = ctx.values();
                    Ok(Map::from_iter([
                        (
                            "bio".to_owned(),
                            json!(format!(
                                "Profile for {} by {}",
                                text(values, "name"),
                                ctx.made_by()
                            )),
                        ),
                        (
                            "avatar".to_owned(),
                            json!(format!(
                                "https://example.com/a/{}.jpg",
                                text(values, "email")
                            )),
                        ),
                    ]))
                }
            })
            .route(fail_spec, move |_ctx: RequestContext| {
                r1[1].fetch_add(1, Ordering::SeqCst);
                async move {
                    Err(JazzRequestError::new("Event is full", 400)
                        .with_details(json!({"capacity": 2})))
                }
            })
            .route(book_spec, move |ctx: RequestContext| {
                r2[2].fetch_add(1, Ordering::SeqCst);
                async move { book(&ctx) }
            });
        let addr = spawn_server(
            "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
            worker.clone(),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Self {
            worker,
            addr,
            event,
            runs,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The pieces of the worker's account (what a client imports to know the worker).
    pub fn account_pieces(&self) -> Vec<ContentMessage> {
        let account = self.worker.account().clone();
        self.worker
            .with_node(|node| node.export(&account, &ResolveQuery::Value))
            .unwrap_or_default()
    }

    /// The pieces of the event and its reservations.
    pub fn event_pieces(&self) -> Vec<ContentMessage> {
        let query =
            ResolveQuery::from_json(&json!({"reservations": true})).unwrap_or(ResolveQuery::Value);
        self.worker
            .with_node(|node| node.export(&self.event, &query))
            .unwrap_or_default()
    }
}

/// A new client account (made in Rust) that knows the worker (and its event).
pub fn rust_client(
    worker: &RustWorker,
    name: &str,
    clock: Arc<dyn Clock>,
) -> Result<RequestClient, String> {
    let secret = crypto::random::new_random_agent_secret().map_err(|e| e.to_string())?;
    let (mut node, _) = LocalNode::create_account(secret, name).map_err(|e| e.to_string())?;
    for piece in worker
        .account_pieces()
        .into_iter()
        .chain(worker.event_pieces())
    {
        node.import(piece).map_err(|e| e.to_string())?;
    }
    Ok(RequestClient::with_clock(node, clock))
}

/// A worker node: a fresh account, optionally on `storage`.
pub fn worker_node(storage: Option<Arc<dyn Storage>>) -> Result<LocalNode, String> {
    let secret = crypto::random::new_random_agent_secret().map_err(|e| e.to_string())?;
    let (mut node, _) = LocalNode::create_account(secret, "Worker").map_err(|e| e.to_string())?;
    if let Some(storage) = storage {
        node.attach_storage(storage);
        node.flush().map_err(|e| e.to_string())?;
    }
    Ok(node)
}
