//! What a route's handler writes to ([`RouteSpec::writes`](super::RouteSpec::writes)): the
//! CoValues at the declared paths of a request, and the check, before the request is
//! claimed, that the worker may write to each.
//!
//! A request names its CoValues; the worker writes where the handler says. Without this
//! check a request naming a CoValue of a group where the worker is no writer would be claimed,
//! run its handler, and fail there (the handler's transaction rolled back, the request id
//! used up); with it, the request is refused at once with a 403 that names the CoValue, and
//! its id stays unused.

use serde_json::{Map, Value};

use super::error::JazzRequestError;
use crate::cojson::{LocalNode, NodeError, ResolveQuery};
use crate::crypto::CoID;

/// The CoValues at `paths` of a request whose envelope holds `values` (each at most once), once
/// the worker has checked it may write to each: 403 for one it may not write to.
///
/// A path that ends early (an optional reference that is absent) names nothing. Every CoValue
/// on a path must be loaded (the route's request resolve loads it): one that is not is the
/// route's fault (500).
pub(crate) fn writable_targets(
    node: &LocalNode,
    values: &Map<String, Value>,
    paths: &[Vec<String>],
) -> Result<Vec<CoID>, JazzRequestError> {
    let mut targets: Vec<CoID> = Vec::new();
    for path in paths {
        let Some(id) = follow(node, values, path)? else {
            continue;
        };
        node.may_write(&id).map_err(refusal)?;
        if !targets.contains(&id) {
            targets.push(id);
        }
    }
    Ok(targets)
}

/// The CoValue `path` leads to from the envelope's `values`, if any.
fn follow(
    node: &LocalNode,
    values: &Map<String, Value>,
    path: &[String],
) -> Result<Option<CoID>, JazzRequestError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(None);
    };
    let mut here = match values.get(first).and_then(reference) {
        Some(id) => id,
        None => return Ok(None),
    };
    for key in rest {
        let read = node.read(&here).map_err(refusal)?;
        let next = match &read.value {
            Value::Object(fields) => fields.get(key).and_then(reference),
            _ => None,
        };
        match next {
            Some(id) => here = id,
            None => return Ok(None),
        }
    }
    Ok(Some(here))
}

/// The CoValue a field's value names, if it names one.
fn reference(value: &Value) -> Option<CoID> {
    value.as_str().and_then(|text| CoID::parse(text).ok())
}

/// The answer to a write target the worker cannot check or may not write.
fn refusal(error: NodeError) -> JazzRequestError {
    match error {
        // The one mapping of a refused write to its 403 (`From<NodeError>`).
        not_permitted @ NodeError::NotPermitted { .. } => not_permitted.into(),
        other => JazzRequestError::internal_while(
            "checking what the route writes (is it loaded by the route's request resolve?)",
            other,
        ),
    }
}

/// The path of fields a one-field-per-level resolve query names (`{ event: { reservations:
/// true } }` → `event`, `reservations`); a level with several fields follows the first.
pub(crate) fn path_of(query: &ResolveQuery) -> Vec<String> {
    let mut path = Vec::new();
    let mut here = query;
    while let ResolveQuery::Fields(fields) = here {
        let Some((key, next)) = fields.first() else {
            break;
        };
        path.push(key.clone());
        here = next;
    }
    path
}
