// A string enum (z.enum) as a CoMap field and as a request parameter.
use jazz_req::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, CoEnum)]
#[co(rename_all = "kebab-case")]
pub enum Status {
    Open,
    SoldOut,
    #[co(rename = "CANCELLED")]
    Cancelled,
}

#[derive(CoMap, Debug)]
pub struct Show {
    pub status: Status,
    pub previous: Option<Status>,
}

#[jazz_request(url = "/api/set-status")]
async fn set_status(_ctx: RequestContext, status: Status) -> Result<Show, JazzRequestError> {
    Ok(Show {
        status,
        previous: None,
    })
}

fn main() {
    let strings: Vec<_> = Status::VARIANTS.iter().map(|(s, v)| (*s, *v)).collect();
    assert_eq!(
        strings,
        [
            ("open", Status::Open),
            ("sold-out", Status::SoldOut),
            ("CANCELLED", Status::Cancelled)
        ]
    );
    assert_eq!(Status::SoldOut.as_str(), "sold-out");
    assert_eq!(
        <Status as CoField>::write_field(&Status::Cancelled),
        Some(serde_json::Value::from("CANCELLED"))
    );
    assert_eq!(Status::NAME, "Status");
}
