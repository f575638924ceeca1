// A CoEnum variant carrying data (a z.enum value is a plain string).
use jazz_req::prelude::*;

#[derive(Clone, Copy, CoEnum)]
pub enum Status {
    Open,
    Closed(u32),
}

fn main() {}
