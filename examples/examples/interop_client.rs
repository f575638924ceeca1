//! The Rust client of the interop routes (issue 8): books tickets for an event kept on a
//! Jazz sync server, through any worker of `POST /api/book-event-ticket` — the Rust
//! `interop_worker` or a jazz-tools one (`startWorker` + `route.handle`).
//!
//! ```sh
//! cargo run --release --example interop_client -- \
//!   --sync-server ws://127.0.0.1:4200 --base-url http://127.0.0.1:8080 \
//!   --worker co_z… --event co_z… --buyers 12
//! ```
//!
//! Every buyer is a new account, as a new user of a Jazz app is: it uploads its account (and
//! profile) to the sync server and waits for the server's acknowledgement, loads the worker's
//! account and the event (`{ reservations: true }`) from the server through its own
//! [`SyncClient`] into its own node, and then all buyers send [`BookEventTicket`] at once.
//!
//! A worker does not need the buyer's account on the server — a request carries its
//! sender's account, and both jazz-tools and jazz-req import it from there — but a Jazz app's
//! account lives on its sync server, and the ticket the worker shares with the buyer is only
//! readable there by an account the server knows.
//!
//! Each sold ticket is checked twice: as the response loaded it (it names its buyer and the
//! event), and read back from the sync server by its buyer on a new node that holds nothing
//! else (the ticket is on the server and the buyer can read it).
//!
//! Prints one JSON line on stdout:
//! `{"buyers":12,"sold":3,"refused":9,"errors":0,"errorMessages":[],"tickets":["co_z…",…],
//!   "seconds":1.23}` — `refused` counts the 400 "Event is full" answers, `errors` everything
//! else (other answers, transport failures, a ticket that does not name its buyer or the
//! event or cannot be read back). Exits with 1 when `errors` is not 0 or the setup fails.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use jazz_req::cojson::ResolveQuery;
use jazz_req::cojson::keys::Reader;
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::schema::read_loaded;
use jazz_req::sync::{SyncClient, SyncOptions};
use jazz_req_examples::event_tickets::{BookEventTicket, Event, Ticket};
use jazz_req_examples::loadgen::senders::account_content;
use serde_json::json;
use tokio::sync::Barrier;

/// Books tickets with new accounts through a worker, the event coming from a sync server.
#[derive(Parser, Debug, Clone)]
#[command(about)]
struct Args {
    /// The Jazz sync server (`ws://…` or `wss://…`) that keeps the event.
    #[arg(long, value_name = "URL")]
    sync_server: String,
    /// The worker's base URL (`http://host:port`); the route's path is joined to it.
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// The worker's account (`co_z…`).
    #[arg(long, value_name = "ID")]
    worker: String,
    /// The event to book (`co_z…`).
    #[arg(long, value_name = "ID")]
    event: String,
    /// How many new accounts book at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    buyers: usize,
    /// How long each step with the sync server may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout_secs: u64,
}

/// Why a step failed.
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// What one buyer's booking came to.
enum Outcome {
    /// A ticket, checked.
    Sold(CoID),
    /// 400 "Event is full".
    Refused,
    /// Anything else.
    Error(String),
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("interop_client: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Books with `args.buyers` new accounts and prints the line; `Ok(false)` when some
/// booking ended in an error.
async fn run(args: Args) -> Result<bool, Failure> {
    let worker = CoID::parse(&args.worker).map_err(|e| format!("--worker: {e}"))?;
    let event = CoID::parse(&args.event).map_err(|e| format!("--event: {e}"))?;
    let options = SyncOptions::default()
        .with_load_timeout(Duration::from_secs(args.timeout_secs))
        .with_ack_timeout(Duration::from_secs(args.timeout_secs));
    let started = Instant::now();
    // Everyone prepares, then everyone sends at once: the bookings really contend.
    let barrier = Arc::new(Barrier::new(args.buyers));
    let mut buyers = Vec::with_capacity(args.buyers);
    for i in 0..args.buyers {
        let (args, worker, event, options, barrier) = (
            args.clone(),
            worker.clone(),
            event.clone(),
            options.clone(),
            barrier.clone(),
        );
        buyers.push(tokio::spawn(async move {
            let prepared = prepare(i, &args, &worker, &event, options.clone()).await;
            barrier.wait().await;
            match prepared {
                Ok(buyer) => buyer.book(&event, options).await,
                Err(error) => Outcome::Error(format!("buyer {i}: {error}")),
            }
        }));
    }
    let (mut tickets, mut refused, mut errors) = (Vec::new(), 0, Vec::new());
    for buyer in buyers {
        match buyer.await {
            Ok(Outcome::Sold(ticket)) => tickets.push(ticket.as_str().to_owned()),
            Ok(Outcome::Refused) => refused += 1,
            Ok(Outcome::Error(message)) => errors.push(message),
            Err(panicked) => errors.push(format!("a buyer's task failed: {panicked}")),
        }
    }
    let line = json!({
        "buyers": args.buyers,
        "sold": tickets.len(),
        "refused": refused,
        "errors": errors.len(),
        "errorMessages": errors,
        "tickets": tickets,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{line}");
    Ok(errors.is_empty())
}

/// A buyer ready to send: its account on the server, the event in its node.
struct Buyer {
    index: usize,
    account: CoID,
    secret: AgentSecret,
    client: RequestClient,
    event: Loaded<Event>,
    sync: SyncClient,
}

/// A new account that uploads itself and loads the worker's account and the event from the
/// sync server.
async fn prepare(
    index: usize,
    args: &Args,
    worker: &CoID,
    event: &CoID,
    options: SyncOptions,
) -> Result<Buyer, Failure> {
    let secret = new_random_agent_secret()?;
    let (mut node, account) = LocalNode::create_account(secret.clone(), &format!("Buyer {index}"))?;
    let sync = SyncClient::connect(&args.sync_server, options).await?;
    sync.push(account_content(&node, &account)?).await?;
    load_into(&sync, &mut node, worker, &ResolveQuery::Value).await?;
    let with_reservations = Event::resolve().reservations(|r| r).into_query();
    load_into(&sync, &mut node, event, &with_reservations).await?;
    let client = RequestClient::new(node)
        .with_base_url(&args.base_url)
        .with_worker(worker.clone());
    let event = client.load::<Event>(event, Event::resolve().reservations(|r| r))?;
    Ok(Buyer {
        index,
        account,
        secret,
        client,
        event,
        sync,
    })
}

impl Buyer {
    /// Sends the booking, checks the ticket, reads it back from the server.
    async fn book(self, event: &CoID, options: SyncOptions) -> Outcome {
        let i = self.index;
        let booked = BookEventTicket::send(&self.client, self.event).await;
        // The buyer's own connection is done; what it pushed was acknowledged.
        let _ = self.sync.shutdown().await;
        let ticket = match booked {
            Ok(booked) => booked.ticket.clone(),
            Err(SendError::Request(e)) if e.code == 400 && e.message == "Event is full" => {
                return Outcome::Refused;
            }
            Err(other) => return Outcome::Error(format!("buyer {i}: {other}")),
        };
        let loaded = match ticket.get() {
            Ok(loaded) => loaded,
            Err(e) => return Outcome::Error(format!("buyer {i}: the response's ticket: {e}")),
        };
        if loaded.account.id() != &self.account || loaded.event.id() != event {
            return Outcome::Error(format!(
                "buyer {i}: ticket {} names {} for {}, not {} for {event}",
                ticket.id(),
                loaded.account.id(),
                loaded.event.id(),
                self.account
            ));
        }
        let read = read_back(
            self.sync.url(),
            &self.account,
            &self.secret,
            ticket.id(),
            event,
            options,
        );
        match read.await {
            Ok(()) => Outcome::Sold(ticket.id().clone()),
            Err(error) => Outcome::Error(format!(
                "buyer {i}: ticket {} read back from the sync server: {error}",
                ticket.id()
            )),
        }
    }
}

/// The buyer, on a new node holding nothing, reads its ticket from the sync server.
async fn read_back(
    sync_url: &str,
    account: &CoID,
    secret: &AgentSecret,
    ticket: &CoID,
    event: &CoID,
    options: SyncOptions,
) -> Result<(), Failure> {
    let mut node = LocalNode::new(Reader::new(Some(account.clone()), secret.clone()));
    let sync = SyncClient::connect(sync_url, options).await?;
    let query = Ticket::resolve().into_query();
    let loaded = load_into(&sync, &mut node, ticket, &query).await;
    // Reading is done either way; nothing was pushed.
    let _ = sync.shutdown().await;
    loaded?;
    let read = read_loaded::<Ticket>(&node, ticket, &query)?;
    if read.account.id() != account || read.event.id() != event {
        return Err(format!("it names {} for {}", read.account.id(), read.event.id()).into());
    }
    Ok(())
}

/// Loads into `node`, from the sync server, what `query` reaches from `id` and the node
/// lacks (each CoValue with what it depends on).
async fn load_into(
    sync: &SyncClient,
    node: &mut LocalNode,
    id: &CoID,
    query: &ResolveQuery,
) -> Result<(), Failure> {
    let mut previous: Option<CoID> = None;
    while let Some(missing) = node.missing_for(id, query) {
        if previous.as_ref() == Some(&missing) {
            return Err(format!("{missing} stays unreadable once loaded").into());
        }
        let content = sync
            .load(&missing)
            .await?
            .ok_or_else(|| format!("the sync server does not have {missing}"))?;
        for message in content {
            node.import(message)?;
        }
        previous = Some(missing);
    }
    Ok(())
}
