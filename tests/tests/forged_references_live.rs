//! Hostile but well-signed bookings, live: jazz-tools 0.20.19 apps (`tests/js/
//! interop-sync-app.mjs`, every account new and on the server) arrange CoValues against the
//! app's rules on a real Jazz sync server (`tests/js/sync-server.mjs`) and book through the
//! Rust worker (a peer of that server, on a new store). Each case checks the answers and,
//! read back from the server by a fresh account, that nothing was written:
//!
//! 1. a forged parent around a real child: attackers make their own `Event` (their group,
//!    capacity 1000) whose `reservations` is the real event's list, where the worker is a
//!    writer. Unchecked, the worker reads the forged capacity, locks the forged event and
//!    pushes a ticket onto the real list: an oversold event. Each attacker must get a 403
//!    naming the field (`#[co(same_owner)]` on `Event::reservations`), before the request is
//!    claimed: the same body sent again gets the same 403, not "already handled";
//! 2. an event the worker may not write to: the attacker's event and its list, both in the
//!    attacker's group, the worker not a member (a 403 naming the list, not a 500, before
//!    the claim: the route declares `writes = [event.reservations]`, so the same body sent
//!    again gets the same 403);
//! 3. a reference to another app's CoValue: the attacker's event points at the list of a
//!    second organiser whose group also has the worker as a writer (a 403 as in case 1).
//!
//! One sync server and one worker serve the three cases, one after the other; a case that
//! fails does not stop the others, and the test fails at the end naming every failed case.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use jazz_req_tests::sync_apps::run_sync_app;
use jazz_req_tests::sync_events::account_on_server;
use jazz_req_tests::sync_server::SyncServer;
use jazz_req_tests::sync_worker::SyncedWorker;
use serde_json::{Value, json};

/// What every case needs: the sync server's URL and the worker's.
#[derive(Clone)]
struct Live {
    /// `ws://…` of the sync server.
    url: String,
    /// `http://…` of the Rust worker.
    base_url: String,
    /// The worker's account.
    worker: String,
}

impl Live {
    /// Runs one operation of `interop-sync-app.mjs` on this server and worker.
    async fn app(&self, mut input: Value) -> Value {
        input["url"] = json!(self.url);
        input["baseUrl"] = json!(self.base_url);
        input["workerAccountID"] = json!(self.worker);
        tokio::task::spawn_blocking(move || run_sync_app(&input))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A new organiser's event of `capacity` seats (its group: everyone reads, the worker
    /// writes) -> (event id, reservations id).
    async fn organise(&self, name: &str, capacity: usize) -> (String, String) {
        let made = self
            .app(json!({"op": "organise", "name": name, "eventName": name, "capacity": capacity}))
            .await;
        (text(&made["eventID"]), text(&made["reservationsID"]))
    }

    /// `buyers` new buyers book `event` the normal way -> the tickets sold.
    async fn book(&self, event: &str, buyers: usize) -> BTreeSet<String> {
        let out = self
            .app(json!({"op": "book", "eventID": event, "buyers": buyers}))
            .await;
        let results = out["results"].as_array().unwrap();
        for result in results {
            assert!(result.get("ok").is_some(), "a legitimate booking: {result}");
        }
        results
            .iter()
            .map(|r| text(&r["ok"]["ticket"]["id"]))
            .collect()
    }

    /// `processes` × `attackers` attackers book through CoValues of `variant` at once.
    async fn forge(
        &self,
        variant: &str,
        list: Option<&str>,
        processes: usize,
        attackers: usize,
    ) -> Vec<Value> {
        let runs: Vec<_> = (0..processes)
            .map(|_| {
                let mut input = json!({"op": "forge", "variant": variant, "attackers": attackers,
                                       "resend": true});
                if let Some(list) = list {
                    input["listID"] = json!(list);
                }
                let live = self.clone();
                tokio::spawn(async move { live.app(input).await })
            })
            .collect();
        let mut results = Vec::new();
        for run in runs {
            results.extend(run.await.unwrap()["results"].as_array().unwrap().clone());
        }
        assert_eq!(results.len(), processes * attackers);
        results
    }

    /// A fresh account reads each list of tickets from the server.
    async fn read_lists(&self, lists: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
        let out = self.app(json!({"op": "readLists", "listIDs": lists})).await;
        out["lists"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, tickets)| {
                (
                    id.clone(),
                    tickets.as_array().unwrap().iter().map(text).collect(),
                )
            })
            .collect()
    }
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

/// How many answers of each status (`200` for a ticket, else the error's code).
fn statuses(results: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for result in results {
        let status = if result.get("ok").is_some() {
            "200".to_owned()
        } else {
            result["error"]["code"].to_string()
        };
        *counts.entry(status).or_default() += 1;
    }
    counts
}

/// What an attacker got: the error, or the ticket.
fn answer(result: &Value) -> &Value {
    result.get("error").unwrap_or(&result["ok"])
}

/// A refusal as the app's client sees it: a JazzRequestError with a 403.
fn assert_forbidden(result: &Value) {
    assert!(
        result.get("ok").is_none(),
        "the worker answered 200, a ticket sold through CoValues against the app's rules: {result}"
    );
    let error = &result["error"];
    assert_eq!(error["isJazzRequestError"], json!(true), "{result}");
    assert_eq!(error["code"], json!(403), "{result}");
}

/// The refusal names the attacker's event, its field `reservations` and the list it points
/// at; and sending the very same body again gets the same refusal: the request was refused
/// before it was claimed, so its id is not used up ("already handled" would say it was).
fn assert_refused_reference(result: &Value) {
    assert_forbidden(result);
    let details = &result["error"]["details"];
    assert_eq!(details["field"], json!("reservations"), "{result}");
    assert_eq!(details["covalue"], result["eventID"], "{result}");
    assert_eq!(details["reference"], result["reservationsID"], "{result}");
    let resent = &result["resent"];
    assert_eq!(resent["status"], json!(403), "sent again: {result}");
    assert_eq!(
        resent["body"]["message"], result["error"]["message"],
        "sent again: {result}"
    );
}

// ---------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------

/// Case 1: a forged parent around the real event's list.
async fn forged_parent_around_the_real_list(live: Live) {
    const CAPACITY: usize = 5;
    const SOLD_FIRST: usize = 2;
    const PROCESSES: usize = 3;
    const ATTACKERS_PER_PROCESS: usize = 5; // 15 in all, 3 × the capacity
    let (event, reservations) = live.organise("Jazz night", CAPACITY).await;
    let sold = live.book(&event, SOLD_FIRST).await;
    assert_eq!(sold.len(), SOLD_FIRST);

    let results = live
        .forge(
            "forgedParent",
            Some(&reservations),
            PROCESSES,
            ATTACKERS_PER_PROCESS,
        )
        .await;
    let held = live.read_lists(&[&reservations]).await[&reservations].clone();
    eprintln!(
        "case 1: {} attackers' answers {:?}; the real event ({CAPACITY} seats, {SOLD_FIRST} sold) \
         holds {}; the first answer: {}",
        results.len(),
        statuses(&results),
        held.len(),
        answer(&results[0])
    );
    for result in &results {
        assert_eq!(text(&result["reservationsID"]), reservations, "{result}");
        assert_refused_reference(result);
    }
    assert_eq!(
        held, sold,
        "the real event holds exactly the tickets sold legitimately"
    );

    // The event still sells its seats to legitimate buyers.
    let more = live.book(&event, 1).await;
    let held = live.read_lists(&[&reservations]).await[&reservations].clone();
    assert_eq!(held, sold.union(&more).cloned().collect::<BTreeSet<_>>());
    assert_eq!(held.len(), SOLD_FIRST + 1);
}

/// Case 2: the attacker's own event and list, which the worker may read but not write.
async fn an_event_the_worker_may_not_write_to(live: Live) {
    // The route declares `writes = [event.reservations]`: the worker checks it may write
    // there before the claim, so the same body sent again gets the same 403.
    let results = live.forge("ownEvent", None, 1, 2).await;
    let lists: Vec<String> = results.iter().map(|r| text(&r["reservationsID"])).collect();
    let held = live
        .read_lists(&lists.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    eprintln!(
        "case 2: answers {:?}; the attackers' lists hold {:?}; the first answer: {}, sent \
         again: {}",
        statuses(&results),
        held.values().map(BTreeSet::len).collect::<Vec<_>>(),
        answer(&results[0]),
        results[0]["resent"]
    );
    for result in &results {
        assert_forbidden(result);
        // The message names the CoValue the worker could not write: the attacker's list.
        let list = &result["reservationsID"];
        let message = format!("The worker cannot write to {}", text(list));
        assert_eq!(result["error"]["message"], json!(message), "{result}");
        assert_eq!(result["error"]["details"]["covalue"], *list, "{result}");
        let resent = &result["resent"];
        assert_eq!(resent["status"], json!(403), "sent again: {result}");
        assert_eq!(
            resent["body"]["message"],
            json!(message),
            "sent again: {result}"
        );
    }
    for (list, tickets) in &held {
        assert!(tickets.is_empty(), "no ticket in {list}: {tickets:?}");
    }
}

/// Case 3: the attacker's event points at another app's list (the worker writes there too).
async fn a_reference_to_another_apps_list(live: Live) {
    let (_, other) = live.organise("Other app's night", 5).await;
    let results = live.forge("forgedParent", Some(&other), 1, 3).await;
    let held = live.read_lists(&[&other]).await[&other].clone();
    eprintln!(
        "case 3: answers {:?}; the other app's list holds {}; the first answer: {}",
        statuses(&results),
        held.len(),
        answer(&results[0])
    );
    for result in &results {
        assert_eq!(text(&result["reservationsID"]), other, "{result}");
        assert_refused_reference(result);
    }
    assert!(
        held.is_empty(),
        "no ticket in the other app's list: {held:?}"
    );
}

// ---------------------------------------------------------------------------------------
// One sync server, one worker, the three cases.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_foreign_references_are_refused_and_nothing_is_written() {
    let started = Instant::now();
    let server = tokio::task::spawn_blocking(SyncServer::start)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();
    let (peer, _) = account_on_server(&url, "Rust worker").await.unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("forged-references-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let running = SyncedWorker::start(&peer, &url, &dir.join("worker.sqlite"))
        .await
        .unwrap();
    let live = Live {
        url: url.clone(),
        base_url: running.base_url.clone(),
        worker: running.account.as_str().to_owned(),
    };

    let mut failed = Vec::new();
    let case1 = tokio::spawn(forged_parent_around_the_real_list(live.clone())).await;
    if case1.is_err() {
        failed.push("1: a forged parent around the real event's list");
    }
    let case2 = tokio::spawn(an_event_the_worker_may_not_write_to(live.clone())).await;
    if case2.is_err() {
        failed.push("2: an event the worker may not write to");
    }
    let case3 = tokio::spawn(a_reference_to_another_apps_list(live.clone())).await;
    if case3.is_err() {
        failed.push("3: a reference to another app's list");
    }

    running.worker.shutdown().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
    eprintln!("forged references, three cases: {:?}", started.elapsed());
    assert!(
        failed.is_empty(),
        "failed cases (see their panics above): {failed:?}"
    );
}
