// `rename` given twice on one field (across two #[co] attributes).
use jazz_req::prelude::*;

#[derive(CoMap)]
pub struct Event {
    #[co(rename = "title")]
    #[co(rename = "name")]
    pub event_name: String,
}

fn main() {}
