//! Loading what a resolve query names into a node, from the node's storage.

use super::error::{NotLoaded, SchemaError};
use crate::cojson::{LocalNode, ResolveQuery};
use crate::crypto::CoID;

/// How many CoValues one resolve may load from storage (a query over a long list of
/// references loads each; this bounds what one request can make the worker read).
pub const MAX_RESOLVE_LOADS: usize = 256;

/// Loads into `node`, from its storage, every CoValue `query` reaches from `id` that the node
/// does not hold yet. Fails with [`SchemaError::NotLoaded`] naming the first CoValue that is
/// nowhere (or past [`MAX_RESOLVE_LOADS`]).
pub fn load_resolved(
    node: &mut LocalNode,
    id: &CoID,
    query: &ResolveQuery,
) -> Result<(), SchemaError> {
    let mut loads = 0;
    while let Some(missing) = node.missing_for(id, query) {
        let loaded = loads < MAX_RESOLVE_LOADS
            && node.get(&missing).is_none()
            && node.load_from_storage(&missing).unwrap_or(false);
        if !loaded {
            return Err(NotLoaded(missing).into());
        }
        loads += 1;
    }
    Ok(())
}
