//! A forged event against the example's `book-event-ticket` route: a buyer makes an `Event`
//! of their own (their group, a capacity of 1000) whose `reservations` points at the real
//! event's list, and books through it. `#[co(same_owner)]` on `reservations` makes the
//! worker refuse it (403) before the request is claimed: no handler runs, nothing reaches
//! the real list, and the request id is not used up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // tests fail loudly

use std::path::PathBuf;
use std::sync::Arc;

use jazz_req::cojson::{ContentMessage, ResolveQuery};
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req_examples::event_tickets::{BookEventTicket, Event, create_event};
use serde_json::{Value, json};

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_event_sharing_the_real_reservations_is_refused_before_the_claim() {
    let dir = std::env::temp_dir().join(format!("jazz-req-forged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());

    // The organiser's worker, with a real event of capacity 1.
    let secret = new_random_agent_secret().unwrap();
    let (mut node, account) = LocalNode::create_account(secret.clone(), "Worker").unwrap();
    node.attach_storage(Arc::new(
        SqliteStorage::open(dir.join("worker.sqlite")).unwrap(),
    ));
    let real = node
        .batch(|node| create_event(&mut Tx::new(node), "Jazz night", 1))
        .unwrap();
    let mut shared = node
        .export_json(&account, &Event::resolve().into_query())
        .unwrap();
    shared.extend(
        node.export_json(
            real.id(),
            &Event::resolve().reservations(|r| r).into_query(),
        )
        .unwrap(),
    );
    node.flush().unwrap();
    drop(node);
    let worker = WorkerOptions::new(account, secret, dir.join("worker.sqlite"))
        .start()
        .await
        .unwrap()
        .register(BookEventTicket);
    let addr = spawn_server("127.0.0.1:0".parse().unwrap(), worker.clone())
        .await
        .unwrap()
        .addr();

    // A buyer holding the real event (everyone reads it) books the one seat.
    let (client_node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Buyer").unwrap();
    let client = RequestClient::new(client_node)
        .with_base_url(format!("http://{addr}"))
        .with_worker(worker.account().clone());
    client.import_pieces(&shared).unwrap();
    let event = client
        .load::<Event>(real.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    BookEventTicket::send(&client, event).await.unwrap();

    // The real event is full; the buyer makes their own event, in their own group, with
    // room for 1000 and the real event's reservations as its list.
    let forged = client
        .node()
        .unwrap()
        .batch(|node| {
            let mut tx = Tx::new(node);
            let group = tx.create_group()?;
            tx.add_member(&group, Member::Everyone, Role::Reader)?;
            tx.create(
                &group,
                Event {
                    name: "Jazz night".into(),
                    capacity: 1000,
                    reservations: CoList::new(real.reservations.id().clone()),
                },
            )
        })
        .unwrap();
    // The worker gets it as it gets any CoValue a request names but does not carry (a
    // request body brings its envelope only): through sync, here straight into its node.
    let pieces = client
        .node()
        .unwrap()
        .export_json(forged.id(), &ResolveQuery::Value)
        .unwrap();
    worker
        .with_node(|node| {
            for piece in &pieces {
                node.import(ContentMessage::from_json(piece).unwrap())?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let values = json!({ "event": forged.id().as_str() });
    let body = client
        .request_body(worker.account(), values.as_object().unwrap())
        .unwrap();

    // Refused before it is claimed: the same body is refused the same way again (its id is
    // not used up), and nothing of it is stored.
    let url = format!("http://{addr}/api/book-event-ticket");
    for _ in 0..2 {
        let answer = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_json().to_string())
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let answer: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        assert_eq!(status, 403, "{}", answer["message"]);
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.starts_with("Forged reference: field `reservations` of co_z"),
            "{message}"
        );
        assert_eq!(answer["details"]["field"], json!("reservations"));
        assert_eq!(
            answer["details"]["reference"],
            json!(real.reservations.id().as_str())
        );
    }
    let stored = worker
        .read_node(|node| {
            let storage = node.storage().expect("the worker has its store").clone();
            Ok(storage.known_state(&body.id)?)
        })
        .unwrap();
    assert_eq!(stored, None, "the refused envelope was stored");

    // The handler never pushed onto the real list: one seat, one ticket.
    let real_now = worker
        .load::<Event>(real.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    assert_eq!(real_now.reservations.len().unwrap(), 1, "oversold");
}
