// JSON fields (z.json / z.object), lists of plain values and of references with `$each`,
// accounts and groups, and a return type written as an alias of the handler `Result`.
use std::collections::BTreeMap;

use jazz_req::cojson::ResolveQuery;
use jazz_req::prelude::*;
use serde_json::json;

#[derive(CoMap, Debug)]
pub struct Venue {
    pub name: String,
    pub owner: Account,
    pub staff: Group,
}

#[derive(CoMap, Debug)]
pub struct Festival {
    pub settings: Json<BTreeMap<String, u32>>,
    pub extra: serde_json::Value,
    pub tags: CoList<String>,
    pub venues: CoList<Ref<Venue>>,
    pub main_venue: Option<Ref<Venue>>,
}

pub type HandlerResult<T> = Result<T, JazzRequestError>;

#[jazz_request(
    url = "/api/festival",
    resolve = { festival: { venues: { $each: { owner: true, staff: true } }, main_venue: true, tags: true } },
    response_resolve = { venues: { $each: true } },
)]
async fn open_festival(_ctx: RequestContext, festival: Loaded<Festival>) -> HandlerResult<Festival> {
    Ok(festival.into_inner())
}

fn main() {
    assert_eq!(
        OpenFestival::request_resolve(),
        ResolveQuery::from_json(&json!({
            "festival": {
                "venues": { "$each": { "owner": true, "staff": true } },
                "main_venue": true,
                "tags": true,
            }
        }))
        .unwrap()
    );
    assert_eq!(
        OpenFestival::response_resolve(),
        ResolveQuery::from_json(&json!({ "venues": { "$each": true } })).unwrap()
    );
}
