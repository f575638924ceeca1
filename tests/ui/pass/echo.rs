// A route of plain values: String, f64, bool and an optional String; its worker is a fixed
// account id, and it resolves nothing (`true`).
use jazz_req::cojson::ResolveQuery;
use jazz_req::prelude::*;
use jazz_req::request::WorkerRef;

#[derive(CoMap, Debug, PartialEq)]
pub struct Echoed {
    pub text: String,
    pub number: f64,
    pub flag: bool,
    pub note: Option<String>,
}

#[jazz_request(url = "https://worker.example/api/echo", worker = "co_zWorkerAccount")]
async fn echo(
    _ctx: RequestContext,
    text: String,
    number: f64,
    flag: bool,
    note: Option<String>,
) -> Result<Echoed, JazzRequestError> {
    Ok(Echoed {
        text,
        number,
        flag,
        note,
    })
}

/// An alias of the handler result without type arguments.
type PingResult = Result<Echoed, JazzRequestError>;

// A route with no request parameters at all.
#[jazz_request(url = "/api/ping")]
async fn ping(_ctx: RequestContext) -> PingResult {
    Err(JazzRequestError::new("not here", 404))
}

async fn _send(client: &RequestClient) -> Result<Loaded<Echoed>, SendError> {
    Echo::send(client, "hi".to_owned(), 1.5, true, None).await?;
    Ping::send(client).await
}

fn main() {
    assert_eq!(Echo::WORKER, WorkerRef::Id("co_zWorkerAccount"));
    assert_eq!(Echo::SERIALIZE, None);
    assert_eq!(Echo::request_resolve(), ResolveQuery::Value);
    assert_eq!(Echo::response_resolve(), ResolveQuery::Value);
    assert_eq!(Ping::WORKER, WorkerRef::Client);
    assert_eq!(Ping::URL, "/api/ping");
}
