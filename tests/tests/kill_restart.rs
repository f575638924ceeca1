//! Issue 9, item 5: kill -9 under load, then restart — `interop_worker` as a real child
//! process on its SQLite store (no sync server yet).
//!
//! Each round, a fresh event (`seed_event`) is booked by concurrent buyers (fresh accounts,
//! the generated `BookEventTicket::send` stub) while echo clients keep `Echo::send` busy; the
//! worker gets SIGKILL at a random moment (once 0, 2, 4, 6 or 9 bookings were answered — one
//! round each, in a random order — plus a random pause). Then, with the worker dead, its store is read
//! directly: every booking answered 200 is in the reservations (its ticket, its buyer), no
//! reservation belongs to a buyer who was not answered 200 or still in flight at the kill,
//! no buyer has two, and there are never more than the capacity. The worker restarts on the
//! same store; every request it had answered before the kill (200 or a handler's error),
//! replayed byte for byte, is refused with "Request payload is already handled" (nothing
//! else counts: "Event is full" would hide a lost claim); every request that was in flight is
//! sent again: if its reservation was stored it must be refused the same way (exactly once
//! across the crash), otherwise it may run now. At the end, every request answered in any
//! round is replayed once more (all inside their 60 s window), the worker stops on SIGTERM
//! (exit 0), and the store is checked again.
//!
//! The clients talk to the worker through a recording proxy: it sees each request's exact
//! body and whether the worker's whole answer came back, which is the truth "answered" is
//! judged by (`jazz_req_tests::kill_rounds`, shared with `kill_restart_sync.rs`).
//! `KILL_RESTART_SEED=N` replays a run's random choices (the seed is printed);
//! `JAZZ_REQ_INTEROP_WORKER=path` tests another build of the worker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use jazz_req::prelude::*;
use jazz_req_tests::kill_rounds::{
    BOOK, Besides, KillRounds, LOAD, TempDir, Totals, party, post, stored_reservations,
};
use jazz_req_tests::worker_process::{
    Credentials, Examples, WorkerProcess, create_worker_account, examples, seed_event,
};
use serde_json::Value;

/// The worker is killed once this many bookings were answered in the round (one round at
/// each, in a random order, so that the kill points cover the sale from its start to past
/// its end whatever the machine's speed), plus a random pause.
const KILL_AFTER_BOOKINGS: [usize; 5] = [0, 2, 4, 6, 9];

async fn built_examples() -> Examples {
    tokio::task::spawn_blocking(examples)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The reservations of `event` in the store (which must hold it), read directly.
fn in_store(credentials: &Credentials, store: &Path, event: &CoID) -> Vec<(CoID, CoID)> {
    stored_reservations(credentials, store, event)
        .unwrap()
        .expect("the store holds the event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_the_worker_loses_nothing_it_answered_and_sells_nothing_twice() {
    let started = Instant::now();
    let examples = built_examples().await;
    let dir = TempDir::new("kill-restart").unwrap();
    let store = dir.path().join("worker.sqlite");
    let credentials = create_worker_account(&store).unwrap();
    let mut run = KillRounds::new(LOAD, &KILL_AFTER_BOOKINGS, "KILL_RESTART_SEED")
        .await
        .unwrap();
    let load_started = Instant::now();
    let mut worker = WorkerProcess::start(&examples, &credentials, &store).unwrap();
    let mut rounds = Vec::new();
    let mut events = Vec::new();
    for index in 0..run.rounds() {
        let seeded = seed_event(
            &examples,
            &credentials,
            &store,
            &format!("Round {index}"),
            LOAD.capacity,
        )
        .unwrap();
        let mut round = run
            .load_and_kill(index, worker, &seeded.event, &seeded.pieces)
            .await
            .unwrap();
        // With the worker dead: its store holds every ticket sold and no other but those of
        // requests in flight.
        round.reservations = in_store(&credentials, &store, &seeded.event);
        run.check_reservations(index, "in the store", &round, &round.reservations);
        worker = WorkerProcess::start(&examples, &credentials, &store).unwrap();
        let kept = round.reserved_by();
        run.replay(index, worker.addr(), &mut round, &kept)
            .await
            .unwrap();
        println!("{}", round.summary(index, &LOAD, "in the store"));
        rounds.push(round);
        events.push(seeded);
    }

    // Everything answered in any round, replayed once more (all inside the window); then
    // SIGTERM: a graceful stop (exit 0).
    let final_replays = run
        .replay_all_and_stop(worker, Duration::from_secs(20))
        .await
        .unwrap();

    // The store after everything: what each round stored, plus what the retries sold.
    for (index, (round, seeded)) in rounds.iter().zip(&events).enumerate() {
        let now = in_store(&credentials, &store, &seeded.event);
        run.check_at_the_end(index, "in the store", round, &now, Besides::Nothing);
    }

    let totals = Totals::of(&rounds);
    println!(
        "{totals}; {final_replays} final replays refused — in {:.1} s ({:.1} s with the build)",
        load_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    run.verdict(&totals)
        .unwrap_or_else(|wrong| panic!("{wrong}"));
}

/// SIGTERM: the worker stops accepting, answers every request already in flight (bookings
/// queued on their event's lock) and exits 0; every ticket it sold is in its store.
///
/// The bodies are signed before anything is sent, so that all of them are on the wire at
/// once; the signal goes once the worker said it has read every one of them, while most wait
/// on the lock. (A request still unread when the signal comes is not in flight: its
/// connection is closed under it, as any HTTP server does on a graceful stop.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_the_worker_answers_what_is_in_flight_and_exits_0() {
    const IN_FLIGHT: usize = 24;
    let examples = built_examples().await;
    let dir = TempDir::new("sigterm").unwrap();
    let store = dir.path().join("worker.sqlite");
    let credentials = create_worker_account(&store).unwrap();
    let seeded = seed_event(&examples, &credentials, &store, "Last call", 100).unwrap();
    let worker = WorkerProcess::start_telling_arrivals(&examples, &credentials, &store).unwrap();
    let base_url = format!("http://{}", worker.addr());
    let values = serde_json::Map::from_iter([(
        "event".to_owned(),
        Value::String(seeded.event.as_str().to_owned()),
    )]);
    let mut bodies = Vec::new();
    for i in 0..IN_FLIGHT {
        let buyer = party(
            &format!("Buyer {i}"),
            &base_url,
            worker.account(),
            &seeded.pieces,
        )
        .unwrap();
        let body = buyer
            .client
            .request_body(worker.account(), &values)
            .unwrap()
            .to_json()
            .to_string();
        bodies.push((buyer.account, Bytes::from(body)));
    }
    let http = reqwest::Client::new();
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut bookings = Vec::new();
    for (account, body) in bodies {
        let (http, answered, addr) = (http.clone(), answered_tx.clone(), worker.addr());
        bookings.push(tokio::spawn(async move {
            let result = post(&http, addr, BOOK, body).await;
            let _ = answered.send(());
            (account, result.map(|(answer, _, _)| answer))
        }));
    }
    // Every request has reached the worker (it said so): the first are answered, the
    // others are queued behind them on the event's lock.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while worker.requests_received() < IN_FLIGHT {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker read {} of {IN_FLIGHT} requests in 30 s; its stderr:\n{}",
            worker.requests_received(),
            worker.stderr()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut answered_before = 0;
    while answered_rx.try_recv().is_ok() {
        answered_before += 1;
    }
    let status = tokio::task::spawn_blocking(move || worker.terminate(Duration::from_secs(20)))
        .await
        .unwrap()
        .unwrap();
    let mut sold = BTreeSet::new();
    let mut failed = Vec::new();
    for booking in bookings {
        match booking.await.unwrap() {
            (account, Ok(answer)) if answer.status == 200 => {
                sold.insert(account);
            }
            (account, other) => failed.push(format!("{account}: {other:?}")),
        }
    }
    println!(
        "SIGTERM with {IN_FLIGHT} bookings read, {answered_before} of them answered: \
         {} answered 200 in all, {} not; exit {status}",
        sold.len(),
        failed.len()
    );
    assert!(status.success(), "a graceful stop exits 0, not {status}");
    assert!(
        failed.is_empty(),
        "requests in flight were dropped: {failed:#?}"
    );
    let stored: BTreeSet<CoID> = in_store(&credentials, &store, &seeded.event)
        .into_iter()
        .map(|(_, account)| account)
        .collect();
    assert_eq!(stored, sold, "the store holds exactly the tickets sold");
}
