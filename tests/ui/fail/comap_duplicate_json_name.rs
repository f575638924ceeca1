// Two fields map to one CoMap key.
use jazz_req::prelude::*;

#[derive(CoMap)]
#[co(rename_all = "camelCase")]
pub struct Event {
    pub event_name: String,
    #[co(rename = "eventName")]
    pub title: String,
}

fn main() {}
