//! The README's table of resolve queries (issue 17, item 5): each query of the attribute
//! grammar (`resolve = { … }`) and the typed builder written next to it are the same query.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req::prelude::*;
use serde_json::json;

/// A poll (as in the README).
#[derive(CoMap, Debug)]
pub struct Poll {
    /// The question.
    pub question: String,
    /// The votes cast.
    pub votes: CoList<Ref<Vote>>,
}

/// A vote.
#[derive(CoMap, Debug)]
pub struct Vote {
    /// Who voted.
    pub voter: Account,
    /// For what.
    pub choice: u32,
}

#[test]
fn each_builder_is_the_query_of_the_grammar_beside_it() {
    let table: Vec<(serde_json::Value, ResolveQuery)> = vec![
        (
            json!({"votes": true}),
            Poll::resolve().votes(|v| v).into_query(),
        ),
        (
            json!({"votes": {"$each": true}}),
            Poll::resolve().votes(|v| v.each(|v| v)).into_query(),
        ),
        (
            json!({"votes": {"$each": {"voter": true}}}),
            Poll::resolve()
                .votes(|v| v.each(|vote| vote.voter(|a| a)))
                .into_query(),
        ),
        (json!(true), Poll::resolve().into_query()),
    ];
    for (grammar, built) in table {
        let parsed = ResolveQuery::from_json(&grammar).unwrap();
        assert_eq!(built, parsed, "{grammar}");
    }
}
