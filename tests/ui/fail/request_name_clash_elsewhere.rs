// A handler `vote` next to a schema `Vote` it does not name: the route type `Vote` is
// defined twice, reported at the handler's name.
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
pub async fn vote(ctx: RequestContext, poll: Loaded<Poll>, choice: u32) -> Result<VoteCast, JazzRequestError> {
    todo!()
}

fn main() {}
