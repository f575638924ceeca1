//! A Rust worker with the test routes (`echo`, `fail`, `book-event-ticket`, as the jazz-tools
//! worker of `tests/js/ts-worker.mjs` has them), served on loopback, and Rust clients for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jazz_req::prelude::{CoList, CoMap, Loaded, Member, Ref, Role, Route as _, Tx, jazz_request};
use jazz_req_core::cojson::{ContentMessage, LocalNode, ResolveQuery};
use jazz_req_core::crypto::{self, CoID};
use jazz_req_core::request::{
    Clock, JazzRequestError, RequestClient, RequestContext, RequestWorker, RouteSpec, WorkerConfig,
    spawn_server,
};
use jazz_req_core::storage::Storage;
use serde_json::{Map, Value, json};

/// The event of the test routes (`peer-common.mjs`: `co.map({ name, capacity,
/// reservations: co.list(co.map({ seat })) })`).
#[derive(CoMap, Debug)]
pub struct SeatEvent {
    /// Its name.
    pub name: String,
    /// How many seats it has.
    pub capacity: u32,
    /// The tickets booked so far.
    pub reservations: CoList<Ref<Seat>>,
}

/// A reservation as the event lists it (`co.map({ seat })`).
#[derive(CoMap, Debug)]
pub struct Seat {
    /// The seat number.
    pub seat: u32,
}

/// A ticket (`co.map({ seat, event })`).
#[derive(CoMap, Debug)]
pub struct SeatTicket {
    /// The seat number (1, 2, …).
    pub seat: u32,
    /// The event.
    pub event: Ref<SeatEvent>,
}

/// The answer of `book-event-ticket`.
#[derive(CoMap, Debug)]
pub struct SeatBooked {
    /// The ticket.
    pub ticket: Ref<SeatTicket>,
}

/// `book-event-ticket` as `ts-worker.mjs` has it: "Event is full" (400, with the capacity)
/// once every seat is taken, else a ticket with the next seat, readable by the buyer.
#[jazz_request(
    url = "/api/book-event-ticket",
    resolve = { event: { reservations: true } },
    response_resolve = { ticket: true },
    serialize = event,
)]
pub async fn book_seat(
    ctx: RequestContext,
    event: Loaded<SeatEvent>,
) -> Result<SeatBooked, JazzRequestError> {
    let taken = event.reservations.len()?;
    if taken >= event.capacity as usize {
        return Err(JazzRequestError::new("Event is full", 400)
            .with_details(json!({"capacity": event.capacity})));
    }
    let seat =
        u32::try_from(taken + 1).map_err(|_| JazzRequestError::new("Too many seats", 400))?;
    ctx.transaction(|tx| {
        let group = tx.create_group()?;
        tx.add_member(&group, ctx.made_by(), Role::Reader)?;
        let ticket = tx.create(
            &group,
            SeatTicket {
                seat,
                event: event.to_ref(),
            },
        )?;
        tx.push(&event.reservations, Ref::new(ticket.id().clone()))?;
        Ok(SeatBooked {
            ticket: ticket.to_ref(),
        })
    })
}

/// Creates the event everyone can read; returns its id.
pub fn create_event(
    tx: &mut Tx<'_>,
    name: &str,
    capacity: u32,
) -> Result<CoID, jazz_req_core::cojson::NodeError> {
    let group = tx.create_group()?;
    tx.add_member(&group, Member::Everyone, Role::Reader)?;
    let reservations = tx.create_list(&group, Vec::new())?;
    let event = tx.create(
        &group,
        SeatEvent {
            name: name.to_owned(),
            capacity,
            reservations,
        },
    )?;
    Ok(event.id().clone())
}

/// A running Rust worker.
pub struct RustWorker {
    /// The worker (to inspect its node).
    pub worker: RequestWorker,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The event `book-event-ticket` books.
    pub event: CoID,
    /// How many times each handler ran: echo, fail.
    pub runs: Arc<[AtomicU64; 2]>,
}

/// The route specs of the test routes at `base`.
pub fn routes(base: &str) -> [RouteSpec; 3] {
    [
        RouteSpec::new(format!("{base}/api/echo")),
        RouteSpec::new(format!("{base}/api/fail")),
        BookSeat::spec().with_url(format!("{base}{}", BookSeat::URL)),
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
        let event = node
            .batch(|node| create_event(&mut Tx::new(node), "Jazz night", capacity))
            .map_err(|e| e.to_string())?;
        node.flush().map_err(|e| e.to_string())?;
        let runs: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let [echo_spec, fail_spec, _] = routes("");
        let (r0, r1) = (runs.clone(), runs.clone());
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
            .register(BookSeat);
        let addr = spawn_server(
            "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
            worker.clone(),
        )
        .await
        .map_err(|e| e.to_string())?
        .addr();
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
            .read_node(|node| node.export(&account, &ResolveQuery::Value))
            .unwrap_or_default()
    }

    /// The pieces of the event and its reservations.
    pub fn event_pieces(&self) -> Vec<ContentMessage> {
        let query =
            ResolveQuery::from_json(&json!({"reservations": true})).unwrap_or(ResolveQuery::Value);
        self.worker
            .read_node(|node| node.export(&self.event, &query))
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

/// A handler's values as a judge compares them: each reference the node holds replaced by
/// the whole tree it names (so that a changed object behind an unchanged id shows).
pub fn expanded(node: &LocalNode, values: &Map<String, Value>) -> Map<String, Value> {
    values
        .iter()
        .map(|(key, value)| {
            let reference = value.as_str().and_then(|s| CoID::parse(s).ok());
            let value = match reference {
                Some(id) if node.get(&id).is_some() => node
                    .loaded_tree(&id)
                    .unwrap_or_else(|e| json!({"unreadable": e.to_string()})),
                _ => value.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}
