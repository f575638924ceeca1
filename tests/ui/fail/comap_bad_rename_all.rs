// A rename_all rule that does not exist (the rules are case-sensitive).
use jazz_req::prelude::*;

#[derive(CoMap)]
#[co(rename_all = "camelcase")]
pub struct Event {
    pub event_name: String,
}

fn main() {}
