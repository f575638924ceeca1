//! The interop worker of issue 8, on its embedded SQLite store:
//!
//! ```sh
//! JAZZ_WORKER_ACCOUNT=co_z… JAZZ_WORKER_SECRET=sealerSecret_z… \
//!   cargo run --release --example interop_worker -- --listen 127.0.0.1:8080 \
//!     --sync-server ws://127.0.0.1:4200 --store worker.sqlite
//! ```
//!
//! Serves `POST /api/book-event-ticket` ([`BookEventTicket`]) and `POST /api/echo`
//! ([`Echo`]) over HTTP/1.1. The worker's account must be in the store
//! (`jazz-req account create --store FILE` puts it there; `seed_event` adds an event).
//! Restarting on the same store resumes from it: what was answered stays answered (a replay
//! inside its window is still refused) and the reservations sold are still there. With
//! `JAZZ_SYNC_SERVER` set, the worker is also a peer of that sync server (as `startWorker`
//! reads it; see `WorkerOptions::from_env`).
//!
//! Once listening it prints one JSON line on stdout,
//! `{"listening":"127.0.0.1:8080","account":"co_z…"}` (`--listen 127.0.0.1:0` picks a free
//! port; the line says which). On SIGTERM or ctrl-c it stops accepting connections, lets the
//! requests in flight finish (each is answered only once its writes are stored), stores
//! (and pushes) whatever is left with `RequestWorker::shutdown`, and exits 0;
//! a second signal, or in-flight requests still running after `--grace-secs`, ends it at
//! once (exit code 1). Errors go to stderr with a non-zero exit code. `RUST_LOG` sets what
//! is logged on stderr (warnings by default; `RUST_LOG=jazz_req=info` logs every request).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use jazz_req::prelude::*;
use jazz_req_examples::echo::Echo;
use jazz_req_examples::event_tickets::BookEventTicket;
use serde_json::json;

// A worker allocates and frees many small buffers per request (JSON, base58, signatures):
// mimalloc spends about half the time the system allocator does on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves the interop routes (book-event-ticket, echo) as a Jazz server worker.
#[derive(Parser, Debug)]
#[command(
    about,
    after_help = "Credentials come from JAZZ_WORKER_ACCOUNT and JAZZ_WORKER_SECRET \
                  (`jazz-req account create --store FILE` prints them)."
)]
struct Args {
    /// Address to listen on (port 0: any free port, printed on the first line).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The worker's embedded SQLite store, holding its account.
    #[arg(long, value_name = "FILE", env = "JAZZ_REQ_STORE", default_value = jazz_req::DEFAULT_STORE)]
    store: PathBuf,
    /// The Jazz sync server the worker is a peer of (`ws://…` or `wss://…`): CoValues the
    /// worker lacks are loaded from there, and every answer waits until the server has what
    /// the handler wrote. Without it the worker lives on its store alone.
    #[arg(long, value_name = "URL", env = "JAZZ_SYNC_SERVER")]
    sync_server: Option<String>,
    /// After SIGTERM or ctrl-c, how long requests in flight may still take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    grace_secs: u64,
}

/// Why the worker stopped with an error.
type RunError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(&args).await {
        Ok(Stopped::Gracefully) => ExitCode::SUCCESS,
        Ok(Stopped::Abruptly) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("interop_worker: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// How serving ended.
enum Stopped {
    /// Every request in flight was answered.
    Gracefully,
    /// A second signal, or the grace period ran out.
    Abruptly,
}

async fn run(args: &Args) -> Result<Stopped, RunError> {
    // Before anything can take long: a signal from now on is a graceful stop.
    let mut signals = Signals::listen()?;
    let worker = start_worker(args).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("could not listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    // Every path goes to the worker: it answers unknown paths (404) and methods (405) with
    // a JazzRequestError body, as jazz-tools' routes do.
    let app = axum::Router::new().fallback_service(worker.clone());

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<&'static str>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let name = stop_rx.await.unwrap_or("shutdown");
        tracing::warn!(
            signal = name,
            "stopping: no new connections, finishing requests in flight"
        );
    });
    let mut server = std::pin::pin!(server.into_future());

    {
        let mut out = std::io::stdout().lock();
        let line = json!({"listening": addr.to_string(), "account": worker.account().as_str()});
        writeln!(out, "{line}")?;
        out.flush()?;
    }

    let signal = tokio::select! {
        served = &mut server => {
            served?;
            worker.shutdown().await?;
            return Ok(Stopped::Gracefully);
        }
        signal = signals.next() => signal,
    };
    // Nobody may be waiting any more if the server stopped by itself in between: no matter.
    let _ = stop_tx.send(signal);
    let grace = Duration::from_secs(args.grace_secs);
    tokio::select! {
        served = &mut server => {
            served?;
            // Stores (and, with a sync server, pushes) whatever is not stored yet.
            worker.shutdown().await?;
            eprintln!("interop_worker: stopped on {signal}; every request in flight was answered");
            Ok(Stopped::Gracefully)
        }
        second = signals.next() => {
            eprintln!("interop_worker: {second} during shutdown: stopping now");
            Ok(Stopped::Abruptly)
        }
        () = tokio::time::sleep(grace) => {
            eprintln!(
                "interop_worker: requests still in flight {} s after {signal}: stopping now",
                grace.as_secs()
            );
            Ok(Stopped::Abruptly)
        }
    }
    // Returning drops the worker, which closes the store: its writer commits what is
    // queued (every answered request's writes were committed before its answer left).
}

/// The worker on its embedded store, with the interop routes.
///
/// Credentials come from the environment as `startWorker` takes them (`JAZZ_SYNC_SERVER`,
/// when set, makes the worker a peer of that sync server: see [`WorkerOptions::from_env`]).
async fn start_worker(args: &Args) -> Result<RequestWorker, RunError> {
    let mut options = WorkerOptions::from_env()?;
    options.store.clone_from(&args.store);
    options.sync_server.clone_from(&args.sync_server);
    Ok(options
        .start()
        .await?
        .register(BookEventTicket)
        .register(Echo))
}

/// SIGTERM and SIGINT (ctrl-c), registered once so that none is missed between the two
/// waits of [`run`].
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Self, RunError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| -> Result<_, RunError> {
                signal(kind).map_err(|e| format!("could not listen for signals: {e}").into())
            };
            Ok(Self {
                terminate: listen(SignalKind::terminate())?,
                interrupt: listen(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "ctrl-c",
                Err(_) => std::future::pending().await,
            }
        }
    }
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
