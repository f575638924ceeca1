//! A worker's life outside its requests (issue 17, items 1 and 10):
//!
//! - what is written through the worker (`RequestWorker::transaction`, `with_node`) is in
//!   its store when the call returns: it is there after the worker is dropped without
//!   `flush` or `shutdown`, and after its process is killed (SIGKILL) right after;
//! - one worker per store: a second worker on a store in use, in this process or another,
//!   is refused with `WorkerStartError::StoreInUse`; the store is free again once the first
//!   is dropped, or its process killed;
//! - `spawn_server`'s handle stops the server gracefully: the port closes, an idle
//!   connection is closed, a request in flight is answered first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jazz_req::cojson::Privacy;
use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{Event, create_event};
use jazz_req_tests::child_process::{ChildError, ChildProcess};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// The variable that makes [`child_writes_through_the_worker_then_waits_to_be_killed`] run
/// (in a child process; alone it does nothing).
const CHILD_STORE: &str = "JAZZ_REQ_LIFECYCLE_CHILD_STORE";

/// A fresh directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "jazz-req-lifecycle-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn store(&self) -> PathBuf {
        self.0.join("worker.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// What the writes below leave, to find again after a restart.
struct Written {
    event: CoID,
    note: CoID,
}

/// Writes what a newcomer's app writes before it serves: an event (typed, in a transaction)
/// and a note (untyped, through `with_node`), then changes the note.
async fn write_through(worker: &RequestWorker) -> Written {
    let event = worker
        .transaction(|tx| create_event(tx, "Kept night", 7))
        .await
        .unwrap();
    let note = worker
        .with_node(|node| {
            let group = node.create_group()?;
            node.create_map(&group, &[("text", json!("first"))], Privacy::Trusting)
        })
        .await
        .unwrap();
    worker
        .with_node(|node| node.map_set(&note, "text", json!("kept"), Privacy::Trusting))
        .await
        .unwrap();
    Written {
        event: event.id().clone(),
        note,
    }
}

/// Checks a worker on the store finds what [`write_through`] wrote, as it wrote it.
async fn find_again(worker: &RequestWorker, written: &Written) {
    let event = worker
        .load::<Event>(&written.event, Event::resolve().reservations(|r| r))
        .unwrap_or_else(|e| panic!("the event is not in the store: {e}"));
    assert_eq!((event.name.as_str(), event.capacity), ("Kept night", 7));
    assert_eq!(event.reservations.len().unwrap(), 0);
    let note = written.note.clone();
    let text = worker
        .with_node(|node| {
            node.load_from_storage(&note)?;
            node.read(&note)
        })
        .await
        .unwrap_or_else(|e| panic!("the note is not in the store: {e}"))
        .value["text"]
        .clone();
    assert_eq!(text, json!("kept"), "the note's last write is in the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_worker_wrote_is_in_its_store_after_a_drop_without_shutdown() {
    let dir = TempDir::new("drop");
    let options = WorkerOptions::create_account("Lifecycle worker", dir.store()).unwrap();
    let worker = options.start().await.unwrap();
    let written = write_through(&worker).await;
    // No flush, no shutdown.
    drop(worker);

    // On the same store (free again: the first worker is gone).
    let restarted = options.start().await.unwrap();
    find_again(&restarted, &written).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_worker_wrote_is_in_its_store_after_its_process_is_killed() {
    let dir = TempDir::new("kill");
    let options = WorkerOptions::create_account("Killed worker", dir.store()).unwrap();

    let mut child = child_worker(&options, &dir.store());
    let line = json_line(&mut child);
    let written = Written {
        event: CoID::parse(line["event"].as_str().unwrap()).unwrap(),
        note: CoID::parse(line["note"].as_str().unwrap()).unwrap(),
    };

    // While the child's worker runs, its store is its own.
    let refused = options.start().await.unwrap_err();
    assert!(
        matches!(&refused, WorkerStartError::StoreInUse(store) if store == &dir.store()),
        "a second worker on a store in use by another process: {refused}"
    );

    // SIGKILL right after the writes returned: nothing flushed, nothing shut down.
    child.kill().unwrap();
    let restarted = options.start().await.unwrap();
    find_again(&restarted, &written).await;
}

/// Run in a child process by the test above: a worker on the store `CHILD_STORE` names
/// writes through itself, prints what it wrote, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of what_the_worker_wrote_is_in_its_store_after_its_process_is_killed"]
async fn child_writes_through_the_worker_then_waits_to_be_killed() {
    if std::env::var_os(CHILD_STORE).is_none() {
        return;
    }
    let worker = WorkerOptions::from_env().unwrap().start().await.unwrap();
    let written = write_through(&worker).await;
    // On a line of its own: the test harness has written `test … ... ` without an end.
    println!(
        "\n{}",
        json!({"event": written.event.as_str(), "note": written.note.as_str()})
    );
    tokio::time::sleep(Duration::from_secs(600)).await;
}

/// This test binary, running only the child test, as a worker of `options` on `store`.
fn child_worker(options: &WorkerOptions, store: &Path) -> ChildProcess {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_writes_through_the_worker_then_waits_to_be_killed",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_STORE, store)
        .env("JAZZ_REQ_STORE", store)
        .env("JAZZ_WORKER_ACCOUNT", options.account.as_str())
        .env(
            "JAZZ_WORKER_SECRET",
            options.secret.to_secret_string().as_str(),
        )
        .env_remove("JAZZ_SYNC_SERVER");
    ChildProcess::spawn("worker_lifecycle child", command).unwrap()
}

/// The child's first JSON object line (the test harness prints its own lines first).
fn json_line(child: &mut ChildProcess) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match child.next_line(left) {
            Ok(line) if line.get("event").is_some() => return line,
            Ok(_) | Err(ChildError::NotJson { .. }) => {}
            Err(error) => panic!("the child said nothing useful: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_on_a_store_in_use_is_refused_until_the_first_is_gone() {
    let dir = TempDir::new("lock");
    let options = WorkerOptions::create_account("Only worker", dir.store()).unwrap();
    let first = options.start().await.unwrap();
    let clone = first.clone();

    let refused = options.start().await.unwrap_err();
    assert!(
        matches!(&refused, WorkerStartError::StoreInUse(store) if store == &dir.store()),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("in use by another worker"),
        "the message says what is wrong: {refused}"
    );
    // A clone is the same worker: the store stays taken while any clone lives.
    drop(first);
    assert!(matches!(
        options.start().await.unwrap_err(),
        WorkerStartError::StoreInUse(_)
    ));
    drop(clone);
    let second = options.start().await.unwrap();

    // Something that is not a worker (a tool reading the store, as `seed_event` writes to
    // it) still opens it.
    let storage = jazz_req::storage::SqliteStorage::open(dir.store()).unwrap();
    assert!(storage.ids().unwrap().contains(second.account()));
}

/// Holds the slow route's handler until the test lets it go.
static GATE: OnceLock<Gate> = OnceLock::new();

struct Gate {
    entered: Semaphore,
    release: Semaphore,
}

fn gate() -> &'static Gate {
    GATE.get_or_init(|| Gate {
        entered: Semaphore::new(0),
        release: Semaphore::new(0),
    })
}

/// The slow route's answer.
#[derive(CoMap, Debug)]
pub struct Answered {
    /// What was sent.
    pub text: String,
}

/// Answers once the test lets it.
#[jazz_request(url = "/api/slow")]
async fn slow(_ctx: RequestContext, text: String) -> Result<Answered, JazzRequestError> {
    gate().entered.add_permits(1);
    let permit = gate()
        .release
        .acquire()
        .await
        .map_err(|_| JazzRequestError::new("closed", 500))?;
    permit.forget();
    Ok(Answered { text })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_handle_stops_gracefully_answering_what_is_in_flight() {
    let dir = TempDir::new("serve");
    let options = WorkerOptions::create_account("Served worker", dir.store()).unwrap();
    let worker = options.start().await.unwrap().register(Slow);
    let server = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap();
    let addr = server.addr();
    let bundle = worker.client_bundle().build().unwrap();
    let (node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Caller").unwrap();
    let client = bundle.client(node, format!("http://{addr}")).unwrap();

    // An idle connection, and a request the handler holds.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let in_flight = tokio::spawn(async move { Slow::send(&client, "late".into()).await });
    gate().entered.acquire().await.unwrap().forget();

    let stopping = tokio::spawn(server.shutdown());
    // The port closes at once…
    let closed_by = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < closed_by,
            "the server still accepts connections"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …the idle connection is closed…
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf))
        .await
        .expect("the idle connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // …but the stop waits for the request in flight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!stopping.is_finished(), "stopped before answering");
    gate().release.add_permits(1);
    let answered = in_flight.await.unwrap().unwrap();
    assert_eq!(answered.text, "late");
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stops once the request is answered")
        .unwrap()
        .unwrap();

    // The worker stops after it; then its store is free for the next one.
    worker.shutdown().await.unwrap();
    drop(worker);
    options.start().await.unwrap();
}
