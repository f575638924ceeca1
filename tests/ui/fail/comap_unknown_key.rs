// An unknown key in a field's #[co(...)]: the error lists the allowed key.
use jazz_req::prelude::*;

#[derive(CoMap)]
pub struct Event {
    #[co(renamed = "eventName")]
    pub event_name: String,
}

fn main() {}
