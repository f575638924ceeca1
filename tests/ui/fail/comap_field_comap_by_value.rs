// A CoMap field holding another CoMap by value: it is held through `Ref<Poll>` or `Loaded<Poll>`.
#![allow(unused_variables)]
use jazz_req::prelude::*;

#[derive(CoMap, Debug)]
pub struct Poll {
    pub question: String,
}

#[derive(CoMap, Debug)]
pub struct Ballot {
    pub poll: Poll,
    pub choice: u32,
}

fn main() {}
