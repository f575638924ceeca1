// `same_owner` is a flag: it takes no value.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Ticket {
    pub account: Account,
}

#[derive(CoMap, Debug)]
pub struct Event {
    #[co(same_owner = true)]
    pub reservations: CoList<Ref<Ticket>>,
}

fn main() {}
