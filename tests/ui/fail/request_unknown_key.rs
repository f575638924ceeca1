// An attribute key that does not exist: the error lists the allowed keys.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Event {
    pub name: String,
    pub capacity: u32,
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

#[jazz_request(url = "/api/book", method = "POST")]
pub async fn book(ctx: RequestContext, event: Loaded<Event>) -> Result<TicketBooked, JazzRequestError> {
    todo!()
}

// The handler is still there: calling it causes no further error.
fn _caller(ctx: RequestContext, event: Loaded<Event>) {
    let _ = book(ctx, event);
}
fn main() {}
