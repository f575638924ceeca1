//! Puts an event into a worker's embedded store, for a worker that has no sync server yet:
//!
//! ```sh
//! JAZZ_WORKER_ACCOUNT=co_z… JAZZ_WORKER_SECRET=sealerSecret_z… \
//!   cargo run --example seed_event -- --store worker.sqlite --name "Jazz night" --capacity 10
//! ```
//!
//! The worker's account (which must be in the store: `jazz-req account create --store FILE`)
//! creates the event, readable by everyone, and its empty reservations list, and stores them
//! durably. The store may be in use by a running `interop_worker`: SQLite lets both write,
//! and the worker loads the event from its store the first time a request names it.
//!
//! Prints one JSON line: `{"event":"co_z…","account":"co_z…","pieces":[…]}` — `pieces` is what
//! a buyer's app needs to book (the worker's account and the event with its reservations,
//! as jazz-tools exports them; `RequestClient::import_pieces` takes them as they are).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use jazz_req::cojson::ResolveQuery;
use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{Event, create_event};
use serde_json::json;

/// Creates an event in a worker's store and prints its id and the pieces a client needs.
#[derive(Parser, Debug)]
#[command(
    about,
    after_help = "Credentials come from JAZZ_WORKER_ACCOUNT and JAZZ_WORKER_SECRET."
)]
struct Args {
    /// The worker's SQLite store (holding the worker's account).
    #[arg(long, value_name = "FILE", env = "JAZZ_REQ_STORE", default_value = jazz_req::DEFAULT_STORE)]
    store: PathBuf,
    /// The event's name.
    #[arg(long, default_value = "Jazz night")]
    name: String,
    /// How many tickets it sells.
    #[arg(long)]
    capacity: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let printed = seed(&args).and_then(|line| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(())
    });
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seed_event: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Writes the event; returns the line to print.
fn seed(args: &Args) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
    let mut options = WorkerOptions::from_env()?;
    options.store.clone_from(&args.store);
    let mut node = options.open_node()?;
    let event = node.batch(|node| create_event(&mut Tx::new(node), &args.name, args.capacity))?;
    node.flush()?;
    let mut pieces = node.export_json(&options.account, &ResolveQuery::Value)?;
    let with_reservations = Event::resolve().reservations(|r| r).into_query();
    pieces.extend(node.export_json(event.id(), &with_reservations)?);
    Ok(json!({
        "event": event.id().as_str(),
        "account": options.account.as_str(),
        "pieces": pieces,
    }))
}

/// An error and those of its sources its message does not already show, on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
