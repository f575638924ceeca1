// `#[co(same_owner)]` on fields that are no reference to a CoMap or a CoList: one error per
// field, at its type.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Event {
    #[co(same_owner)]
    pub name: String,
    #[co(same_owner)]
    pub organiser: Account,
    #[co(same_owner)]
    pub staff: Option<Group>,
    #[co(same_owner)]
    pub seats: Json<Vec<u32>>,
}

// Using the schema causes no further error.
fn _uses(event: Loaded<Event>) -> usize {
    event.name.len()
}

fn main() {}
