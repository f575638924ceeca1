// The request context written after a request parameter: one error, at the context.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Poll {
    pub question: String,
    pub choices: Json<Vec<String>>,
    pub votes: CoList<Ref<Vote>>,
}

#[derive(CoMap, Debug)]
pub struct Vote {
    pub voter: Account,
    pub choice: u32,
}

#[derive(CoMap, Debug)]
pub struct VoteCast {
    pub vote: Ref<Vote>,
    pub tally: Json<Vec<u32>>,
}

#[jazz_request(url = "/api/vote")]
pub async fn cast_vote(poll: Loaded<Poll>, ctx: RequestContext, choice: u32) -> Result<VoteCast, JazzRequestError> {
    todo!()
}

fn main() {}
