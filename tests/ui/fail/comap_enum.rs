// #[derive(CoMap)] on an enum: the error points to #[derive(CoEnum)].
use jazz_req::prelude::*;

#[derive(CoMap)]
pub enum Status {
    Open,
    Closed,
}

fn main() {}
