//! The echo route of the interop worker (issue 8): it sends back what it gets and who sent
//! it, and fails on request — the smallest route that still goes through every step of a
//! request (signed envelope, import, replay claim, handler, signed response, durable store).
//!
//! The same as this jazz-tools definition:
//!
//! ```ts
//! experimental_defineRequest({
//!   url: "/api/echo",
//!   request: { schema: { text: z.string(), n: z.number(), flag: z.boolean(),
//!                        note: z.string().optional() } },
//!   response: { schema: { text: z.string(), n: z.number(), flag: z.boolean(),
//!                         note: z.string().optional(), madeBy: z.string() } },
//! })
//! ```

use jazz_req::prelude::*;
use serde_json::json;

/// The text that makes [`echo`] fail with 422 "Asked to fail".
pub const PLEASE_FAIL: &str = "please fail";

/// What `POST /api/echo` answers: the request's four fields and the sender's account id.
#[derive(CoMap, Debug, Clone, PartialEq)]
pub struct Echoed {
    /// The request's `text`.
    pub text: String,
    /// The request's `n`, bit for bit (`-0` stays `-0` in memory; on the wire it is `0`,
    /// as `JSON.stringify` writes it).
    pub n: f64,
    /// The request's `flag`.
    pub flag: bool,
    /// The request's `note`, absent when the request had none.
    pub note: Option<String>,
    /// The sender's account id (`co_z…`).
    #[co(rename = "madeBy")]
    pub made_by: String,
}

/// `POST /api/echo`: answers the four fields and `madeBy`; `text == "please fail"` is a 422
/// "Asked to fail" with details `{"reason": "test"}`.
#[jazz_request(url = "/api/echo")]
pub async fn echo(
    ctx: RequestContext,
    text: String,
    n: f64,
    flag: bool,
    note: Option<String>,
) -> Result<Echoed, JazzRequestError> {
    if text == PLEASE_FAIL {
        return Err(
            JazzRequestError::new("Asked to fail", 422).with_details(json!({"reason": "test"}))
        );
    }
    Ok(Echoed {
        text,
        n,
        flag,
        note,
        made_by: ctx.made_by().id().as_str().to_owned(),
    })
}
