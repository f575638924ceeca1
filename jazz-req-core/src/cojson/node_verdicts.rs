//! What cojson decides about each transaction of a CoValue, for tests and tools that compare
//! with it: validity after permissions and meta rules, the time and id content uses, and the
//! meta as cojson holds it.

use serde_json::{Map, Value};

use super::node::LocalNode;
use super::node_error::NodeError;
use crate::crypto::{CoID, TransactionID};

/// cojson 0.20.19's verdict on one transaction (its `VerifiedTransaction` after
/// `getValidTransactions`).
#[derive(Clone, Debug, PartialEq)]
pub struct TxVerdict {
    /// Its place in the log: session and index.
    pub id: TransactionID,
    /// Whether it counts (`isValid`).
    pub valid: bool,
    /// The time content uses (`madeAt`): a merged transaction's source time.
    pub made_at: u64,
    /// A merged transaction's source (`sourceTxID`).
    pub source: Option<TransactionID>,
    /// The meta as cojson holds it: `None` when absent, not an object, or not readable (a
    /// private transaction's is read only when it is valid and its key is known); a
    /// reader's branch pointer keeps only `branch` and `ownerId`.
    pub meta: Option<Map<String, Value>>,
    /// A reader's branch pointer: valid, its changes not applied.
    pub changes_dropped: bool,
}

impl LocalNode {
    /// Every transaction of the value `id` (owned by a group, or `unsafeAllowAll`) with
    /// cojson's verdict, in the order the node holds them (sessions, then index).
    pub fn transaction_verdicts(&self, id: &CoID) -> Result<Vec<TxVerdict>, NodeError> {
        let read = self.owned_transactions(id)?;
        // Log order: sessions as the node holds them, then index.
        let positions: std::collections::HashMap<&crate::crypto::SessionID, usize> = self
            .get(id)
            .into_iter()
            .flat_map(|value| value.sessions())
            .enumerate()
            .map(|(position, log)| (log.session_id(), position))
            .collect();
        let mut verdicts: Vec<((usize, u32), TxVerdict)> = read
            .txs
            .iter()
            .zip(&read.valid)
            .map(|(tx, valid)| {
                let verdict = TxVerdict {
                    made_at: tx.effective_made_at(),
                    id: tx.id.clone(),
                    valid: *valid,
                    source: tx.source.clone(),
                    meta: tx.meta.as_deref().cloned(),
                    changes_dropped: tx.changes_dropped,
                };
                let session = positions
                    .get(&tx.id.session_id)
                    .copied()
                    .unwrap_or(usize::MAX);
                ((session, tx.id.tx_index), verdict)
            })
            .collect();
        verdicts.sort_by_key(|(order, _)| *order);
        Ok(verdicts.into_iter().map(|(_, verdict)| verdict).collect())
    }
}
