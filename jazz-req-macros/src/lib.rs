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
/// - a typed resolve builder (`T::resolve()`, hidden from the docs) with one method per
///   field, which is what `resolve = { … }` in `#[jazz_request]` compiles to: naming a field
///   that does not exist, or loading inside one that is not a reference, does not compile.
///
/// The struct must be `Send + Sync + 'static` (all field types are). Generic structs, tuple
/// structs, enums and unions are rejected with a spanned error.
///
/// # Example
///
/// ```ignore
/// use jazz_req::prelude::*;
///
/// #[derive(Clone, Debug, CoMap)]
/// pub struct Event {
///     pub name: String,
///     pub capacity: u32,
///     pub reservations: CoList<Ticket>,
/// }
///
/// #[derive(Clone, Debug, CoMap)]
/// #[co(rename_all = "camelCase")]
/// pub struct Ticket {
///     pub account: Account,
///     pub event: Ref<Event>,
///     pub booked_at: Option<f64>, // the key "bookedAt", absent when None
/// }
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
/// ```ignore
/// use jazz_req::prelude::*;
///
/// #[derive(Clone, Copy, Debug, PartialEq, CoEnum)]
/// #[co(rename_all = "kebab-case")]
/// pub enum Status {
///     Open,    // "open"
///     SoldOut, // "sold-out"
/// }
/// ```
#[proc_macro_derive(CoEnum, attributes(co))]
pub fn derive_coenum(input: TokenStream) -> TokenStream {
    expand::derive_coenum(input.into()).into()
}

/// A request route served by a Jazz server worker (jazz-tools'
/// `experimental_defineRequest`), from its handler.
///
/// ```ignore
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
///     // …
/// }
/// ```
///
/// # The handler
///
/// An `async fn`, not generic, whose first parameter is the request context
/// (`ctx: RequestContext`: who sent the request, the worker's node). The parameters after it
/// are the request's fields — each of a type a [`CoMap`](derive@CoMap) field can have, the
/// key being the parameter's name or `#[co(rename = "…")]` on the parameter. It returns
/// `Result<Response, JazzRequestError>` (or an alias of it), `Response` a
/// [`CoMap`](derive@CoMap) struct. The handler is kept as written: it can still be called
/// directly, e.g. in tests.
///
/// # Keys
///
/// - `url` (required): where the worker serves the route.
/// - `worker`: `env("VAR")` (the worker's account id, read from `VAR` at run time) or an
///   account id `"co_z…"`; without it the client's default worker is used.
/// - `resolve`: what the handler gets loaded, as in jazz-tools: `{ param: true }`,
///   `{ param: { field: { … } } }`, `$each` for every item of a list. The top-level keys are
///   parameters; deeper keys are checked at compile time against the schemas (a missing
///   field, or a field that is not a reference, is an error at the key). `Loaded<T>`
///   parameters are loaded even when `resolve` does not name them.
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
/// - `pub struct BookEventTicket;` (the handler's name in PascalCase, its visibility), which
///   implements the runtime's `Route` trait: URL, worker, request and response schemas, both
///   resolve queries, and `handle`, which calls the handler. Register it on a worker with
///   `worker.register(BookEventTicket)`;
/// - `BookEventTicket::send(&client, event).await`: the typed client stub. It signs, POSTs,
///   verifies the answer and returns `Loaded<TicketBooked>`, or a `SendError` whose request
///   variant carries the handler's `JazzRequestError`;
/// - a hidden request schema with one field per parameter.
///
/// The route type takes the handler's name in PascalCase, so a handler `festival` next to a
/// schema `Festival` is a name clash: name the handler after what it does
/// (`open_festival` gives `OpenFestival`).
///
/// # Errors
///
/// Mistakes are compile errors at the token that is wrong: an unknown key (listing the
/// allowed ones), a repeated key, a missing `url`, a resolve key that is no parameter or no
/// field, a resolve that loads inside a plain value, a `serialize` naming no parameter or
/// one that holds no CoValue reference, a handler that is not `async`, a missing or
/// mistyped context, a parameter type that cannot be a CoMap field, a return type that is
/// not `Result<CoMap, JazzRequestError>`. The handler itself is still emitted, so its
/// callers do not fail too.
///
/// Set `JAZZ_REQ_MACROS_DEBUG=1` (or `=jazz_request`) while building to print expansions.
#[proc_macro_attribute]
pub fn jazz_request(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::jazz_request(args.into(), item.into()).into()
}
