// Generated items are documented (or hidden): a crate denying missing docs and all warnings
// compiles.
#![deny(missing_docs, warnings)]
//! A documented crate.

use jazz_req::prelude::*;

/// A greeting.
#[derive(CoMap, Debug)]
pub struct Greeting {
    /// Its text.
    pub text: String,
}

/// A mood.
#[derive(Clone, Copy, Debug, CoEnum)]
pub enum Mood {
    /// Happy.
    Happy,
    /// Grumpy.
    Grumpy,
}

/// Greets `name`.
#[jazz_request(url = "/api/greet")]
pub async fn greet(
    _ctx: RequestContext,
    name: String,
    mood: Mood,
) -> Result<Greeting, JazzRequestError> {
    Ok(Greeting {
        text: format!("Hello {name} ({mood:?})"),
    })
}

fn main() {}
