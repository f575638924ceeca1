// The poll app of issue 17: a handler `vote` next to a schema `Vote`, its route named with
// `name = "…"`; the request sent by name (`send_request` with the public request struct) and
// positionally; `$each` in the attribute and `.each` in the builder.
use jazz_req::cojson::ResolveQuery;
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

#[jazz_request(
    url = "/api/vote",
    name = "CastVote",
    resolve = { poll: { votes: { $each: true } } },
    serialize = poll,
)]
pub async fn vote(
    _ctx: RequestContext,
    poll: Loaded<Poll>,
    choice: u32,
    weight: u32,
) -> Result<VoteCast, JazzRequestError> {
    let _ = (poll, choice, weight);
    Err(JazzRequestError::new("closed", 409))
}

async fn _send(client: &RequestClient, poll: Loaded<Poll>, other: Loaded<Poll>) {
    let _ = CastVote::send_request(
        client,
        CastVoteRequest {
            poll,
            choice: 2,
            weight: 1,
        },
    )
    .await;
    let _ = CastVote::send(client, other, 2, 1).await;
}

fn main() {
    // The request schema is named after the route in what a client reads of a 400.
    assert_eq!(<CastVoteRequest as CoMapSchema>::NAME, "request to /api/vote");
    let each_vote = Poll::resolve().votes(|r| r.each(|r| r)).into_query();
    let expected = ResolveQuery::Fields(vec![("poll".to_owned(), each_vote)]);
    assert_eq!(CastVote::request_resolve(), expected);
    let _: PollResolve = Poll::resolve();
}

// A route declared in a function body, and one in a module with a restricted visibility:
// the route type lives in a module of its own, found from either place.
#[allow(dead_code)]
fn local_route() -> &'static str {
    #[jazz_request(url = "/api/local")]
    async fn local(_ctx: RequestContext, choice: u32) -> Result<VoteCast, JazzRequestError> {
        let _ = choice;
        Err(JazzRequestError::new("no", 400))
    }
    let _ = LocalRequest { choice: 1 };
    Local::URL
}

mod inner {
    use super::VoteCast;
    use jazz_req::prelude::*;

    #[jazz_request(url = "/api/inner")]
    pub(super) async fn inner_route(
        _ctx: RequestContext,
        choice: u32,
    ) -> Result<VoteCast, JazzRequestError> {
        let _ = choice;
        Err(JazzRequestError::new("no", 400))
    }
}

#[allow(dead_code)]
fn inner_url() -> &'static str {
    let _ = inner::InnerRouteRequest { choice: 1 };
    inner::InnerRoute::URL
}
