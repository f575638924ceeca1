//! The main job, as a library: a worker on the embedded SQLite store sells the tickets of one
//! event to many buyers at once over HTTP, refuses a replayed request, restarts from its
//! store and counts the reservations it finds there. `examples/book_event_ticket.rs` runs
//! it with a progress bar; the tests run it too.

use std::path::PathBuf;
use std::sync::Arc;

use jazz_req::prelude::*;
use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use crate::event_tickets::{BookEventTicket, Event, create_event};

/// What to run.
#[derive(Clone, Debug)]
pub struct SaleOptions {
    /// Seats of the event.
    pub capacity: u32,
    /// Concurrent buyers, each a fresh account.
    pub buyers: usize,
    /// The worker's SQLite store (a new file).
    pub store: PathBuf,
}

/// What happened, as the example's last line prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SaleSummary {
    /// Seats of the event.
    pub capacity: u32,
    /// Buyers.
    pub buyers: usize,
    /// Buyers who got a ticket (each checked: theirs, for this event).
    pub sold: usize,
    /// Buyers refused with 400 "Event is full".
    pub refused: usize,
    /// Buyers who got anything else.
    pub errors: usize,
    /// Reservations the restarted worker finds in its store.
    pub after_restart: usize,
    /// What the replayed request got, before and after the restart (status, message).
    #[serde(skip)]
    pub replay: Vec<(u16, String)>,
}

/// Errors of the run itself (not of a buyer).
pub type RunError = Box<dyn std::error::Error + Send + Sync>;

/// A running worker and its server.
struct Running {
    worker: RequestWorker,
    server: ServerHandle,
}

async fn start(options: &WorkerOptions) -> Result<Running, RunError> {
    let worker = options.start().await?.register(BookEventTicket);
    let server = spawn_server(([127, 0, 0, 1], 0).into(), worker.clone()).await?;
    Ok(Running { worker, server })
}

/// Runs the sale; `progress` is called once per buyer who has an answer.
pub async fn run(
    options: &SaleOptions,
    progress: impl Fn() + Send + Sync + 'static,
) -> Result<SaleSummary, RunError> {
    // The worker's account in its store (what `jazz-req account create --store` does), the
    // worker on it, and the event it sells, made by the worker: stored when this returns.
    let worker_options = WorkerOptions::create_account("Ticket worker", &options.store)?;
    let running = start(&worker_options).await?;
    let event = running
        .worker
        .transaction(|tx| create_event(tx, "Jazz night", options.capacity))
        .await?;
    // What a buyer's app has: the worker's account and the event with its reservations, as
    // jazz-tools exports them.
    let shared = running
        .worker
        .client_bundle()
        .with(event.id(), Event::resolve().reservations(|r| r))
        .build()?;
    let account = shared.worker.clone();
    let base_url = format!("http://{}", running.server.addr());
    let shared = Arc::new(shared);
    let progress = Arc::new(progress);

    let mut buyers = JoinSet::new();
    for i in 0..options.buyers {
        let (shared, base_url) = (shared.clone(), base_url.clone());
        let (event, progress) = (event.id().clone(), progress.clone());
        buyers.spawn(async move {
            let outcome = buy(i, &shared, &base_url, &event).await;
            progress();
            outcome
        });
    }
    let mut summary = SaleSummary {
        capacity: options.capacity,
        buyers: options.buyers,
        ..SaleSummary::default()
    };
    while let Some(outcome) = buyers.join_next().await {
        match outcome? {
            Ok(Outcome::Sold) => summary.sold += 1,
            Ok(Outcome::Full) => summary.refused += 1,
            Err(error) => {
                tracing::warn!(%error, "a buyer failed");
                summary.errors += 1;
            }
        }
    }

    // A captured request body, posted twice: the second copy is refused.
    let replayer = buyer("Replayer", &shared, &base_url)?;
    let values = Map::from_iter([("event".to_owned(), json!(event.id().as_str()))]);
    let body = replayer
        .request_body(&account, &values)?
        .to_json()
        .to_string();
    let url = format!("{base_url}{}", <BookEventTicket as Route>::URL);
    summary.replay.push(post(&url, &body).await?);
    summary.replay.push(post(&url, &body).await?);

    // Restart from the store: stop serving (what is in flight answered), let the worker go
    // (everything it answered is stored already; no flush needed) and start again on the
    // store, which the old worker no longer holds.
    running.server.shutdown().await?;
    drop(running.worker);
    let restarted = start(&worker_options).await?;
    let url = format!(
        "http://{}{}",
        restarted.server.addr(),
        <BookEventTicket as Route>::URL
    );
    summary.replay.push(post(&url, &body).await?);
    let event = restarted
        .worker
        .load::<Event>(event.id(), Event::resolve().reservations(|r| r))?;
    summary.after_restart = event.reservations.len()?;
    restarted.server.shutdown().await?;
    restarted.worker.shutdown().await?;
    Ok(summary)
}

enum Outcome {
    Sold,
    Full,
}

/// A fresh buyer's client, holding the worker's account and the event.
fn buyer(name: &str, shared: &ClientBundle, base_url: &str) -> Result<RequestClient, RunError> {
    let (node, _) = LocalNode::create_account(new_random_agent_secret()?, name)?;
    Ok(shared.client(node, base_url)?)
}

/// One buyer: books through the generated client stub and checks the ticket it gets.
async fn buy(
    i: usize,
    shared: &ClientBundle,
    base_url: &str,
    event: &CoID,
) -> Result<Outcome, RunError> {
    let client = buyer(&format!("Buyer {i}"), shared, base_url)?;
    let me = client.node()?.reader().account.clone();
    let event = client.load::<Event>(event, Event::resolve().reservations(|r| r))?;
    match BookEventTicket::send(&client, event).await {
        Ok(booked) => {
            let ticket = booked.ticket.get()?;
            if Some(ticket.account.id()) != me.as_ref() {
                return Err("the ticket names another account".into());
            }
            Ok(Outcome::Sold)
        }
        Err(SendError::Request(e)) if e.code == 400 && e.message == "Event is full" => {
            Ok(Outcome::Full)
        }
        Err(other) => Err(other.into()),
    }
}

/// Posts a raw body, as a replaying attacker would; returns the status and the error
/// message (empty for a success).
async fn post(url: &str, body: &str) -> Result<(u16, String), RunError> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let status = response.status().as_u16();
    let answer: Value = serde_json::from_str(&response.text().await?).unwrap_or(Value::Null);
    let message = answer["message"].as_str().unwrap_or_default().to_owned();
    Ok((status, message))
}
