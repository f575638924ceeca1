//! What a read of a value owned by a group works out — its transactions in cojson order,
//! which count, the authors' roles and, for a list, its items — kept between reads.
//!
//! A booking reads its event's reservations several times (to resolve, check, count and
//! append), and before this every read decoded and ordered every ticket again: the cost of
//! a booking grew with the event's size. Now a read is kept while neither the value nor the
//! groups its owner's roles come from change, and when the value only grew — transactions
//! appended after everything it held, without meta — the kept read is extended with the new
//! transactions alone, its list items too when the new items land at the end. Anything
//! else (a rewind, a transaction that sorts earlier, meta, a group change, a branch) reads
//! the value afresh.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::colist::{ListContent, ListOp, OpID};
use super::node::GroupCache;
use super::permissions::{TxRecord, compare_transactions};
use super::permissions_role::Role;
use crate::crypto::{CoID, SessionID};

/// Nesting deeper than this between groups is not followed for the key of a kept read.
const MAX_KEY_DEPTH: usize = 64;

/// A read of a value owned by a group (or `unsafeAllowAll`), as kept between reads.
#[derive(Clone, Debug)]
pub(crate) struct OwnedRead {
    /// Its transactions in cojson order.
    pub(crate) txs: Vec<TxRecord>,
    /// Which of them count.
    pub(crate) valid: Vec<bool>,
    /// Their authors' roles in the owner group at their time (`None`: no role, or no owner).
    pub(crate) roles: Vec<Option<Role>>,
    /// A `restrictDeletion` list: only admins' and managers' deletions count.
    pub(crate) restricted: bool,
    /// The value's revision this read is of.
    pub(crate) revision: u64,
    /// The revisions of the groups the owner's roles come from (`None`: not held).
    pub(crate) groups: Vec<(CoID, Option<u64>)>,
    /// How many transactions of each session it holds.
    pub(crate) counts: HashMap<SessionID, usize>,
    /// Whether it can be extended by appending (no merged transactions, no branch source).
    pub(crate) extendable: bool,
    /// For a list: its content and visible items, built on first use.
    pub(crate) list: OnceLock<ListState>,
    /// For a list: its items as typed values, by type (see [`OwnedRead::typed_items`]).
    pub(crate) typed: TypedItems,
}

/// A list's items read as typed values, by item type: valid while the list's visible items
/// only grew (the same [`ListState::epoch`]). Not carried over when a shared read is
/// copied to be extended.
#[derive(Default)]
pub(crate) struct TypedItems(Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>);

impl Clone for TypedItems {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for TypedItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedItems")
    }
}

/// The typed items of one type, read at one epoch of the list.
struct KeptItems<T> {
    epoch: u64,
    items: Arc<Vec<T>>,
}

/// A list's content and its visible items in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListState {
    pub(crate) content: ListContent,
    pub(crate) entries: Vec<(OpID, Value)>,
    /// Changes whenever `entries` changed other than by growing at the end.
    pub(crate) epoch: u64,
}

impl OwnedRead {
    /// The roles when deletions are restricted (what list content needs).
    pub(crate) fn restricted_roles(&self) -> Option<&[Option<Role>]> {
        self.restricted.then_some(self.roles.as_slice())
    }

    /// The list state, built from the transactions the first time it is asked for.
    pub(crate) fn list_state(&self) -> &ListState {
        self.list.get_or_init(|| {
            let content =
                super::node_read::list_content(&self.txs, &self.valid, self.restricted_roles());
            let entries = content
                .entries()
                .into_iter()
                .map(|(op, value)| (op.clone(), value.clone()))
                .collect();
            ListState {
                content,
                entries,
                epoch: 0,
            }
        })
    }

    /// The list's items read with `parse` (index, JSON value), kept for the next reads of
    /// the same type: only items added at the end since are parsed then. `parse` must
    /// depend on the item alone (see `CoField::reads_other_covalues`).
    pub(crate) fn typed_items<T: Send + Sync + 'static, E>(
        &self,
        mut parse: impl FnMut(usize, &Value) -> Result<T, E>,
    ) -> Result<Arc<Vec<T>>, E> {
        let list = self.list_state();
        let mut kept = match self.typed.0.lock() {
            Ok(kept) => kept,
            Err(poisoned) => poisoned.into_inner(),
        };
        let type_id = TypeId::of::<T>();
        let previous = kept
            .remove(&type_id)
            .and_then(|boxed| boxed.downcast::<KeptItems<T>>().ok())
            .filter(|previous| {
                previous.epoch == list.epoch && previous.items.len() <= list.entries.len()
            });
        let mut items = match previous.map(|previous| previous.items) {
            Some(items) if Arc::strong_count(&items) == 1 => items,
            _ => Arc::new(Vec::with_capacity(list.entries.len())),
        };
        let from = items.len();
        if let Some(growing) = Arc::get_mut(&mut items) {
            for (index, (_, value)) in list.entries.iter().enumerate().skip(from) {
                growing.push(parse(index, value)?);
            }
        }
        kept.insert(
            type_id,
            Box::new(KeptItems {
                epoch: list.epoch,
                items: Arc::clone(&items),
            }),
        );
        Ok(items)
    }

    /// Whether `new` (in cojson order among themselves) all sort after what this read holds,
    /// so that appending them gives the order a fresh read would.
    pub(crate) fn takes_in_order(&self, new: &[TxRecord]) -> bool {
        let mut last = self.txs.last();
        for tx in new {
            if tx.meta.is_some() {
                return false;
            }
            if let Some(previous) = last
                && compare_transactions(previous, tx) != std::cmp::Ordering::Less
            {
                return false;
            }
            last = Some(tx);
        }
        true
    }

    /// Appends transactions that sort after everything held ([`Self::takes_in_order`]),
    /// with their validity and roles, updating the list state if it was built.
    pub(crate) fn extend(
        &mut self,
        new: Vec<TxRecord>,
        valid: Vec<bool>,
        roles: Vec<Option<Role>>,
    ) {
        let restricted = self.restricted;
        if let Some(list) = self.list.get_mut() {
            for ((tx, ok), role) in new.iter().zip(&valid).zip(&roles) {
                if !ok {
                    continue;
                }
                let may_delete = !restricted || role.is_some_and(Role::is_admin_like);
                list.append_tx(tx, may_delete);
            }
        }
        for tx in &new {
            *self.counts.entry(tx.id.session_id.clone()).or_insert(0) += 1;
        }
        self.txs.extend(new);
        self.valid.extend(valid);
        self.roles.extend(roles);
    }
}

impl ListState {
    /// Applies the ops of one valid transaction that sorts after all others: an item
    /// inserted right after the last visible one (an append) is added to the end; anything
    /// else makes the items be walked again.
    fn append_tx(&mut self, tx: &TxRecord, may_delete: bool) {
        let ops = tx
            .decoded
            .as_deref()
            .map(super::decoded_changes::DecodedTx::list_ops);
        let mut walk_again = false;
        for (change_idx, op) in ops.into_iter().flatten().enumerate() {
            let Some(op) = op else {
                continue;
            };
            if matches!(op, ListOp::Delete { .. }) && !may_delete {
                continue;
            }
            let Ok(change_idx) = u32::try_from(change_idx) else {
                break;
            };
            let id = OpID::new(tx.effective_id(), change_idx);
            let last = self.entries.last().map(|(op, _)| op);
            let at_end = !walk_again && self.content.lands_last(op, last);
            self.content.apply(id.clone(), op.clone());
            match op {
                ListOp::Insert { value, .. } if at_end => self.entries.push((id, value.clone())),
                _ => walk_again = true,
            }
        }
        if walk_again {
            self.epoch += 1;
            self.entries = self
                .content
                .entries()
                .into_iter()
                .map(|(op, value)| (op.clone(), value.clone()))
                .collect();
        }
    }
}

/// The groups whose state decides the roles in `owner` (it and its parents, recursively),
/// each with its revision, or `None` when the node does not hold it.
pub(crate) fn group_key(cache: &GroupCache<'_>, owner: &CoID) -> Vec<(CoID, Option<u64>)> {
    let mut key: Vec<(CoID, Option<u64>)> = Vec::new();
    let mut queue = vec![(owner.clone(), 0usize)];
    while let Some((id, depth)) = queue.pop() {
        if key.iter().any(|(seen, _)| seen == &id) {
            continue;
        }
        key.push((
            id.clone(),
            cache.node.get(&id).map(super::VerifiedCoValue::revision),
        ));
        if depth >= MAX_KEY_DEPTH {
            continue;
        }
        if let Ok(state) = cache.group_state(&id) {
            for parent in state.parent_ids() {
                if let Ok(parent) = CoID::parse(parent) {
                    queue.push((parent, depth + 1));
                }
            }
        }
    }
    key
}

/// Kept reads, by value.
pub(crate) type OwnedReads = HashMap<CoID, Arc<OwnedRead>>;
