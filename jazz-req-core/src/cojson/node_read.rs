//! Reading CoValues from the local node: valid transactions in cojson order, decrypted with
//! the reader's keys, folded into map, list or group content.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::colist::{ListContent, ListOp, OpID};
use super::comap::{MapEntry, MapHistory, MapOp};
use super::decoded_changes::DecodedTx;
use super::group::GroupState;
use super::header::{CoValueType, Ruleset};
use super::keys::read_key;
use super::node::{GroupCache, LocalNode};
use super::node_error::NodeError;
use super::owned_read::{OwnedRead, group_key};
use super::permissions::{TxRecord, author_roles, sort_transactions};
use super::permissions_role::Role;
use super::transaction::Transaction;
use super::tx_meta;
use super::verified_state::VerifiedCoValue;
use crate::crypto::{CoID, SessionAuthor, SessionID, TransactionID};

/// Nesting deeper than this between groups is treated as a cycle.
const MAX_PARENT_DEPTH: usize = 64;

/// Reads of values with fewer transactions than this are not kept: they are cheap to redo.
const KEEP_READS_FROM: usize = 8;

/// How many transactions each session of `value` holds.
fn session_counts(value: &VerifiedCoValue) -> HashMap<SessionID, usize> {
    value
        .sessions()
        .map(|log| (log.session_id().clone(), log.len()))
        .collect()
}

/// What a CoValue reads as.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadValue {
    /// The CoValue's id.
    pub id: CoID,
    /// Its type.
    pub co_type: CoValueType,
    /// Its content as cojson's `toJSON()` gives it (a map's object, a list's array).
    pub value: Value,
    /// For groups and accounts: each member key with its effective role now.
    pub roles: Option<BTreeMap<String, Role>>,
}

/// The transactions of `value` in cojson order, trusting ones decoded.
pub(crate) fn sorted_records(value: &VerifiedCoValue) -> Vec<TxRecord> {
    records(value)
}

/// The transactions of `value` in cojson order, trusting ones decoded.
fn records(value: &VerifiedCoValue) -> Vec<TxRecord> {
    records_after(value, &HashMap::new(), 0)
}

/// The transactions of `value` past the first `held[session]` of each session, in cojson
/// order among themselves, trusting ones decoded; their load order counts on from `base`.
pub(crate) fn records_after(
    value: &VerifiedCoValue,
    held: &HashMap<SessionID, usize>,
    base: usize,
) -> Vec<TxRecord> {
    let mut txs = Vec::new();
    for log in value.sessions() {
        let session = log.session_id();
        let author = session.author_str();
        let skip = held.get(session).copied().unwrap_or(0);
        for (index, tx) in log.transactions().iter().enumerate().skip(skip) {
            let Ok(tx_index) = u32::try_from(index) else {
                break;
            };
            let load_order = base + txs.len();
            txs.push(TxRecord {
                id: TransactionID {
                    session_id: session.clone(),
                    tx_index,
                    branch: None,
                },
                made_at: tx.made_at(),
                author: author.to_owned(),
                key_used: match tx {
                    Transaction::Private { key_used, .. } => Some(key_used.clone()),
                    Transaction::Trusting { .. } => None,
                },
                decoded: match tx {
                    Transaction::Trusting { .. } => log.decoded_changes(value.id(), index, None),
                    Transaction::Private { .. } => None,
                },
                meta: tx_meta::trusting_meta(tx),
                source: None,
                source_made_at: None,
                changes_dropped: false,
                load_order,
            });
        }
    }
    sort_transactions(&mut txs);
    txs
}

/// The parent groups a group's trusting transactions name (`parent_<id>` keys).
fn named_parents(txs: &[TxRecord]) -> Vec<CoID> {
    let mut parents = Vec::new();
    for change in txs.iter().filter_map(TxRecord::changes).flatten() {
        let parent = change
            .get("key")
            .and_then(Value::as_str)
            .and_then(|k| k.strip_prefix("parent_"))
            .and_then(|id| CoID::parse(id).ok());
        if let Some(parent) = parent
            && !parents.contains(&parent)
        {
            parents.push(parent);
        }
    }
    parents
}

impl GroupCache<'_> {
    /// Builds the group `id` (and first its parents) into the cache.
    pub(crate) fn ensure_group(&mut self, id: &CoID, depth: usize) -> Result<(), NodeError> {
        if self.groups.contains_key(id.as_str()) {
            return Ok(());
        }
        let value = self
            .node
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        let Ruleset::Group { initial_admin } = &value.header().ruleset else {
            return Err(NodeError::WrongKind {
                id: id.clone(),
                expected: "group",
            });
        };
        let txs = records(value);
        if depth < MAX_PARENT_DEPTH {
            for parent in named_parents(&txs) {
                if self.node.get(&parent).is_some() {
                    self.ensure_group(&parent, depth + 1)?;
                }
            }
        }
        let is_account = value.header().account_agent().is_some();
        let admin = match initial_admin {
            SessionAuthor::Account(account) => account.to_string(),
            SessionAuthor::Agent(agent) => agent.to_string(),
        };
        let state = GroupState::build(id.clone(), &admin, is_account, &txs, self);
        self.groups
            .insert(id.to_string(), std::sync::Arc::new(state));
        Ok(())
    }

    pub(crate) fn group_state(&self, id: &CoID) -> Result<&GroupState, NodeError> {
        self.groups
            .get(id.as_str())
            .map(std::sync::Arc::as_ref)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))
    }
}

/// Decrypts the valid private transactions of a value owned by `owner`.
fn decrypt_private(
    value: &VerifiedCoValue,
    txs: &mut [TxRecord],
    valid: &[bool],
    owner: &GroupState,
    cache: &GroupCache<'_>,
) {
    let mut keys = HashMap::new();
    for (tx, _) in txs.iter_mut().zip(valid).filter(|(_, ok)| **ok) {
        let Some(key_id) = tx.key_used.clone() else {
            continue;
        };
        let key = keys
            .entry(key_id.clone())
            .or_insert_with(|| read_key(owner, key_id.as_str(), cache.node.reader(), cache));
        let Some(key) = key.as_ref() else {
            continue;
        };
        let Some(log) = value.session(&tx.id.session_id) else {
            continue;
        };
        let index = tx.id.tx_index as usize;
        tx.decoded = log.decoded_changes(value.id(), index, Some(key));
        // cojson decrypts the meta with the changes (`decryptTransactionChangesAndMeta`).
        if let Some(private) = log.transactions().get(index)
            && matches!(private, Transaction::Private { meta: Some(_), .. })
        {
            tx.meta = private
                .meta_text(key, (value.id(), log.session_id(), index))
                .ok()
                .flatten()
                .and_then(|text| tx_meta::parse_meta(&text));
        }
    }
}

/// Which transactions of a value owned by a group count: a writer's (admin, manager,
/// writer, writeOnly), and a reader's trusting branch pointer, whose changes are then
/// dropped and whose meta keeps only the pointer (`src/permissions.ts`).
fn judge_owned(txs: &mut [TxRecord], roles: &[Option<Role>]) -> Vec<bool> {
    txs.iter_mut()
        .zip(roles)
        .map(|(tx, role)| match role {
            Some(role) if role.can_write() => true,
            Some(Role::Reader) => {
                let Some(meta) = tx.meta.as_deref().filter(|m| tx_meta::is_branch_pointer(m))
                else {
                    return false;
                };
                tx.meta = Some(tx_meta::branch_pointer_only(meta));
                tx.decoded = Some(std::sync::Arc::new(DecodedTx::empty()));
                tx.changes_dropped = true;
                true
            }
            _ => false,
        })
        .collect()
}

/// The source of a branch: its header's `meta.source` (cojson's `branchSourceId`).
fn branch_source(value: &VerifiedCoValue) -> Option<CoID> {
    let source = value.header().meta.as_ref()?.get("source")?.as_str()?;
    CoID::parse(source).ok()
}

/// Where a branch started in its source (cojson's `branchStart`): per session, the largest
/// count named by the `from` meta of its valid transactions. cojson keeps a source
/// transaction whose index is at most that count (one past what the branch saw) and every
/// transaction of a session `from` does not name; so does this.
fn branch_start(txs: &[TxRecord], valid: &[bool]) -> HashMap<SessionID, u64> {
    let mut start: HashMap<SessionID, u64> = HashMap::new();
    for (tx, _) in txs.iter().zip(valid).filter(|(_, ok)| **ok) {
        let Some(from) = tx
            .meta
            .as_deref()
            .and_then(|meta| meta.get("from"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (session, count) in from {
            let (Ok(session), Some(count)) = (SessionID::parse(session), count.as_u64()) else {
                continue;
            };
            let known = start.entry(session).or_insert(0);
            *known = (*known).max(count);
        }
    }
    start
}

/// Whether merged transactions took another time or id, so the order must be made again.
fn merged_any(txs: &[TxRecord]) -> bool {
    txs.iter()
        .any(|tx| tx.source_made_at.is_some() || tx.source.is_some())
}

/// Puts the transactions back into cojson's order once merged ones have taken their source
/// time and id (or a branch's source transactions joined), keeping `valid` and `roles`
/// beside them.
fn resort(txs: &mut Vec<TxRecord>, valid: &mut Vec<bool>, roles: &mut Vec<Option<Role>>) {
    // A total order (see `sort_transactions`): merged transactions were written in their
    // source order, so holding order stands in for the source index among equal times.
    let mut order: Vec<usize> = (0..txs.len()).collect();
    order.sort_by_key(|&index| (txs[index].effective_made_at(), txs[index].load_order));
    let mut taken: Vec<Option<(TxRecord, bool, Option<Role>)>> = std::mem::take(txs)
        .into_iter()
        .zip(std::mem::take(valid))
        .zip(std::mem::take(roles))
        .map(|((tx, ok), role)| Some((tx, ok, role)))
        .collect();
    for index in order {
        if let Some((tx, ok, role)) = taken.get_mut(index).and_then(Option::take) {
            txs.push(tx);
            valid.push(ok);
            roles.push(role);
        }
    }
}

impl LocalNode {
    /// The validated state of the group or account `id` (with its parents).
    pub fn group_state(&self, id: &CoID) -> Result<GroupState, NodeError> {
        let mut cache = GroupCache::new(self);
        cache.ensure_group(id, 0)?;
        cache.group_state(id).cloned()
    }

    /// The visible items of the list `id` with the op ids that inserted them, in order.
    pub fn list_entries(&self, id: &CoID) -> Result<Vec<(OpID, Value)>, NodeError> {
        Ok(self.owned_transactions(id)?.list_state().entries.clone())
    }

    /// The decoded transactions of a value owned by a group (or `unsafeAllowAll`), with
    /// their validity and the authors' roles, kept between reads ([`OwnedRead`]). A branch
    /// (header `meta.source`) also holds the valid transactions of its source up to where
    /// it started ([`branch_start`]), as cojson's `getValidTransactions` gives them.
    pub(crate) fn owned_transactions(&self, id: &CoID) -> Result<Arc<OwnedRead>, NodeError> {
        self.owned_transactions_at(id, 0)
    }

    fn owned_transactions_at(&self, id: &CoID, depth: usize) -> Result<Arc<OwnedRead>, NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        let mut cache = GroupCache::new(self);
        match &value.header().ruleset {
            Ruleset::Group { .. } => Err(NodeError::WrongKind {
                id: id.clone(),
                expected: "value owned by a group",
            }),
            Ruleset::OwnedByGroup {
                group,
                restrict_deletion,
            } => {
                cache.ensure_group(group, 0).map_err(|e| match e {
                    NodeError::NotLoaded(missing) => NodeError::MissingDependency {
                        id: id.clone(),
                        missing,
                    },
                    other => other,
                })?;
                let owner = cache.group_state(group)?;
                let restricted = restrict_deletion.unwrap_or(false);
                let source = branch_source(value);
                let groups = if source.is_none() {
                    let groups = group_key(&cache, group);
                    if let Some(kept) = self.kept_read(value, &groups, owner, &cache) {
                        return Ok(kept);
                    }
                    groups
                } else {
                    Vec::new()
                };
                let mut txs = records(value);
                if source.is_some() {
                    // A branch's own transactions carry its id (cojson's `txID.branch`).
                    for tx in &mut txs {
                        tx.id.branch = Some(id.clone());
                    }
                }
                let mut roles = author_roles(&txs, owner, &cache);
                let mut valid = judge_owned(&mut txs, &roles);
                decrypt_private(value, &mut txs, &valid, owner, &cache);
                tx_meta::apply_meta_rules(&mut txs, &mut valid);
                let mut reorder = merged_any(&txs);
                if let Some(source) = &source
                    && depth < MAX_PARENT_DEPTH
                    && let Ok(from_source) = self.owned_transactions_at(source, depth + 1)
                {
                    let start = branch_start(&txs, &valid);
                    let own = txs.len();
                    for ((tx, ok), role) in from_source
                        .txs
                        .iter()
                        .zip(&from_source.valid)
                        .zip(&from_source.roles)
                    {
                        let until = start.get(&tx.id.session_id).copied().unwrap_or(u64::MAX);
                        if *ok && tx.decoded.is_some() && u64::from(tx.id.tx_index) <= until {
                            roles.push(*role);
                            valid.push(true);
                            // After the branch's own, as cojson concatenates them.
                            let mut tx = tx.clone();
                            tx.load_order += own;
                            txs.push(tx);
                            reorder = true;
                        }
                    }
                }
                if reorder {
                    resort(&mut txs, &mut valid, &mut roles);
                }
                let extendable = source.is_none() && !merged_any(&txs);
                Ok(self.keep_read(
                    value,
                    OwnedRead {
                        counts: session_counts(value),
                        txs,
                        valid,
                        roles,
                        restricted,
                        revision: value.revision(),
                        groups,
                        extendable,
                        list: OnceLock::new(),
                        typed: Default::default(),
                    },
                ))
            }
            Ruleset::UnsafeAllowAll => {
                let mut txs = records(value);
                let mut valid = vec![true; txs.len()];
                let mut roles = vec![None; txs.len()];
                tx_meta::apply_meta_rules(&mut txs, &mut valid);
                if merged_any(&txs) {
                    resort(&mut txs, &mut valid, &mut roles);
                }
                Ok(Arc::new(OwnedRead {
                    counts: session_counts(value),
                    txs,
                    valid,
                    roles,
                    restricted: false,
                    revision: value.revision(),
                    groups: Vec::new(),
                    extendable: false,
                    list: OnceLock::new(),
                    typed: Default::default(),
                }))
            }
        }
    }

    /// The kept read of `value` if it is still current, or extended with what was appended
    /// since, when that is all that changed (see [`OwnedRead`]).
    fn kept_read(
        &self,
        value: &VerifiedCoValue,
        groups: &[(CoID, Option<u64>)],
        owner: &GroupState,
        cache: &GroupCache<'_>,
    ) -> Option<Arc<OwnedRead>> {
        let mut reads = self.owned_reads.try_borrow_mut().ok()?;
        let kept = reads.get(value.id()).filter(|kept| kept.groups == groups)?;
        if kept.revision == value.revision() {
            return Some(Arc::clone(kept));
        }
        if !kept.extendable || value.rewound_at() > kept.revision {
            return None;
        }
        let mut new = records_after(value, &kept.counts, kept.txs.len());
        let roles = author_roles(&new, owner, cache);
        let valid = judge_owned(&mut new, &roles);
        decrypt_private(value, &mut new, &valid, owner, cache);
        if !kept.takes_in_order(&new) {
            return None;
        }
        let kept = reads.remove(value.id())?;
        let mut read = Arc::try_unwrap(kept).unwrap_or_else(|shared| (*shared).clone());
        read.extend(new, valid, roles);
        read.revision = value.revision();
        let read = Arc::new(read);
        reads.insert(value.id().clone(), Arc::clone(&read));
        Some(read)
    }

    /// Keeps `read` for the next reads of `value`, when it is worth keeping.
    fn keep_read(&self, value: &VerifiedCoValue, read: OwnedRead) -> Arc<OwnedRead> {
        let read = Arc::new(read);
        if read.txs.len() >= KEEP_READS_FROM
            && let Ok(mut reads) = self.owned_reads.try_borrow_mut()
        {
            reads.insert(value.id().clone(), Arc::clone(&read));
        }
        read
    }

    /// The valid transactions of `id` this node cannot read: private ones it cannot decrypt
    /// (no key it can find, or content that does not decrypt to a JSON list of changes with
    /// it), trusting ones whose changes are not a JSON list, and, in a CoMap or CoList,
    /// changes that are not an operation of its kind (`{"op":"set"}` without a key, a number,
    /// an unknown op). A read skips them, as cojson does; a worker refuses a request whose
    /// content has any, since the values it carries would be missing. Always empty for groups
    /// and accounts.
    pub fn undecryptable(&self, id: &CoID) -> Result<Vec<TransactionID>, NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        if matches!(value.header().ruleset, Ruleset::Group { .. }) {
            return Ok(Vec::new());
        }
        let co_type = value.header().co_type;
        let readable = |change: &Value| match co_type {
            CoValueType::CoMap => MapOp::from_change(change).is_some(),
            CoValueType::CoList => ListOp::from_change(change).is_some(),
            _ => true,
        };
        let read = self.owned_transactions(id)?;
        Ok(read
            .txs
            .iter()
            .zip(&read.valid)
            .filter(|(tx, ok)| {
                **ok && tx
                    .changes()
                    .is_none_or(|changes| !changes.iter().all(readable))
            })
            .map(|(tx, _)| tx.id.clone())
            .collect())
    }

    /// Reads the CoValue `id` as this node's reader.
    pub fn read(&self, id: &CoID) -> Result<ReadValue, NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        let header = value.header();
        let mut cache = GroupCache::new(self);
        let read = match &header.ruleset {
            Ruleset::Group { .. } => {
                cache.ensure_group(id, 0)?;
                let state = cache.group_state(id)?;
                let roles = state
                    .all_member_keys(&cache)
                    .into_iter()
                    .chain(state.map().get("everyone", None).map(|_| "everyone"))
                    .filter_map(|member| {
                        state
                            .role_of(member, None, &cache)
                            .map(|role| (member.to_owned(), role))
                    })
                    .collect();
                return Ok(ReadValue {
                    id: id.clone(),
                    co_type: header.co_type,
                    value: state.map().to_json(None),
                    roles: Some(roles),
                });
            }
            Ruleset::OwnedByGroup { .. } | Ruleset::UnsafeAllowAll => {
                self.owned_transactions(id)?
            }
        };
        let content = match header.co_type {
            CoValueType::CoList => Value::Array(
                read.list_state()
                    .entries
                    .iter()
                    .map(|(_, value)| value.clone())
                    .collect(),
            ),
            _ => map_content(&read.txs, &read.valid).to_json(None),
        };
        Ok(ReadValue {
            id: id.clone(),
            co_type: header.co_type,
            value: content,
            roles: None,
        })
    }
}

/// Folds the valid transactions into map content.
pub(crate) fn map_content(txs: &[TxRecord], valid: &[bool]) -> MapHistory {
    let mut map = MapHistory::default();
    for (tx, _) in txs.iter().zip(valid).filter(|(_, ok)| **ok) {
        for op in tx
            .changes()
            .into_iter()
            .flatten()
            .filter_map(MapOp::from_change)
        {
            let (key, value) = match op {
                MapOp::Set { key, value } => (key, Some(value)),
                MapOp::Del { key } => (key, None),
            };
            map.push(
                &key,
                MapEntry {
                    made_at: tx.effective_made_at(),
                    tx: tx.effective_id().clone(),
                    by: tx.author.clone(),
                    value,
                },
            );
        }
    }
    map
}

/// Folds the valid transactions into list content. With `restricted` (a `restrictDeletion`
/// list), only deletions by admins and managers take effect.
pub(crate) fn list_content(
    txs: &[TxRecord],
    valid: &[bool],
    restricted: Option<&[Option<Role>]>,
) -> ListContent {
    let mut list = ListContent::default();
    for (index, (tx, _)) in txs
        .iter()
        .zip(valid)
        .enumerate()
        .filter(|(_, (_, ok))| **ok)
    {
        let may_delete = restricted.is_none_or(|roles| {
            roles
                .get(index)
                .copied()
                .flatten()
                .is_some_and(Role::is_admin_like)
        });
        let ops = tx.decoded.as_deref().map(DecodedTx::list_ops);
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
            list.apply(OpID::new(tx.effective_id(), change_idx), op.clone());
        }
    }
    list
}
