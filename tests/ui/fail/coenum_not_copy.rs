// A CoEnum must be Copy: one error, at the enum.
use jazz_req::prelude::*;

#[derive(CoEnum)]
pub enum Status {
    Open,
    Closed,
}

fn main() {}
