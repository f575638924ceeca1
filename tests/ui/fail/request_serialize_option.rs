// `serialize` names an optional reference: an absent one would leave the handler unlocked.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Event {
    pub name: String,
}

#[derive(CoMap, Debug)]
pub struct Done {
    pub ok: bool,
}

#[jazz_request(url = "/api/touch", serialize = event)]
pub async fn touch(ctx: RequestContext, event: Option<Ref<Event>>) -> Result<Done, JazzRequestError> {
    Ok(Done { ok: event.is_some() })
}

fn main() {}
