// `#[co(same_owner)]` on every reference field type it guards, and `serialize` on every
// reference parameter type it locks on.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Ticket {
    pub account: Account,
}

#[derive(CoMap, Debug)]
pub struct Event {
    pub name: String,
    #[co(same_owner)]
    pub reservations: CoList<Ref<Ticket>>,
    #[co(same_owner, rename = "mainTicket")]
    pub main_ticket: Ref<Ticket>,
    #[co(same_owner)]
    pub first: Loaded<Ticket>,
    #[co(same_owner)]
    pub last: Option<Ref<Ticket>>,
    #[co(same_owner)]
    pub waiting: Option<CoList<Ref<Ticket>>>,
}

#[derive(CoMap, Debug)]
pub struct Done {
    pub ok: bool,
}

#[jazz_request(url = "/api/by-ref", serialize = event)]
pub async fn by_ref(ctx: RequestContext, event: Ref<Event>) -> Result<Done, JazzRequestError> {
    Ok(Done { ok: true })
}

#[jazz_request(url = "/api/by-list", serialize = list)]
pub async fn by_list(ctx: RequestContext, list: CoList<Ref<Ticket>>) -> Result<Done, JazzRequestError> {
    Ok(Done { ok: true })
}

#[jazz_request(url = "/api/by-account", serialize = who)]
pub async fn by_account(ctx: RequestContext, who: Account) -> Result<Done, JazzRequestError> {
    Ok(Done { ok: true })
}

#[jazz_request(url = "/api/by-group", serialize = group)]
pub async fn by_group(ctx: RequestContext, group: Group) -> Result<Done, JazzRequestError> {
    Ok(Done { ok: true })
}

fn main() {
    assert_eq!(
        <Event as CoMapSchema>::FIELDS[2].json,
        "mainTicket"
    );
}
