//! Which transactions count: cojson's `determineValidTransactions` for the three rulesets
//! (`src/permissions.ts`). Groups (and accounts) validate their own transactions in order;
//! values owned by a group ask the group for the author's role at the transaction's time.

use serde_json::{Map, Value};

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
    /// The transaction's meta object as cojson sees it: a trusting one's parsed, a private
    /// one's once decrypted (`None` when absent, not an object, or not readable).
    pub meta: Option<std::sync::Arc<Map<String, Value>>>,
    /// For a transaction merged from a branch (meta `mi`): the transaction it copies
    /// (cojson's `sourceTxID`), which content and ordering use instead of [`Self::id`].
    pub source: Option<TransactionID>,
    /// For a merged transaction: when the copied transaction was made (`sourceTxMadeAt`).
    pub source_made_at: Option<u64>,
    /// A reader's branch pointer: valid, but its changes are not applied.
    pub changes_dropped: bool,
    /// Its position in the order the node holds the transactions (sessions, then index).
    pub(crate) load_order: usize,
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

    /// The id content uses: a merged transaction's source, else its own (cojson's `txID`).
    pub fn effective_id(&self) -> &TransactionID {
        self.source.as_ref().unwrap_or(&self.id)
    }

    /// The time content uses: a merged transaction's source time, else `made_at` (cojson's
    /// `madeAt`; permissions use [`Self::made_at`], cojson's `currentMadeAt`).
    pub fn effective_made_at(&self) -> u64 {
        self.source_made_at.unwrap_or(self.made_at)
    }
}

/// cojson's `compareTransactions` on the effective time and id: by time, then by index
/// within one session; transactions of different sessions at the same time compare equal.
pub fn compare_transactions(a: &TxRecord, b: &TxRecord) -> std::cmp::Ordering {
    let (a_id, b_id) = (a.effective_id(), b.effective_id());
    a.effective_made_at()
        .cmp(&b.effective_made_at())
        .then_with(|| {
            if a_id.session_id == b_id.session_id {
                a_id.tx_index.cmp(&b_id.tx_index)
            } else {
                std::cmp::Ordering::Equal
            }
        })
}

/// Sorts transactions into cojson's order: by `madeAt`, then in the order the node holds
/// them (sessions, then index), which keeps a session's own transactions by index and,
/// between sessions at the same time, gives the order a stable sort of a fresh load gives.
///
/// cojson's comparator (`compareTransactions`, [`compare_transactions`]) says "equal" for
/// transactions of different sessions at the same time and orders those of one session by
/// index: not a total order, on which Rust's sorts may panic. On transactions in load
/// order it gives the same result as this key, which is one.
pub fn sort_transactions(txs: &mut [TxRecord]) {
    txs.sort_by_key(|tx| (tx.effective_made_at(), tx.load_order));
}

/// The role of each transaction's author in the owner group of a value at the time the
/// transaction was made (`None`: not a member).
///
/// A transaction is valid when its author (an account's own agent, when the author is the
/// owning account) is admin, manager, writer or writeOnly in the owner group at `madeAt`,
/// counting parent groups and `everyone` ([`Role::can_write`]); a reader's transaction is
/// valid only as a branch pointer ([`super::tx_meta::is_branch_pointer`]).
pub fn author_roles(
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
            owner.role_of(transactor, Some(tx.made_at), groups)
        })
        .collect()
}
