//! Which transactions count: cojson's `determineValidTransactions` for the three rulesets
//! (`src/permissions.ts`). Groups (and accounts) validate their own transactions in order;
//! values owned by a group ask the group for the author's role at the transaction's time.

use serde_json::Value;

use super::decoded_changes::DecodedTx;

use super::group::{GroupLookup, GroupState};
use super::permissions_role::Role;
use crate::crypto::{KeyID, TransactionID};

/// One transaction as the permission and content layers see it, in cojson's order.
#[derive(Clone, Debug)]
pub struct TxRecord {
    /// The transaction's session and index.
    pub id: TransactionID,
    /// When it was made (ms since the epoch).
    pub made_at: u64,
    /// The session author: an account id (`co_z…`) or an agent id.
    pub author: String,
    /// The key a private transaction was encrypted with; `None` for trusting ones.
    pub key_used: Option<KeyID>,
    /// The decoded changes; `None` when they could not be parsed or decrypted.
    pub decoded: Option<std::sync::Arc<DecodedTx>>,
}

impl TxRecord {
    /// The decoded changes; `None` when they could not be parsed or decrypted.
    pub fn changes(&self) -> Option<&[Value]> {
        self.decoded.as_deref().map(DecodedTx::changes)
    }

    /// Whether the transaction is private (encrypted).
    pub fn is_private(&self) -> bool {
        self.key_used.is_some()
    }
}

/// Sorts transactions into cojson's order: by `madeAt`, then by index within one session;
/// transactions of different sessions with the same `madeAt` keep their given order
/// (cojson's stable sort keeps arrival order there).
pub fn sort_transactions(txs: &mut [TxRecord]) {
    // A stable sort by (madeAt) alone would reorder a session's own transactions only if
    // their madeAt decreased; cojson then orders them by txIndex, so sort by both when equal.
    txs.sort_by(|a, b| {
        a.made_at.cmp(&b.made_at).then_with(|| {
            if a.id.session_id == b.id.session_id {
                a.id.tx_index.cmp(&b.id.tx_index)
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
}

/// The verdict on each transaction of a value owned by a group: its author's role at the
/// transaction's time when the transaction is valid, `None` when it is not.
///
/// A transaction is valid when its author (an account's own agent, when the author is the
/// owning account) is admin, manager, writer or writeOnly in the owner group at `madeAt`,
/// counting parent groups and `everyone`.
pub fn validate_owned_by_group(
    txs: &[TxRecord],
    owner: &GroupState,
    groups: &dyn GroupLookup,
) -> Vec<Option<Role>> {
    txs.iter()
        .map(|tx| {
            let transactor = if tx.author == owner.id().as_str() && owner.is_account() {
                owner.account_agent().unwrap_or(tx.author.as_str())
            } else {
                tx.author.as_str()
            };
            owner
                .role_of(transactor, Some(tx.made_at), groups)
                .filter(|role| role.can_write())
        })
        .collect()
}
