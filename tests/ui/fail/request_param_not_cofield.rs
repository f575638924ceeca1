// A request parameter whose type cannot live in a CoMap field.
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

#[jazz_request(url = "/api/book")]
pub async fn book(ctx: RequestContext, seat: char) -> Result<TicketBooked, JazzRequestError> {
    todo!()
}

fn main() {}
