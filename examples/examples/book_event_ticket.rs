//! The main job: `cargo run --example book_event_ticket -- [--capacity C] [--buyers B]`.
//!
//! A worker on the embedded SQLite store serves `book-event-ticket` (written with
//! `#[jazz_request]`, see `examples/src/event_tickets.rs`) over HTTP on loopback. B buyers,
//! each a fresh account, book at once through the generated client stub: exactly C get a
//! ticket, the others the typed 400 "Event is full". A replayed request is refused. The
//! worker restarts from its store and finds the C reservations there. The last line on
//! stdout is one JSON object:
//! `{"capacity":C,"buyers":B,"sold":S,"refused":R,"errors":E,"after_restart":N}`.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use jazz_req_examples::ticket_sale::{SaleOptions, run};

/// Sells the tickets of one event to concurrent buyers.
#[derive(Parser, Debug)]
struct Args {
    /// Seats of the event.
    #[arg(long, default_value_t = 100)]
    capacity: u32,
    /// Concurrent buyers (each a fresh account).
    #[arg(long, default_value_t = 300)]
    buyers: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = Args::parse();
    // RUST_LOG=jazz_req=debug shows what the worker does; warnings by default.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let dir = std::env::temp_dir().join(format!("jazz-req-tickets-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let options = SaleOptions {
        capacity: args.capacity,
        buyers: args.buyers,
        store: dir.join("worker.sqlite"),
    };
    eprintln!(
        "a worker on {} sells {} seats to {} buyers at once",
        options.store.display(),
        options.capacity,
        options.buyers
    );
    let bar = ProgressBar::new(options.buyers as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} buyers answered {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ticker = bar.clone();
    let summary = run(&options, move || ticker.inc(1)).await;
    bar.finish();
    std::fs::remove_dir_all(&dir).ok();
    let summary = summary?;
    eprintln!(
        "one signed request posted twice, then again after the restart: {:?}",
        summary.replay
    );
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
