//! Issue 7, items 2 and 8, live against the real jazz-tools 0.20.19 over loopback HTTP:
//!
//! - jazz-tools clients (`tests/js/tickets-client.mjs`, the seed's schemas and
//!   `experimental_defineRequest`) book through the Rust worker's generated
//!   `BookEventTicket` route, and the generated Rust stub `BookEventTicket::send` books from a
//!   jazz-tools worker (`tests/js/tickets-worker.mjs`);
//! - a schema declared with `#[derive(CoMap)]` (`Sample`, one field of every kind) and the
//!   same schema declared with `co.map({...})` read and write each other's CoValues, both
//!   ways, and a value of a wrong type written by jazz-tools is a typed error in Rust.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use jazz_req::cojson::Ruleset;
use jazz_req::cojson::{ContentMessage, ResolveQuery};
use jazz_req::crypto::random::new_random_agent_secret;
use jazz_req::prelude::*;
use jazz_req::schema::{MAX_SAFE_INTEGER, read_loaded};
use jazz_req_examples::event_tickets::{BookEventTicket, Event, create_event};
use jazz_req_tests::tickets_peer::{
    Sample, Status, TicketsWorker, Venue, js_number, run_schema_roundtrip, run_tickets_client,
    sample_resolve, sample_view,
};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------
// Item 8: booking both ways on the generated code.
// ---------------------------------------------------------------------------------------

/// A new SQLite file for a worker's store.
fn fresh_store(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}-{}-{n}.sqlite", std::process::id()))
}

fn ids(values: impl IntoIterator<Item = Value>) -> BTreeSet<String> {
    values
        .into_iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jazz_tools_clients_book_through_the_rust_workers_generated_route() {
    const CAPACITY: usize = 3;
    const PROCESSES: usize = 3;
    const BUYERS_PER_PROCESS: usize = 2;
    let started = Instant::now();

    // The worker's account and event, made on its SQLite store as ticket_sale.rs does.
    let store = fresh_store("typed-interop-worker");
    let secret = new_random_agent_secret().unwrap();
    let (mut node, account) = LocalNode::create_account(secret.clone(), "Ticket worker").unwrap();
    node.attach_storage(Arc::new(SqliteStorage::open(&store).unwrap()));
    let event = node
        .batch(|node| create_event(&mut Tx::new(node), "Jazz night", CAPACITY as u32))
        .unwrap();
    let account_pieces = node.export_json(&account, &ResolveQuery::Value).unwrap();
    let with_reservations = Event::resolve().reservations(|r| r).into_query();
    let event_pieces = node.export_json(event.id(), &with_reservations).unwrap();
    node.flush().unwrap();
    drop(node);
    let options = WorkerOptions::new(account.clone(), secret, store.clone());
    let worker = options.start().await.unwrap().register(BookEventTicket);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(jazz_req::request::serve(listener, worker.clone()));

    // Several jazz-tools processes, each with several buyers sending at once.
    let input = json!({
        "baseUrl": base_url,
        "workerAccountID": account.as_str(),
        "workerPieces": account_pieces,
        "eventID": event.id().as_str(),
        "eventPieces": event_pieces,
        "buyers": BUYERS_PER_PROCESS,
    });
    let runs: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let input = input.clone();
            tokio::task::spawn_blocking(move || run_tickets_client(&input))
        })
        .collect();
    let mut results = Vec::new();
    for run in runs {
        let out = run.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        results.extend(out["results"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(results.len(), PROCESSES * BUYERS_PER_PROCESS);
    let (sold, refused): (Vec<&Value>, Vec<&Value>) =
        results.iter().partition(|r| r.get("ok").is_some());
    assert_eq!(sold.len(), CAPACITY, "{results:#?}");
    assert_eq!(
        ids(results.iter().map(|r| r["buyer"].clone())).len(),
        results.len(),
        "each buyer is its own account"
    );
    for result in &sold {
        let ticket = &result["ok"]["ticket"];
        assert_eq!(ticket["loaded"], json!(true), "{result}");
        assert_eq!(ticket["account"], result["buyer"], "{result}");
        assert_eq!(ticket["event"], json!(event.id().as_str()), "{result}");
        assert_eq!(result["ok"]["eventName"], json!("Jazz night"), "{result}");
    }
    for result in &refused {
        assert_eq!(
            result["error"],
            json!({"message": "Event is full", "code": 400, "details": null, "isJazzRequestError": true}),
            "{result}"
        );
    }

    // The worker holds exactly those tickets, each naming its buyer and the event.
    let now = worker
        .load::<Event>(event.id(), Event::resolve().reservations(|r| r.each(|t| t)))
        .unwrap();
    let held: BTreeSet<(String, String)> = now
        .reservations
        .items()
        .unwrap()
        .iter()
        .map(|ticket| {
            let ticket = ticket.get().unwrap();
            assert_eq!(ticket.event.id(), event.id());
            (
                ticket.id().as_str().to_owned(),
                ticket.account.id().as_str().to_owned(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String)> = sold
        .iter()
        .map(|r| {
            let ticket = &r["ok"]["ticket"];
            (
                ticket["id"].as_str().unwrap().to_owned(),
                ticket["account"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(held, got);

    server.abort();
    drop(worker);
    for suffix in ["", "-wal", "-shm"] {
        let mut path = store.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    eprintln!(
        "{} jazz-tools buyers in {PROCESSES} processes, {CAPACITY} seats on the Rust worker: {:?}",
        results.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_rust_stub_books_from_a_jazz_tools_worker() {
    const CAPACITY: u32 = 2;
    const BUYERS: usize = 4;
    let started = Instant::now();
    let ts = tokio::task::spawn_blocking(|| TicketsWorker::start(CAPACITY))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let ts = Arc::new(ts);

    // Fresh Rust accounts, each given the worker's account and the event the TS worker made.
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        let (node, me) =
            LocalNode::create_account(new_random_agent_secret().unwrap(), &format!("Buyer {i}"))
                .unwrap();
        let client = RequestClient::new(node)
            .with_base_url(&ts.url)
            .with_worker(ts.account.clone());
        client.import_pieces(&ts.account_pieces).unwrap();
        client.import_pieces(&ts.event_pieces).unwrap();
        let event = client
            .load::<Event>(&ts.event, Event::resolve().reservations(|r| r))
            .unwrap();
        assert_eq!(event.name, "Jazz night");
        assert_eq!(event.capacity, CAPACITY);
        buyers.push(tokio::spawn(async move {
            let booked = BookEventTicket::send(&client, event).await;
            (me, booked)
        }));
    }
    let mut sold = BTreeSet::new();
    let mut refused = 0;
    for buyer in buyers {
        let (me, booked) = buyer.await.unwrap();
        match booked {
            Ok(booked) => {
                let ticket = booked
                    .ticket
                    .get()
                    .expect("the response resolve { ticket: true } loads the ticket");
                assert_eq!(ticket.account.id(), &me);
                assert_eq!(ticket.event.id(), &ts.event);
                sold.insert((ticket.id().as_str().to_owned(), me.as_str().to_owned()));
            }
            Err(SendError::Request(error)) => {
                assert_eq!((error.code, error.message.as_str()), (400, "Event is full"));
                refused += 1;
            }
            Err(other) => panic!("{other}\njazz-tools worker stderr:\n{}", ts.stderr_text()),
        }
    }
    assert_eq!(sold.len(), CAPACITY as usize);
    assert_eq!(refused, BUYERS - CAPACITY as usize);

    // The jazz-tools worker ran its handler for every buyer and holds exactly those tickets.
    let stats = tokio::task::spawn_blocking({
        let ts = ts.clone();
        move || ts.stats()
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(stats["handlerRuns"], json!(BUYERS), "{stats}");
    let held: BTreeSet<(String, String)> = stats["event"]["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["event"], json!(ts.event.as_str()));
            (
                t["id"].as_str().unwrap().to_owned(),
                t["account"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(held, sold);
    eprintln!(
        "{BUYERS} Rust buyers, {CAPACITY} seats on the jazz-tools worker: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Item 2: one schema in Rust and in jazz-tools, each reading and writing the other's values.
// ---------------------------------------------------------------------------------------

/// A string with what JSON and UTF-16 make hard: astral-plane emoji, combining marks,
/// right-to-left text, NUL, quotes, backslashes and control characters.
const TITLE: &str = "Zoë 🎷🎟️ — 東京 «jazz» שלום e\u{301} \u{0} \"q\" \\ \n\t end";

fn meta() -> Map<String, Value> {
    let value = json!({"tier": "gold", "priceCents": 1999, "perks": ["drink", "🎺"]});
    value.as_object().unwrap().clone()
}

fn extra() -> Value {
    json!({
        "nested": {"list": [1, 2.5, null, true, "x", -0.5], "empty": {}},
        "big": MAX_SAFE_INTEGER,
        "tiny": 5e-324,
    })
}

/// The fixture's plain fields, with the references given.
fn fixture_sample(
    venue: Ref<Venue>,
    tags: CoList<String>,
    venues: CoList<Ref<Venue>>,
    host: Account,
    team: Group,
) -> Sample {
    Sample {
        title: TITLE.to_owned(),
        seats_left: 3,
        max_safe: MAX_SAFE_INTEGER,
        min_safe: -MAX_SAFE_INTEGER,
        delta: -42,
        ratio: 0.1,
        negative_zero: -0.0,
        open: true,
        subtitle: None,
        rating: Some(0.1 + 0.2),
        status: Status::SoldOut,
        meta: Json(meta()),
        extra: extra(),
        venue,
        tags,
        venues,
        host,
        team,
        backup: None,
    }
}

const TAGS: [&str; 2] = ["jazz", "live 🎺"];
const VENUE: (&str, u32) = ("Berlin", 120);
const VENUES: [(&str, u32); 2] = [("Paris", 10), ("Tōkyō", 0)];

/// The fixture as `schema-roundtrip.mjs` creates it (`create` input).
fn fixture_init() -> Value {
    json!({
        "title": TITLE,
        "seatsLeft": 3,
        "maxSafe": MAX_SAFE_INTEGER,
        "minSafe": -MAX_SAFE_INTEGER,
        "delta": -42,
        "ratio": 0.1,
        "negativeZero": -0.0,
        "open": true,
        "rating": 0.1 + 0.2,
        "status": "sold-out",
        "meta": meta(),
        "extra": extra(),
        "where": {"city": VENUE.0, "seats": VENUE.1},
        "tags": TAGS,
        "venues": VENUES.map(|(city, seats)| json!({"city": city, "seats": seats})),
    })
}

/// The fixture as `sampleView` shows it, with the ids of what it references.
fn fixture_view(id: &CoID, venue: &CoID, venues: [&CoID; 2], host: &CoID, team: &CoID) -> Value {
    let venue_view = |id: &CoID, (city, seats): (&str, u32)| json!({"id": id.as_str(), "city": city, "seats": seats});
    json!({
        "id": id.as_str(),
        "title": TITLE,
        "seatsLeft": 3,
        "maxSafe": 9_007_199_254_740_991_i64,
        "minSafe": -9_007_199_254_740_991_i64,
        "delta": -42,
        "ratio": 0.1,
        "negativeZero": 0,
        "open": true,
        "rating": 0.300_000_000_000_000_04,
        "status": "sold-out",
        "meta": meta(),
        "extra": extra(),
        "where": venue_view(venue, VENUE),
        "tags": TAGS,
        "venues": [venue_view(venues[0], VENUES[0]), venue_view(venues[1], VENUES[1])],
        "host": {"id": host.as_str()},
        "team": {"id": team.as_str()},
        "keys": ["delta", "extra", "host", "maxSafe", "meta", "minSafe", "negativeZero", "open",
                 "rating", "ratio", "seatsLeft", "status", "tags", "team", "title", "venues", "where"],
    })
}

/// A `sampleView` without its JS-only keys: `isMinusZero` is returned apart, and
/// `schemaIssues` (plain fields the zod schema refuses) must be empty.
fn split_view(view: &Value) -> (Value, Value) {
    let mut view = view.clone();
    let fields = view.as_object_mut().expect("a sampleView is an object");
    let issues = fields.remove("schemaIssues");
    assert_eq!(
        issues,
        Some(json!([])),
        "jazz-tools' schema refuses what it read"
    );
    let minus_zero = fields.remove("isMinusZero").unwrap_or(Value::Null);
    (view, minus_zero)
}

fn id_at(view: &Value, pointer: &str) -> CoID {
    CoID::parse(view.pointer(pointer).and_then(Value::as_str).unwrap()).unwrap()
}

fn import(node: &mut LocalNode, pieces: &Value) {
    for piece in pieces.as_array().unwrap() {
        node.import(ContentMessage::from_json(piece).unwrap())
            .unwrap_or_else(|e| panic!("importing {}: {e}", piece["id"]));
    }
}

async fn roundtrip(input: Value) -> Value {
    tokio::task::spawn_blocking(move || run_schema_roundtrip(&input))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The group that owns `id`.
fn owner_of(node: &LocalNode, id: &CoID) -> Group {
    match &node.get(id).unwrap().header().ruleset {
        Ruleset::OwnedByGroup { group, .. } => Group::new(group.clone()),
        other => panic!("{id} is not owned by a group: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_kind_written_in_rust_reads_the_same_in_jazz_tools_and_back() {
    let started = Instant::now();
    let (mut node, me) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Rust writer").unwrap();
    let sample = node
        .batch(|node| {
            let mut tx = Tx::new(node);
            let group = tx.create_group()?;
            tx.add_member(&group, Member::Everyone, Role::Writer)?;
            let venue = |(city, seats): (&str, u32)| Venue {
                city: city.to_owned(),
                seats,
            };
            let where_ = tx.create(&group, venue(VENUE))?;
            let paris = tx.create(&group, venue(VENUES[0]))?;
            let tokyo = tx.create(&group, venue(VENUES[1]))?;
            let tags = tx.create_list(&group, TAGS.map(str::to_owned).to_vec())?;
            let venues = tx.create_list(&group, vec![paris.to_ref(), tokyo.to_ref()])?;
            let team = tx.create_group()?;
            let host = Account::new(me.clone());
            let value = fixture_sample(where_.to_ref(), tags, venues, host, team);
            tx.create(&group, value)
        })
        .unwrap();
    let id = sample.id().clone();
    let venue_ids: Vec<CoID> = sample
        .venues
        .items()
        .unwrap()
        .iter()
        .map(|v| v.id().clone())
        .collect();
    let expected = fixture_view(
        &id,
        sample.venue.id(),
        [&venue_ids[0], &venue_ids[1]],
        &me,
        sample.team.id(),
    );
    // Rust reads its own write as the fixture (the view is built from the typed value).
    let full = sample_resolve().into_query();
    let read = read_loaded::<Sample>(&node, &id, &full).unwrap();
    assert_eq!(*read, *sample);
    assert_eq!(sample_view(&node, &read).unwrap(), expected);

    let mut pieces = node.export_json(&me, &ResolveQuery::Value).unwrap();
    pieces.extend(node.export_json(&id, &full).unwrap());
    let out = roundtrip(json!({
        "pieces": pieces,
        "read": id.as_str(),
        "edit": {
            "set": {
                "title": "ändern ✓ 𝄞",
                "seatsLeft": 0,
                "ratio": 1e-7,
                "open": false,
                "subtitle": "now with a subtitle",
                "status": "closed",
                "meta": {"tier": "silver", "priceCents": 0, "perks": []},
                "extra": null,
                "where": {"city": "Lisboa", "seats": 7},
            },
            "delete": ["rating"],
            "pushTags": ["encore"],
            "pushVenues": [{"city": "Oslo", "seats": 1}],
        },
    }))
    .await;

    // jazz-tools reads the Rust write as the fixture, whole.
    let (read_by_js, minus_zero) = split_view(&out["read"]);
    assert_eq!(read_by_js, expected);
    // -0 reads as zero (compared above). Its sign: Rust writes -0.0 as `-0.0` (serde_json),
    // which JSON.parse keeps, where jazz-tools writes `0` (JSON.stringify); either is zero,
    // and no other field may read as -0.
    assert!(
        minus_zero == json!([]) || minus_zero == json!(["negativeZero"]),
        "{}",
        out["read"]
    );

    // Rust reads jazz-tools' edits of its CoValue through the schema.
    import(&mut node, &out["pieces"]);
    let edited = read_loaded::<Sample>(&node, &id, &full).unwrap();
    let (edited_by_js, _) = split_view(&out["edited"]);
    assert_eq!(sample_view(&node, &edited).unwrap(), edited_by_js);
    assert_eq!(edited.title, "ändern ✓ 𝄞");
    assert_eq!(edited.seats_left, 0);
    assert_eq!(edited.ratio, 1e-7);
    assert!(!edited.open);
    assert_eq!(edited.subtitle.as_deref(), Some("now with a subtitle"));
    assert_eq!(edited.rating, None);
    assert_eq!(edited.status, Status::Closed);
    assert_eq!(
        edited.meta.0,
        *json!({"tier": "silver", "priceCents": 0, "perks": []})
            .as_object()
            .unwrap()
    );
    assert_eq!(edited.extra, Value::Null);
    assert_ne!(edited.venue.id(), sample.venue.id());
    assert_eq!(edited.venue.get().unwrap().city, "Lisboa");
    assert_eq!(edited.tags.items().unwrap(), ["jazz", "live 🎺", "encore"]);
    let cities: Vec<&str> = edited
        .venues
        .items()
        .unwrap()
        .iter()
        .map(|v| v.get().unwrap().city.as_str())
        .collect();
    assert_eq!(cities, ["Paris", "Tōkyō", "Oslo"]);
    // Fields jazz-tools did not touch are as Rust wrote them.
    assert_eq!(
        (edited.max_safe, edited.min_safe, edited.delta),
        (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, -42)
    );
    assert_eq!(edited.host.id(), &me);
    eprintln!("Rust -> jazz-tools -> Rust: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_kind_written_in_jazz_tools_reads_the_same_in_rust_and_back() {
    let started = Instant::now();
    let out = roundtrip(json!({"create": fixture_init()})).await;
    let (created, minus_zero) = split_view(&out["created"]);
    assert_eq!(
        minus_zero,
        json!(["negativeZero"]),
        "jazz-tools holds -0 in memory"
    );
    let id = id_at(&created, "/id");
    let venue = id_at(&created, "/where/id");
    let venues = [
        id_at(&created, "/venues/0/id"),
        id_at(&created, "/venues/1/id"),
    ];
    let host = id_at(&created, "/host/id");
    let team = id_at(&created, "/team/id");
    // jazz-tools made what it was asked to (its own view is the fixture).
    assert_eq!(
        created,
        fixture_view(&id, &venue, [&venues[0], &venues[1]], &host, &team)
    );

    // Rust reads it through the derived schema: whole, typed, and as jazz-tools shows it.
    let (mut node, me) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Rust reader").unwrap();
    import(&mut node, &out["pieces"]);
    let full = sample_resolve().into_query();
    let mut read = read_loaded::<Sample>(&node, &id, &full).unwrap();
    assert_eq!(sample_view(&node, &read).unwrap(), created);
    let expected = fixture_sample(
        Ref::new(venue.clone()),
        CoList::new(read.tags.id().clone()),
        CoList::new(read.venues.id().clone()),
        Account::new(host.clone()),
        Group::new(team.clone()),
    );
    assert_eq!(*read, expected);
    assert_eq!(read.max_safe, 9_007_199_254_740_991);
    assert_eq!(read.ratio.to_bits(), 0.1_f64.to_bits());
    assert_eq!(
        read.rating.map(f64::to_bits),
        Some((0.1_f64 + 0.2).to_bits())
    );
    // JSON.stringify(-0) is "0": the sign stays in the jazz-tools node that wrote it.
    assert_eq!(read.negative_zero.to_bits(), 0.0_f64.to_bits());

    // Rust edits the jazz-tools CoValue (a writer through `everyone`), jazz-tools reads it.
    let group = owner_of(&node, &id);
    let old_venue = read.venue.clone();
    node.batch(|node| {
        let mut tx = Tx::new(node);
        let lisboa = tx.create(
            &group,
            Venue {
                city: "Lisboa ✓".to_owned(),
                seats: 7,
            },
        )?;
        tx.update(&mut read, |s| {
            s.title = "from Rust 🦀 \u{0}".to_owned();
            s.seats_left = u32::MAX;
            s.ratio = f64::MIN_POSITIVE;
            s.open = false;
            s.subtitle = Some("added in Rust".to_owned());
            s.rating = None;
            s.status = Status::Open;
            s.meta = Json(
                json!({"tier": "silver", "priceCents": 0, "perks": []})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            s.extra = json!([1, "two", {"three": 3}]);
            s.venue = lisboa.to_ref();
            s.backup = Some(old_venue);
        })?;
        tx.remove(&read.tags, 0)?;
        tx.push(&read.tags, "encore".to_owned())?;
        tx.insert(&read.venues, 0, lisboa.to_ref())?;
        Ok(())
    })
    .unwrap();
    let edited = read_loaded::<Sample>(&node, &id, &full).unwrap();
    let rust_view = sample_view(&node, &edited).unwrap();
    assert_eq!(rust_view["tags"], json!(["live 🎺", "encore"]));
    assert_eq!(rust_view["backup"]["id"], json!(venue.as_str()));
    let mut pieces = out["pieces"].as_array().unwrap().clone();
    pieces.extend(node.export_json(&me, &ResolveQuery::Value).unwrap());
    pieces.extend(node.export_json(&id, &full).unwrap());
    let again = roundtrip(json!({"pieces": pieces, "read": id.as_str()})).await;
    let (read_by_js, _) = split_view(&again["read"]);
    assert_eq!(read_by_js, rust_view);
    eprintln!("jazz-tools -> Rust -> jazz-tools: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_a_wrong_type_written_by_jazz_tools_is_a_typed_error_in_rust() {
    let started = Instant::now();
    // (the raw write, the field Rust names, whether it is Missing rather than WrongType)
    let cases = [
        (
            json!({"key": "seatsLeft", "value": "three"}),
            "seatsLeft",
            false,
        ),
        (
            json!({"key": "seatsLeft", "value": 1.5}),
            "seatsLeft",
            false,
        ),
        (json!({"key": "seatsLeft", "value": -1}), "seatsLeft", false),
        (
            json!({"key": "maxSafe", "value": 9_007_199_254_740_992_i64}),
            "maxSafe",
            false,
        ),
        (
            json!({"key": "delta", "value": 2_147_483_648_i64}),
            "delta",
            false,
        ),
        (json!({"key": "ratio", "value": "0.1"}), "ratio", false),
        (json!({"key": "open", "value": "yes"}), "open", false),
        (
            json!({"key": "status", "value": "postponed"}),
            "status",
            false,
        ),
        (json!({"key": "meta", "value": [1, 2]}), "meta", false),
        (
            json!({"key": "where", "value": "not a CoValue id"}),
            "where",
            false,
        ),
        (json!({"key": "host", "value": 42}), "host", false),
        (json!({"pushTag": 7}), "tags[2]", false),
        (json!({"key": "title", "delete": true}), "title", true),
    ];
    let corrupt: Vec<Value> = cases.iter().map(|(change, _, _)| change.clone()).collect();
    let out = roundtrip(json!({"create": fixture_init(), "corrupt": corrupt})).await;
    let (mut node, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Rust reader").unwrap();
    import(&mut node, &out["pieces"]);
    let full = sample_resolve().into_query();

    // The well-typed original reads.
    let original = id_at(&out, "/created/id");
    read_loaded::<Sample>(&node, &original, &full).unwrap();

    let corrupted = out["corrupted"].as_array().unwrap();
    assert_eq!(corrupted.len(), cases.len());
    for ((change, field, missing), id) in cases.iter().zip(corrupted) {
        let id = CoID::parse(id.as_str().unwrap()).unwrap();
        // A list item names the list; a field, the CoMap.
        let covalue = if field.starts_with("tags[") {
            let held = node.read(&id).unwrap().value;
            CoID::parse(held["tags"].as_str().unwrap()).unwrap()
        } else {
            id.clone()
        };
        let error = read_loaded::<Sample>(&node, &id, &full)
            .map(|_| ())
            .expect_err(&format!("{change} should not read as a Sample"));
        match (&error, missing) {
            (
                SchemaError::WrongType {
                    covalue: c,
                    schema,
                    field: f,
                    ..
                },
                false,
            )
            | (
                SchemaError::Missing {
                    covalue: c,
                    schema,
                    field: f,
                },
                true,
            ) => {
                assert_eq!((c, f.as_str()), (&covalue, *field), "{change}: {error}");
                assert_eq!(*schema, "Sample", "{change}: {error}");
            }
            _ => panic!("{change}: expected a typed error on `{field}`, got {error:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains(covalue.as_str()) && message.contains(field),
            "{message}"
        );
    }
    eprintln!(
        "{} wrong values from jazz-tools: {:?}",
        cases.len(),
        started.elapsed()
    );
}

#[test]
fn js_numbers_show_integral_values_as_integers() {
    assert_eq!(js_number(-0.0), json!(0));
    assert_eq!(js_number(3.0), json!(3));
    assert_eq!(js_number(0.1), json!(0.1));
    assert_eq!(js_number(1e300), json!(1e300));
}
