// The seed's example: the book-event-ticket schemas and route, registered on a worker and
// sent from a client; the generated route's consts and resolve queries are what jazz-tools'
// `experimental_defineRequest` would send.
use jazz_req::cojson::ResolveQuery;
use jazz_req::prelude::*;
use jazz_req::request::WorkerRef;
use serde_json::json;

#[derive(CoMap, Debug)]
pub struct Event {
    pub name: String,
    pub capacity: u32,
    #[co(same_owner)]
    pub reservations: CoList<Ref<Ticket>>,
}

#[derive(CoMap, Debug)]
pub struct Ticket {
    pub account: Account,
    pub event: Ref<Event>,
}

#[derive(CoMap, Debug)]
pub struct TicketBooked {
    pub ticket: Ref<Ticket>,
}

#[jazz_request(
    url = "/api/book-event-ticket",
    worker = env("JAZZ_WORKER_ACCOUNT"),
    resolve = { event: { reservations: true } },
    response_resolve = { ticket: { event: true } },
    serialize = event,
    writes = [event.reservations],
)]
pub async fn book_event_ticket(
    ctx: RequestContext,
    event: Loaded<Event>,
) -> Result<TicketBooked, JazzRequestError> {
    if event.reservations.len()? >= event.capacity as usize {
        return Err(JazzRequestError::new("Event is full", 400));
    }
    ctx.transaction(|tx| {
        let group = tx.create_group()?;
        let ticket = tx.create(
            &group,
            Ticket {
                account: ctx.made_by(),
                event: event.to_ref(),
            },
        )?;
        tx.add_member(&group, ctx.made_by(), Role::Reader)?;
        tx.push(&event.reservations, ticket.to_ref())?;
        Ok(TicketBooked {
            ticket: ticket.to_ref(),
        })
    })
}

// The server registers the route in one line…
fn _serve(worker: RequestWorker) -> RequestWorker {
    worker.register(BookEventTicket)
}

// …the client sends it through the typed stub…
async fn _book(
    client: &RequestClient,
    event: Loaded<Event>,
) -> Result<Loaded<TicketBooked>, SendError> {
    BookEventTicket::send(client, event).await
}

// …and the handler is still an ordinary function.
fn _handler_is_kept(ctx: RequestContext, event: Loaded<Event>) {
    let _future = book_event_ticket(ctx, event);
}

fn query(value: serde_json::Value) -> ResolveQuery {
    ResolveQuery::from_json(&value).unwrap()
}

fn main() {
    assert_eq!(BookEventTicket::URL, "/api/book-event-ticket");
    assert_eq!(BookEventTicket::WORKER, WorkerRef::Env("JAZZ_WORKER_ACCOUNT"));
    assert_eq!(BookEventTicket::SERIALIZE, Some("event"));
    assert_eq!(
        BookEventTicket::request_resolve(),
        query(json!({ "event": { "reservations": true } }))
    );
    assert_eq!(
        BookEventTicket::response_resolve(),
        query(json!({ "ticket": { "event": true } }))
    );
    let fields: Vec<_> = Ticket::FIELDS.iter().map(|f| (f.rust, f.json)).collect();
    assert_eq!(fields, [("account", "account"), ("event", "event")]);
    assert_eq!(Event::NAME, "Event");
}
