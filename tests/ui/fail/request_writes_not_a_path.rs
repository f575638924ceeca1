// `writes` takes paths of fields, not calls (nor strings).
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


#[jazz_request(url = "/api/book", resolve = { event: { reservations: true } }, writes = [event.reservations()])]
pub async fn book(ctx: RequestContext, event: Loaded<Event>) -> Result<TicketBooked, JazzRequestError> {
    todo!()
}

fn main() {}
