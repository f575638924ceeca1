//! What the generated client stub sends (issue 17, item 10): what jazz-tools 0.20.19's `send`
//! sends — the envelope alone (`resolve: true`) with what it depends on (its group, the
//! sender's account, the worker's account as a member of the group) — never the CoValues
//! its fields name, which a worker drops (it takes only the envelope and what that directly
//! depends on, and loads the rest from its store or sync server).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use jazz_req::prelude::*;
use jazz_req::request::SignedBody;
use jazz_req::request::envelope::pieces_to_import;
use jazz_req_examples::event_tickets::{BookEventTicket, Event, create_event};
use jazz_req_tests::people::person;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stub_sends_the_envelope_and_what_it_depends_on_only() {
    // An organiser's event with a reservations list, held by a buyer.
    let mut organiser = person("Organiser").unwrap();
    let event = organiser
        .node
        .batch(|node| create_event(&mut Tx::new(node), "Jazz night", 5))
        .unwrap();
    let list = event.reservations.id().clone();
    let mut shared = organiser
        .node
        .export_json(&organiser.account, &ResolveQuery::Value)
        .unwrap();
    shared.extend(
        organiser
            .node
            .export_json(
                event.id(),
                &Event::resolve().reservations(|r| r).into_query(),
            )
            .unwrap(),
    );

    // A server that keeps the body and answers a JazzRequestError.
    let captured: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let keep = Arc::clone(&captured);
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let keep = Arc::clone(&keep);
        async move {
            keep.lock().unwrap().push(body);
            (
                http::StatusCode::BAD_REQUEST,
                [("x-jazz-request-error", "true")],
                r#"{"message":"captured","code":400}"#,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (node, _) = LocalNode::create_account(new_random_agent_secret().unwrap(), "Buyer").unwrap();
    let client = RequestClient::new(node)
        .with_base_url(format!("http://{addr}"))
        .with_worker(organiser.account.clone());
    client.import_pieces(&shared).unwrap();
    let me = client.node().unwrap().reader().account.clone().unwrap();
    let loaded = client
        .load::<Event>(event.id(), Event::resolve().reservations(|r| r))
        .unwrap();
    let error = BookEventTicket::send(&client, loaded).await.unwrap_err();
    assert_eq!(
        error.as_jazz_request_error().map(|e| e.message.as_str()),
        Some("captured")
    );

    let bodies = captured.lock().unwrap().clone();
    let [body] = bodies.as_slice() else {
        panic!("{} bodies", bodies.len());
    };
    let signed = SignedBody::from_json(&serde_json::from_slice(body).unwrap()).unwrap();
    let sent: BTreeSet<CoID> = pieces_to_import(&signed, false)
        .unwrap()
        .into_iter()
        .map(|piece| piece.id)
        .collect();
    // What a worker keeps of a request: the envelope, its group and the sender…
    let kept: BTreeSet<CoID> = pieces_to_import(&signed, true)
        .unwrap()
        .into_iter()
        .map(|piece| piece.id)
        .collect();
    assert!(kept.contains(&signed.id) && kept.contains(&me), "{kept:?}");
    assert_eq!(kept.len(), 3, "{kept:?}");
    // …and, as jazz-tools' export of the envelope's group has it, the worker's own account
    // (a member of the group). Not the event, not its list.
    let mut expected = kept.clone();
    expected.insert(organiser.account.clone());
    assert_eq!(sent, expected);
    assert!(
        !sent.contains(event.id()) && !sent.contains(&list),
        "{sent:?}"
    );
}
