// A field type that cannot live in a CoMap: one error, at the type, with CoField's note.
#![allow(unused_variables)]
use std::collections::HashMap;

use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Event {
    pub name: String,
    pub seats: HashMap<String, u32>,
}

// Using the schema causes no further error.
fn _uses(event: Loaded<Event>) -> usize {
    event.seats.len()
}

fn main() {}
