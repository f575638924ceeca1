// #[derive(CoMap)] on a generic struct.
use jazz_req::prelude::*;

#[derive(CoMap)]
pub struct Wrapper<T> {
    pub value: T,
}

fn main() {}
