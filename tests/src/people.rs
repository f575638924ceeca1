//! People for end-to-end tests: accounts created in Rust, each with its own node, and the
//! real cojson's view of what a node holds.

use std::path::Path;

use jazz_req_core::cojson::{ContentMessage, LocalNode};
use jazz_req_core::crypto::{self, AgentSecret, CoID};
use serde_json::{Value, json};

use crate::node::{NodeError, run_node_script};

/// A person: an account made in Rust (with a profile), its node and its agent secret.
pub struct Person {
    /// The node acting as this person.
    pub node: LocalNode,
    /// The person's account id.
    pub account: CoID,
    /// The person's agent secret.
    pub secret: AgentSecret,
}

/// Creates a person with a fresh agent and an account whose profile is named `name`.
pub fn person(name: &str) -> Result<Person, String> {
    let secret = crypto::random::new_random_agent_secret().map_err(|e| e.to_string())?;
    let (node, account) =
        LocalNode::create_account(secret.clone(), name).map_err(|e| e.to_string())?;
    Ok(Person {
        node,
        account,
        secret,
    })
}

/// The full content of `ids` held by `node`, as JSON pieces.
pub fn pieces(node: &LocalNode, ids: &[&CoID]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| node.get(id))
        .flat_map(|value| value.new_content_since(None))
        .map(|m| m.to_json())
        .collect()
}

/// The full content of everything `node` holds, in arrival order.
pub fn all_pieces(node: &LocalNode) -> Vec<Value> {
    let ids: Vec<CoID> = node.ids().cloned().collect();
    pieces(node, &ids.iter().collect::<Vec<_>>())
}

/// Imports the content of `ids` (everything when empty) from one node into another.
pub fn give(from: &LocalNode, to: &mut LocalNode, ids: &[&CoID]) -> Result<(), String> {
    let pieces = if ids.is_empty() {
        all_pieces(from)
    } else {
        pieces(from, ids)
    };
    for piece in pieces {
        let message = ContentMessage::from_json(&piece).map_err(|e| e.to_string())?;
        to.import(message).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What the real cojson 0.20.19 reads from `pieces` as `account` (agent `secret`), for each
/// of `ids` (see `tests/js/read-pieces.mjs` for the shape).
pub fn cojson_reads(
    secret: &AgentSecret,
    account: &CoID,
    pieces: &[Value],
    ids: &[&CoID],
) -> Result<Value, NodeError> {
    let input = json!({
        "agentSecret": secret.to_secret_string().as_str(),
        "accountID": account.as_str(),
        "pieces": pieces,
        "read": ids.iter().map(|id| id.as_str()).collect::<Vec<_>>(),
    });
    let out = run_node_script(Path::new("read-pieces.mjs"), &input.to_string())?;
    serde_json::from_str(&out).map_err(|e| NodeError::BadOutput(e.to_string()))
}

/// As [`cojson_reads`], with each value owned by a group also carrying `transactions`:
/// cojson's verdict on each of its transactions (`tests/js/tx-verdicts.mjs`; compare them
/// with [`crate::meta_vectors::compare_verdicts`]).
pub fn cojson_reads_with_verdicts(
    secret: &AgentSecret,
    account: &CoID,
    pieces: &[Value],
    ids: &[&CoID],
) -> Result<Value, NodeError> {
    let input = json!({
        "agentSecret": secret.to_secret_string().as_str(),
        "accountID": account.as_str(),
        "pieces": pieces,
        "read": ids.iter().map(|id| id.as_str()).collect::<Vec<_>>(),
        "verdicts": true,
    });
    let out = run_node_script(Path::new("read-pieces.mjs"), &input.to_string())?;
    serde_json::from_str(&out).map_err(|e| NodeError::BadOutput(e.to_string()))
}
