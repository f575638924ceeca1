// `serialize` names a parameter holding a plain value: it names no CoValue to lock on.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Picked {
    pub choice: u32,
}

#[jazz_request(url = "/api/pick", serialize = choice)]
pub async fn pick(ctx: RequestContext, choice: u32) -> Result<Picked, JazzRequestError> {
    Ok(Picked { choice })
}

// The handler is still there: calling it causes no further error.
fn _caller(ctx: RequestContext) {
    let _ = pick(ctx, 3);
}

fn main() {}
