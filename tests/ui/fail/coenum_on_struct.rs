// #[derive(CoEnum)] on a struct: the error points to #[derive(CoMap)].
use jazz_req::prelude::*;

#[derive(Clone, Copy, CoEnum)]
pub struct Status {
    pub open: bool,
}

fn main() {}
