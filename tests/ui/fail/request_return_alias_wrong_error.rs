// A `…Result` alias whose error type is not JazzRequestError (std::io::Result): the type
// checker reports it at the return type.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Pong {
    pub text: String,
}

#[jazz_request(url = "/api/ping")]
pub async fn ping(ctx: RequestContext) -> std::io::Result<Pong> {
    todo!()
}

fn main() {}
