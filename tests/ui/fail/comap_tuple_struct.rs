// #[derive(CoMap)] on a tuple struct.
use jazz_req::prelude::*;

#[derive(CoMap)]
pub struct Point(pub f64, pub f64);

fn main() {}
