//! Procedural macros of jazz-req: `#[derive(CoMap)]`, `#[derive(CoEnum)]` and
//! `#[jazz_request]`. Use them through the facade (`use jazz_req::prelude::*`): the code they
//! generate names the runtime only as `::jazz_req::__private::…`.
//!
//! Each macro is parse → model → render: `attr.rs` and `resolve.rs` read the attribute
//! grammar, the `*_model.rs` files validate and hold the facts, `comap_render.rs`,
//! `render_server.rs` and `render_client.rs` emit code, `paths.rs` is the one place that
//! names the runtime, and `expand.rs` turns errors into `compile_error!`s in one place.

mod attr;
mod coenum;
mod comap_model;
mod comap_render;
mod ctxt;
mod expand;
mod paths;
mod rename;
mod render_client;
mod render_server;
mod request_model;
mod resolve;
mod writes;

use proc_macro::TokenStream;

/// A Jazz CoMap schema (jazz-tools' `co.map({...})`) from a struct with named fields.
///
/// Each field is a key of the CoMap. A field's type can be `String`, `bool`, an integer,
/// `f64`/`f32`, `Option<T>` (the key may be absent, as zod's `.optional()`),
/// `serde_json::Value` or `Json<T>` (any serde type, as `z.json()`/`z.object()`), a
/// `#[derive(CoEnum)]` enum (`z.enum`), or a reference: `Ref<T>` / `Loaded<T>` (`T` another
/// `CoMap`), `CoList<T>` (`co.list`), `Account`, `Group`. Any other type is a compile error
/// at that field's type.
///
/// # Attributes
///
/// - `#[co(rename_all = "camelCase")]` on the struct: how field names become keys, one of
///   `lowercase`, `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case`,
///   `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`;
/// - `#[co(rename = "jsName")]` on a field: its key, exactly;
/// - `#[co(same_owner)]` on a reference field (`Ref<T>`, `Loaded<T>`, `CoList<T>`, or an
///   `Option` of one): the CoValue it points at must be owned by the group (or account)
///   that owns this CoMap, or by a group extending it (where jazz-tools puts a value
///   created inline). Reading a map that breaks it is a
///   `SchemaError::ForeignReference`, which a route answers with 403 before the request is
///   claimed. Use it where a handler checks this map and writes through the reference: a
///   map someone makes in their own group cannot then borrow another group's list. It is
///   checked whenever the map is read with a node holding the referenced CoValue (for a
///   route: what its `resolve` loads); on any other field type it is a compile error at the
///   type.
///
/// By default the key is the Rust field name (`r#type` is the key `type`).
///
/// # What is generated
///
/// - `impl CoMapSchema for T`: the schema's name, its fields with their keys, and reading
///   and writing the struct from and to the CoMap's fields;
/// - `TResolve` (`EventResolve` for `Event`), its typed resolve builder, with one method per
///   field: what to load with a `T` beyond the CoMap itself. `T::resolve()` starts one.
///   It is what `resolve = { … }` of `#[jazz_request]` compiles to, so naming a field that
///   does not exist, loading inside one that is not a reference, or `$each` on a field that
///   is not a `CoList` does not compile.
///
/// # Resolve queries: the builder and the attribute grammar
///
/// Each key of a resolve query is one builder method, whose closure says what to load inside
/// that field (`|r| r`: the field itself and nothing more):
///
/// | `resolve = { … }` in `#[jazz_request]` | the builder                                        |
/// |-----------------------------------------|----------------------------------------------------|
/// | `{ reservations: true }`                | `Event::resolve().reservations(\|r\| r)`           |
/// | `{ reservations: { $each: true } }`     | `Event::resolve().reservations(\|r\| r.each(\|r\| r))` |
/// | `{ reservations: { $each: { event: true } } }` | `….reservations(\|r\| r.each(\|t\| t.event(\|e\| e)))` |
///
/// A load takes the builder (`ctx.load::<Event>(id, Event::resolve().reservations(|r| r))`,
/// the same on `RequestClient` and `RequestWorker`); `.into_query()` gives the untyped
/// `ResolveQuery` (what `export_json` takes).
///
/// The struct must be `Send + Sync + 'static` (all field types are). Generic structs, tuple
/// structs, enums and unions are rejected with a spanned error; so is a `Vec`, a map or a
/// set as a field, with what to write instead (`CoList<T>`, `Json<…>`).
///
/// # Example
///
/// ```
/// use jazz_req::cojson::ResolveQuery;
/// use jazz_req::prelude::*;
///
/// #[derive(Debug, CoMap)]
/// pub struct Event {
///     pub name: String,
///     pub capacity: u32,
///     pub reservations: CoList<Ref<Ticket>>,
/// }
///
/// #[derive(Debug, CoMap)]
/// #[co(rename_all = "camelCase")]
/// pub struct Ticket {
///     pub account: Account,
///     pub event: Ref<Event>,
///     pub booked_at: Option<f64>, // the key "bookedAt", absent when None
/// }
///
/// assert_eq!(Ticket::NAME, "Ticket");
/// assert_eq!(Ticket::FIELDS[2].json, "bookedAt");
///
/// // `{ reservations: { $each: { event: true } } }`: the list, every ticket in it, and the
/// // event of each ticket.
/// let query = Event::resolve()
///     .reservations(|r| r.each(|ticket| ticket.event(|e| e)))
///     .into_query();
/// let event = ResolveQuery::Fields(vec![("event".to_owned(), ResolveQuery::Value)]);
/// assert_eq!(
///     query,
///     ResolveQuery::Fields(vec![(
///         "reservations".to_owned(),
///         ResolveQuery::Fields(vec![("$each".to_owned(), event)]),
///     )])
/// );
/// ```
#[proc_macro_derive(CoMap, attributes(co))]
pub fn derive_comap(input: TokenStream) -> TokenStream {
    expand::derive_comap(input.into()).into()
}

/// A string enum field (jazz-tools' `z.enum([...])`) from an enum of unit variants.
///
/// Each variant is one string: by default its name, else as `#[co(rename_all = "…")]` on
/// the enum (the rules of [`CoMap`](derive@CoMap)) or `#[co(rename = "…")]` on the variant
/// say. The enum must be `Copy` (derive `Clone, Copy`).
///
/// Generates `impl CoEnum` (the variants with their strings) and `impl CoField`, so the enum
/// can be a field of a [`CoMap`](derive@CoMap) or a request parameter. Reading a string no
/// variant has is a typed error naming the CoValue and the field.
///
/// ```
/// use jazz_req::prelude::*;
///
/// #[derive(Clone, Copy, Debug, PartialEq, CoEnum)]
/// #[co(rename_all = "kebab-case")]
/// pub enum Status {
///     Open,    // "open"
///     SoldOut, // "sold-out"
/// }
///
/// #[derive(Debug, CoMap)]
/// pub struct Event {
///     pub name: String,
///     pub status: Status,
/// }
///
/// assert_eq!(Status::SoldOut.as_str(), "sold-out");
/// ```
#[proc_macro_derive(CoEnum, attributes(co))]
pub fn derive_coenum(input: TokenStream) -> TokenStream {
    expand::derive_coenum(input.into()).into()
}

/// A request route served by a Jazz server worker (jazz-tools'
/// `experimental_defineRequest`), from its handler.
///
/// ```
/// use jazz_req::prelude::*;
/// # #[derive(Debug, CoMap)]
/// # pub struct Event {
/// #     pub name: String,
/// #     pub capacity: u32,
/// #     #[co(same_owner)]
/// #     pub reservations: CoList<Ref<Ticket>>,
/// # }
/// # #[derive(Debug, CoMap)]
/// # pub struct Ticket {
/// #     pub account: Account,
/// #     pub event: Ref<Event>,
/// # }
/// # #[derive(Debug, CoMap)]
/// # pub struct TicketBooked {
/// #     pub ticket: Ref<Ticket>,
/// # }
///
/// #[jazz_request(
///     url = "/api/book-event-ticket",          // required: a path or an absolute URL
///     worker = env("JAZZ_WORKER_ACCOUNT"),     // or "co_z…"; absent: the client's default
///     resolve = { event: { reservations: true } },
///     response_resolve = { ticket: true },
///     serialize = event,                       // one handler at a time per event
///     writes = [event.reservations],           // where the handler writes
/// )]
/// pub async fn book_event_ticket(
///     ctx: RequestContext,
///     event: Loaded<Event>,
/// ) -> Result<TicketBooked, JazzRequestError> {
///     if event.reservations.len()? >= event.capacity as usize {
///         return Err(JazzRequestError::new("Event is full", 400));
///     }
///     ctx.transaction(|tx| {
///         let group = tx.create_group()?;
///         tx.add_member(&group, ctx.made_by(), Role::Reader)?;
///         let ticket = tx.create(&group, Ticket { account: ctx.made_by(), event: event.to_ref() })?;
///         tx.push(&event.reservations, ticket.to_ref())?;
///         Ok(TicketBooked { ticket: ticket.to_ref() })
///     })
/// }
///
/// // The generated route type (served with `worker.register(BookEventTicket)`), its
/// // request, and the client stubs, positional or with the fields named:
/// async fn book(client: &RequestClient, event: Loaded<Event>) -> Result<(), SendError> {
///     let booked = BookEventTicket::send_request(client, BookEventTicketRequest { event }).await?;
///     println!("ticket {}", booked.ticket.id());
///     Ok(())
/// }
/// assert_eq!(BookEventTicket::URL, "/api/book-event-ticket");
/// ```
///
/// # The handler
///
/// An `async fn`, not generic, whose first parameter is the request context
/// (`ctx: RequestContext`: who sent the request, the worker's node). Every parameter after
/// it is a field of the request — each of a type a [`CoMap`](derive@CoMap) field can have,
/// the key being the parameter's name or `#[co(rename = "…")]` on the parameter: a
/// CoValue by reference (`Loaded<T>`, loaded before the handler runs, or `Ref<T>`), a plain
/// value (`choice: u32`, `note: Option<String>`), or JSON (`Json<T>`). It returns
/// `Result<Response, JazzRequestError>` (or an alias of it), `Response` a
/// [`CoMap`](derive@CoMap) struct. The handler is kept as written: it can still be called
/// directly, e.g. in tests.
///
/// # Keys
///
/// - `url` (required): where the worker serves the route.
/// - `name = "CastVote"`: the route type's name, instead of the handler's in PascalCase
///   (its request is then `CastVoteRequest`).
/// - `worker`: `env("VAR")` (the worker's account id, read from `VAR` at run time) or an
///   account id `"co_z…"`; without it the client's default worker is used.
/// - `resolve`: what the handler gets loaded, as in jazz-tools: `{ param: true }`,
///   `{ param: { field: { … } } }`, `$each` for every item of a `CoList` field. The
///   top-level keys are parameters; deeper keys are checked at compile time against the
///   schemas (a missing field, a field that is not a reference, or `$each` on one that is
///   not a list is an error at the key) — they are the schemas' typed resolve builders (see
///   [`CoMap`](derive@CoMap) for the two side by side). `Loaded<T>` parameters are loaded
///   even when `resolve` does not name them.
/// - `response_resolve`: what the client gets loaded of the response, same grammar.
/// - `serialize = param`: handlers of this route run one at a time per CoValue `param`
///   refers to, so a check-then-write (is the event full?) cannot oversell. `param` must
///   hold a CoValue reference (`Loaded<T>`, `Ref<T>`, `CoList<T>`, `Account`, `Group`),
///   else it is a compile error at its type: a plain value names no CoValue to lock on, and
///   an `Option` could be absent and leave the handler unlocked. The lock covers the
///   CoValue the parameter names, not what its fields point at: when the handler writes
///   through a reference of it (`event.reservations`), mark that field
///   `#[co(same_owner)]`, so that only a writer of the event's group can make an event
///   sharing that list.
/// - `writes = [param.field, …]` (or one path): the CoValues the handler writes to, each a
///   path from a request parameter, loaded by `resolve` (else a compile error at the first
///   segment it does not load; every step is checked against the schemas like a resolve
///   key). Before a request is claimed the worker checks it may write to each: a request
///   naming a CoValue where the worker is no writer is a 403 "The worker cannot write to
///   co_z…", its id left unused and the handler not run. With `serialize`, each of them is
///   held too, so two requests that lead to one written list run one at a time whatever
///   they name at the top.
///
/// # What is generated
///
/// Next to the unchanged handler, for `book_event_ticket`:
///
/// - `pub struct BookEventTicket;` (the handler's name in PascalCase, or `name`; the
///   handler's visibility), which implements the runtime's `Route` trait: URL, worker,
///   request and response schemas, both resolve queries, and `handle`, which calls the
///   handler. Register it on a worker with `worker.register(BookEventTicket)`;
/// - `pub struct BookEventTicketRequest { pub event: Loaded<Event> }`: the request, one
///   public field per parameter (a [`CoMap`](derive@CoMap) schema; a request that does not
///   fit it is answered 400, naming the route's URL and the field);
/// - the typed client stubs, which sign, POST, verify the answer and return
///   `Loaded<TicketBooked>`, or a `SendError` whose request variant carries the handler's
///   `JazzRequestError`: `BookEventTicket::send(&client, event)` takes the parameters in
///   order, `BookEventTicket::send_request(&client, BookEventTicketRequest { event })` by
///   name — two parameters of one type cannot be swapped unnoticed there.
///
/// The route type is a new item named after the handler: a handler `vote` next to a schema
/// `Vote` would clash, and is one compile error at the handler's name. Name the handler
/// after what it does (`cast_vote` makes `CastVote`), or the route (`name = "CastVote"`).
///
/// # Errors
///
/// Mistakes are compile errors at the token that is wrong, one each, saying what to write
/// instead: an unknown key (listing the allowed ones), a repeated key, a missing `url`, a
/// resolve key that is no parameter or no field, a resolve that loads inside a plain value,
/// a `serialize` naming no parameter or one that holds no CoValue reference, a handler that
/// is not `async`, a missing, mistyped or misplaced context, a parameter type that cannot be
/// a CoMap field (a CoMap by value: `Loaded<T>`; a `Vec`: `CoList<T>` or `Json<Vec<T>>`; a
/// map: `Json<…>`), a return type that is not `Result<CoMap, JazzRequestError>`, a route
/// name that is taken. The handler itself is still emitted, so its callers do not fail too.
///
/// Set `JAZZ_REQ_MACROS_DEBUG=1` (or `=jazz_request`) while building to print expansions.
#[proc_macro_attribute]
pub fn jazz_request(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::jazz_request(args.into(), item.into()).into()
}
