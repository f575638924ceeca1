//! The seed's example, `book-event-ticket`, on the macros: an event with a capacity and a
//! list of reservations; booking checks the capacity and, if a seat is left, creates a
//! ticket the buyer can read and appends it to the reservations.
//!
//! The route is serialised on its event (`serialize = event`): requests for the same event
//! run one at a time, so the capacity read before the handler is still true when the ticket
//! is written — concurrent buyers can never oversell.
//!
//! The lock covers the event the request names, and the handler writes to that event's
//! `reservations`: the two must belong together. `#[co(same_owner)]` on `reservations` makes
//! the worker refuse (403, before the request is claimed) an event whose list is owned by
//! another group — a buyer's own event with a large capacity pointing at the real event's
//! list would otherwise pass the capacity check and oversell the real one.
//!
//! `writes = [event.reservations]` says where the handler writes: before a request is
//! claimed the worker checks it may write to that list (403 "The worker cannot write to
//! co_z…" otherwise — an event in a buyer's own group, say — with the request id left
//! unused and the handler not run), and `serialize` holds the list too, not only the event.

use jazz_req::prelude::*;

/// An event (`co.map({ name: z.string(), capacity: z.number(), reservations: co.list(Ticket) })`).
#[derive(CoMap, Debug)]
pub struct Event {
    /// What the event is called.
    pub name: String,
    /// How many tickets it sells.
    pub capacity: u32,
    /// The tickets sold so far, owned by the event's own group.
    ///
    /// `same_owner`: anyone can make an `Event` in a group of their own, and point it at
    /// any list. Without the check, a buyer's event with `capacity: 1000` sharing the real
    /// event's list would pass the capacity check under a lock on the *forged* event and
    /// push onto the *real* list. With it, only a writer of the real event's group can make
    /// an event sharing that list, so `serialize = event` locks the event whose list the
    /// handler writes. ([`create_event`] makes the list in the event's group.)
    #[co(same_owner)]
    pub reservations: CoList<Ref<Ticket>>,
}

/// A ticket (`co.map({ account: co.account(), event: Event })`).
#[derive(CoMap, Debug)]
pub struct Ticket {
    /// Who bought it.
    pub account: Account,
    /// For which event.
    pub event: Ref<Event>,
}

/// The response of `book-event-ticket`.
#[derive(CoMap, Debug)]
pub struct TicketBooked {
    /// The ticket, readable by its buyer.
    pub ticket: Ref<Ticket>,
}

/// Books a ticket for `event`: 400 "Event is full" once every seat is taken.
#[jazz_request(
    url = "/api/book-event-ticket",
    resolve = { event: { reservations: true } },
    response_resolve = { ticket: true },
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

/// Creates an event everyone can read, its reservations in the same group, as the
/// node's account; returns it loaded (`{ reservations: true }`).
pub fn create_event(
    tx: &mut Tx<'_>,
    name: &str,
    capacity: u32,
) -> Result<Loaded<Event>, NodeError> {
    let group = tx.create_group()?;
    tx.add_member(&group, Member::Everyone, Role::Reader)?;
    let reservations = tx.create_list(&group, Vec::new())?;
    tx.create(
        &group,
        Event {
            name: name.to_owned(),
            capacity,
            reservations,
        },
    )
}
