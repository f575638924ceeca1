//! The typed layer on its own (schemas implemented by hand, as `#[derive(CoMap)]` writes
//! them): reading, writing, resolve queries, and values that do not fit their fields.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{LocalNode, Privacy, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::schema::{
    Account, CoEnum, CoField, CoList, CoMapSchema, FieldInfo, FieldSite, Json, Loaded, MapReader,
    MapWriter, NotAReference, Ref, ResolveBuilder, ResolveFields, SchemaError, Tx, descend,
    enum_read_field, enum_write_field, read_loaded,
};
use serde_json::{Value, json};

#[derive(Debug, PartialEq)]
struct Event {
    name: String,
    capacity: u32,
    reservations: CoList<Ref<Ticket>>,
    note: Option<String>,
}

#[derive(Debug, PartialEq)]
struct Ticket {
    account: Account,
    event: Ref<Event>,
    level: Level,
    extra: Json<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Level {
    Standard,
    Vip,
}

// What the derives generate, written out.
impl CoEnum for Level {
    const NAME: &'static str = "Level";
    const VARIANTS: &'static [(&'static str, Self)] =
        &[("standard", Self::Standard), ("vip", Self::Vip)];
    fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Vip => "vip",
        }
    }
}

impl CoField for Level {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        enum_read_field(value, site)
    }
    fn write_field(&self) -> Option<Value> {
        enum_write_field(*self)
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
}

#[derive(Default)]
struct EventResolve(ResolveFields);
impl EventResolve {
    fn reservations(
        self,
        f: impl FnOnce(
            <CoList<Ref<Ticket>> as CoField>::Resolve,
        ) -> <CoList<Ref<Ticket>> as CoField>::Resolve,
    ) -> Self {
        Self(self.0.field::<CoList<Ref<Ticket>>>("reservations", f))
    }
}
impl ResolveBuilder for EventResolve {
    fn into_query(self) -> ResolveQuery {
        self.0.into_query()
    }
}

impl CoMapSchema for Event {
    const NAME: &'static str = "Event";
    const FIELDS: &'static [FieldInfo] = &[];
    type Resolve = EventResolve;
    fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> {
        Ok(Self {
            name: map.field("name")?,
            capacity: map.field("capacity")?,
            reservations: map.field("reservations")?,
            note: map.field("note")?,
        })
    }
    fn write_map(&self, map: &mut MapWriter) {
        map.field("name", &self.name);
        map.field("capacity", &self.capacity);
        map.field("reservations", &self.reservations);
        map.field("note", &self.note);
    }
}

#[derive(Default)]
struct TicketResolve(ResolveFields);
impl TicketResolve {
    fn event(
        self,
        f: impl FnOnce(<Ref<Event> as CoField>::Resolve) -> <Ref<Event> as CoField>::Resolve,
    ) -> Self {
        Self(self.0.field::<Ref<Event>>("event", f))
    }
}
impl ResolveBuilder for TicketResolve {
    fn into_query(self) -> ResolveQuery {
        self.0.into_query()
    }
}

impl CoMapSchema for Ticket {
    const NAME: &'static str = "Ticket";
    const FIELDS: &'static [FieldInfo] = &[];
    type Resolve = TicketResolve;
    fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> {
        Ok(Self {
            account: map.field("account")?,
            event: map.field("event")?,
            level: map.field("level")?,
            extra: map.field("extra")?,
        })
    }
    fn write_map(&self, map: &mut MapWriter) {
        map.field("account", &self.account);
        map.field("event", &self.event);
        map.field("level", &self.level);
        map.field("extra", &self.extra);
    }
}

fn node() -> (LocalNode, Account) {
    let (node, account) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Typed").unwrap();
    (node, Account::new(account))
}

/// An event with an empty reservations list, in a group of its own.
fn event(node: &mut LocalNode, capacity: u32) -> Loaded<Event> {
    node.batch(|node| {
        let mut tx = Tx::new(node);
        let group = tx.create_group()?;
        let reservations = tx.create_list(&group, Vec::<Ref<Ticket>>::new())?;
        tx.create(
            &group,
            Event {
                name: "Jazz night".into(),
                capacity,
                reservations,
                note: None,
            },
        )
    })
    .unwrap()
}

#[test]
fn typed_writes_read_back_as_far_as_the_resolve_query_goes() {
    let (mut node, me) = node();
    let event = event(&mut node, 2);
    let ticket = node
        .batch(|node| {
            let mut tx = Tx::new(node);
            let group = tx.create_group()?;
            tx.add_member(
                &group,
                jazz_req_core::schema::Member::Everyone,
                jazz_req_core::cojson::permissions_role::Role::Reader,
            )?;
            let ticket = tx.create(
                &group,
                Ticket {
                    account: me.clone(),
                    event: event.to_ref(),
                    level: Level::Vip,
                    extra: Json(vec![1, 2]),
                },
            )?;
            tx.push(&event.reservations, ticket.to_ref())?;
            Ok(ticket)
        })
        .unwrap();

    // `true`: the event alone, its list not loaded.
    let shallow: Loaded<Event> = read_loaded(&node, event.id(), &ResolveQuery::Value).unwrap();
    assert_eq!(shallow.name, "Jazz night");
    assert_eq!(shallow.capacity, 2);
    assert!(shallow.reservations.items().is_err());

    // `{ reservations: true }`: the list, its tickets not loaded.
    let query = Event::resolve().reservations(descend).into_query();
    assert_eq!(
        query,
        ResolveQuery::from_json(&json!({"reservations": true})).unwrap()
    );
    let loaded: Loaded<Event> = read_loaded(&node, event.id(), &query).unwrap();
    let items = loaded.reservations.items().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id(), ticket.id());
    assert!(!items[0].is_loaded());

    // `{ reservations: { $each: { event: true } } }`: tickets and their events.
    let deep = Event::resolve()
        .reservations(|r| descend(r).each(|t| descend(t).event(descend)))
        .into_query();
    assert_eq!(
        deep,
        ResolveQuery::from_json(&json!({"reservations": {"$each": {"event": true}}})).unwrap()
    );
    let loaded: Loaded<Event> = read_loaded(&node, event.id(), &deep).unwrap();
    let first = loaded.reservations.items().unwrap()[0].get().unwrap();
    assert_eq!(first.account, me);
    assert_eq!(first.level, Level::Vip);
    assert_eq!(first.extra, Json(vec![1, 2]));
    assert_eq!(first.event.get().unwrap().name, "Jazz night");

    // The JSON jazz-tools would read.
    let raw = node.read(ticket.id()).unwrap().value;
    assert_eq!(raw["level"], json!("vip"));
    assert_eq!(raw["extra"], json!([1, 2]));
    assert_eq!(raw["account"], json!(me.id().as_str()));
}

#[test]
fn update_writes_only_what_changed_and_deletes_absent_optionals() {
    let (mut node, _) = node();
    let mut event = event(&mut node, 2);
    let written = node
        .batch(|node| Tx::new(node).update(&mut event, |e| e.note = Some("doors at 8".into())))
        .unwrap();
    assert_eq!(written, 1);
    assert_eq!(
        node.read(event.id()).unwrap().value["note"],
        json!("doors at 8")
    );
    let written = node
        .batch(|node| {
            Tx::new(node).update(&mut event, |e| {
                e.note = None;
                e.capacity = 3;
            })
        })
        .unwrap();
    assert_eq!(written, 2);
    let raw = node.read(event.id()).unwrap().value;
    assert!(raw.get("note").is_none());
    assert_eq!(raw["capacity"], json!(3));
    let reloaded: Loaded<Event> = read_loaded(&node, event.id(), &ResolveQuery::Value).unwrap();
    assert_eq!(reloaded.note, None);
    assert_eq!(reloaded.capacity, 3);
}

#[test]
fn values_that_do_not_fit_their_field_are_errors_naming_covalue_and_field() {
    let (mut node, _) = node();
    let event = event(&mut node, 2);
    let cases = [
        (json!(9_007_199_254_740_993_u64), "capacity"),
        (json!(3.5), "capacity"),
        (json!(-1), "capacity"),
        (json!(4_294_967_296_u64), "capacity"),
        (json!("12"), "capacity"),
        (json!(12), "name"),
        (json!("not-an-id"), "reservations"),
    ];
    for (value, field) in cases {
        node.batch(|node| node.map_set(event.id(), field, value.clone(), Privacy::Private))
            .unwrap();
        let error = read_loaded::<Event>(&node, event.id(), &ResolveQuery::Value).unwrap_err();
        match &error {
            SchemaError::WrongType {
                covalue,
                field: named,
                ..
            } => {
                assert_eq!(covalue, event.id(), "{value}");
                assert_eq!(named, field, "{value}");
            }
            other => panic!("{value} in {field}: {other:?}"),
        }
        assert!(error.to_string().contains(field), "{error}");
        // Put the good value back.
        let good = match field {
            "capacity" => json!(2),
            "name" => json!("Jazz night"),
            _ => json!(event.reservations.id().as_str()),
        };
        node.batch(|node| node.map_set(event.id(), field, good, Privacy::Private))
            .unwrap();
    }
    node.batch(|node| node.map_delete(event.id(), "name", Privacy::Private))
        .unwrap();
    let error = read_loaded::<Event>(&node, event.id(), &ResolveQuery::Value).unwrap_err();
    assert!(
        matches!(&error, SchemaError::Missing { field, .. } if field == "name"),
        "{error:?}"
    );
}

#[test]
fn a_reference_that_is_not_in_the_node_is_not_loaded() {
    let (mut node, _) = node();
    let event = event(&mut node, 2);
    let (other, _) =
        LocalNode::create_account(new_random_agent_secret().unwrap(), "Other").unwrap();
    // The other node has the event's id but not the event.
    let error = read_loaded::<Event>(&other, event.id(), &ResolveQuery::Value).unwrap_err();
    assert!(matches!(error, SchemaError::NotLoaded(_)), "{error:?}");
    // A list read as a map is the wrong kind.
    let error =
        read_loaded::<Event>(&node, event.reservations.id(), &ResolveQuery::Value).unwrap_err();
    assert!(matches!(error, SchemaError::WrongKind { .. }), "{error:?}");
}

#[test]
fn list_edits_write_through_the_node() {
    let (mut node, _) = node();
    let items = node
        .batch(|node| {
            let mut tx = Tx::new(node);
            let group = tx.create_group()?;
            let list = tx.create_list(&group, vec![1_u32, 2, 3])?;
            tx.push(&list, 4)?;
            tx.insert(&list, 0, 0)?;
            tx.insert(&list, 9, 5)?;
            tx.remove(&list, 2)?;
            Ok(list)
        })
        .unwrap();
    assert_eq!(
        items.items().unwrap(),
        &[1, 2, 3],
        "the snapshot made at creation"
    );
    assert_eq!(node.read(items.id()).unwrap().value, json!([0, 1, 3, 4, 5]));
}
