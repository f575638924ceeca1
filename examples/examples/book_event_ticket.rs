//! The main job: `cargo run --example book_event_ticket`.
//!
//! A worker on the embedded SQLite store serves `book-event-ticket` over HTTP on loopback.
//! Twelve fans book at once for five seats: exactly five get a ticket (seats 1–5), seven get
//! the typed "Event is full" error. A replayed request is refused. The worker restarts from
//! its store: the five reservations are still there and the replay is still refused.

use std::sync::Arc;
use std::time::Instant;

use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{book, book_route, create_event, reservations_of};
use serde_json::{Map, Value, json};

const SEATS: u32 = 5;
const FANS: usize = 12;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        std::env::temp_dir().join(format!("jazz-req-book-event-ticket-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = dir.join("worker.sqlite");

    // `jazz-req account create --store <file>` does this: an account with a profile, stored.
    let secret = new_random_agent_secret()?;
    let (mut node, account) = LocalNode::create_account(secret.clone(), "Ticket worker")?;
    node.attach_storage(Arc::new(SqliteStorage::open(&store)?));
    let event = create_event(&mut node, "Jazz night", SEATS)?;
    node.flush()?;
    drop(node);
    println!("worker {account} on {}", store.display());

    // Start the worker as `startWorker` would, from its account and secret.
    let options = WorkerOptions {
        account: account.clone(),
        secret: secret.clone(),
        store: store.clone(),
    };
    let (addr, worker) = start(&options, &event).await?;
    let route = book_route(&format!("http://{addr}"));
    println!("serving {}", route.url);

    // The worker's account and the event, as a client would load them.
    let shared: Vec<_> = worker.with_node(|node| {
        let mut pieces = node.export(&account, &ResolveQuery::Value)?;
        let query =
            ResolveQuery::from_json(&json!({"reservations": true})).unwrap_or(ResolveQuery::Value);
        pieces.extend(node.export(&event, &query)?);
        Ok(pieces)
    })?;
    let request: Map<String, Value> = Map::from_iter([("event".to_owned(), json!(event.as_str()))]);

    let started = Instant::now();
    let mut fans = Vec::new();
    for i in 0..FANS {
        let (mut fan, _) =
            LocalNode::create_account(new_random_agent_secret()?, &format!("Fan {i}"))?;
        for piece in &shared {
            fan.import(piece.clone())?;
        }
        let client = RequestClient::new(fan);
        let (route, account, request) = (route.clone(), account.clone(), request.clone());
        fans.push(tokio::spawn(async move {
            client.send(&route, &account, &request).await
        }));
    }
    let mut seats = Vec::new();
    let mut full = 0;
    for fan in fans {
        match fan.await? {
            Ok(response) => seats.push(response.value["ticket"]["seat"].as_u64().unwrap_or(0)),
            Err(error) => match error.as_jazz_request_error() {
                Some(e) if e.message == "Event is full" => full += 1,
                _ => return Err(error.into()),
            },
        }
    }
    seats.sort_unstable();
    println!(
        "{FANS} fans booked at once in {:?}: seats {seats:?}, {full} × \"Event is full\"",
        started.elapsed()
    );
    assert_eq!(
        seats,
        (1..=u64::from(SEATS)).collect::<Vec<_>>(),
        "no overselling"
    );

    // A captured request sent twice: the second copy is refused.
    let (mut fan, _) = LocalNode::create_account(new_random_agent_secret()?, "Replayer")?;
    for piece in &shared {
        fan.import(piece.clone())?;
    }
    let replayer = RequestClient::new(fan);
    let body = replayer
        .request_body(&account, &request)?
        .to_json()
        .to_string();
    let http = reqwest_post(&route.url, &body).await?;
    let again = reqwest_post(&route.url, &body).await?;
    println!(
        "one signed request sent twice: {} {} (the event is full), then {} {}",
        http.0, http.1["message"], again.0, again.1["message"]
    );

    // Restart from the store.
    drop(worker);
    let (_addr, restarted) = start(&options, &event).await?;
    let booked = restarted.with_node(|node| {
        node.load_from_storage(&event)?;
        let list = reservations_of(node, &event)?;
        node.load_from_storage(&list)?;
        Ok(node.read(&list)?.value.as_array().map_or(0, Vec::len))
    })?;
    println!("after a restart: {booked} reservations in the store");
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

async fn start(
    options: &WorkerOptions,
    event: &CoID,
) -> Result<(std::net::SocketAddr, RequestWorker), Box<dyn std::error::Error>> {
    let mut node = options.open_node()?;
    node.load_from_storage(event)?;
    let worker = RequestWorker::new(node)?.route(
        book_route(""),
        |ctx: RequestContext| async move { book(&ctx) },
    );
    let addr = spawn_server("127.0.0.1:0".parse()?, worker.clone()).await?;
    Ok((addr, worker))
}

/// Posts a raw body, as a replaying attacker would.
async fn reqwest_post(url: &str, body: &str) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((
        status,
        serde_json::from_str(&response.text().await?).unwrap_or(Value::Null),
    ))
}
