//! Loading what a resolve query names into a node, from the node's storage: the one place
//! both a request's resolve (before its handler) and typed loads (`RequestWorker::load`) go
//! through.

use serde_json::Value;

use crate::cojson::{LocalNode, NodeError, ResolveQuery};
use crate::crypto::CoID;

/// How many CoValues one resolve may load from storage (a query over a long list of
/// references loads each; this bounds what one request can make the worker read).
pub const MAX_RESOLVE_LOADS: usize = 256;

/// Why what a resolve query names could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A CoValue the query reaches is neither in memory nor in the store (or stays
    /// unreadable once loaded), or the query reaches more than [`MAX_RESOLVE_LOADS`].
    #[error("{0} is not found")]
    NotFound(CoID),
    /// The store failed (the worker's fault, not the request's).
    #[error("loading from storage failed")]
    Storage(#[source] NodeError),
}

/// Loads into `node`, from its storage, every CoValue `query` reaches from `id` that the node
/// does not hold yet, or that it holds but cannot read for want of what it depends on.
pub fn load_resolved(
    node: &mut LocalNode,
    id: &CoID,
    query: &ResolveQuery,
) -> Result<(), LoadError> {
    load_missing(node, |node| node.missing_for(id, query), &mut Vec::new())
}

/// Like [`load_resolved`], noting in `loaded` each CoValue it loaded from storage (also when
/// it then fails): what a peer of a sync server brings up to date from the server.
pub(crate) fn load_resolved_noting(
    node: &mut LocalNode,
    id: &CoID,
    query: &ResolveQuery,
    loaded: &mut Vec<CoID>,
) -> Result<(), LoadError> {
    load_missing(node, |node| node.missing_for(id, query), loaded)
}

/// Like [`load_resolved`] for `id` whose content `value` was just read: what `query` reaches
/// through `value` (`id` itself is not read again).
pub fn load_resolved_below(
    node: &mut LocalNode,
    id: &CoID,
    value: &Value,
    query: &ResolveQuery,
) -> Result<(), LoadError> {
    load_missing(
        node,
        |node| node.missing_below(id, value, query),
        &mut Vec::new(),
    )
}

/// Loads what `missing` names until it names nothing, at most [`MAX_RESOLVE_LOADS`] times,
/// noting each in `loaded`.
fn load_missing(
    node: &mut LocalNode,
    missing: impl Fn(&LocalNode) -> Option<CoID>,
    loaded: &mut Vec<CoID>,
) -> Result<(), LoadError> {
    let mut loads = 0;
    let mut previous: Option<CoID> = None;
    while let Some(missing) = missing(node) {
        // The same CoValue twice: loading did not help (not stored, or unreadable).
        if loads >= MAX_RESOLVE_LOADS || previous.as_ref() == Some(&missing) {
            return Err(LoadError::NotFound(missing));
        }
        if !node
            .load_from_storage(&missing)
            .map_err(LoadError::Storage)?
        {
            return Err(LoadError::NotFound(missing));
        }
        loaded.push(missing.clone());
        previous = Some(missing);
        loads += 1;
    }
    Ok(())
}
