//! Transaction meta, read as cojson 0.20.19 reads it (`src/permissions.ts`,
//! `src/coValueCore/coValueCore.ts` `parseMetaInformation`, `src/coValueCore/branching.ts`):
//!
//! - **branch pointers** (`{branch, ownerId}`): a reader may write one, trusting; it is valid
//!   with its changes dropped ([`is_branch_pointer`], applied by the permission step);
//! - **first writer wins** (`{fww: KEY}`): of the valid transactions naming one key, only the
//!   first in cojson's order stays valid (unique CoValues write their init this way);
//! - **merged transactions** (`{mi, t?, s?, b?}`, written by `mergeBranch`): they take the
//!   time and id of the branch transaction they copy, and are invalid when that time is
//!   after their own (a tampered `t`).
//!
//! What cojson can see decides what counts: a private transaction's meta is encrypted and is
//! only read once its changes are decrypted, after the permission step, so a reader's
//! *private* branch pointer stays invalid, while a private `fww` or `mi` applies.
//!
//! Where cojson's JavaScript would take a value of another type (a `t` or `mi` that is not a
//! number, an `s` that is not a session id, meta that is not an object — on which cojson's
//! `"fww" in meta` throws), the meta entry is ignored here.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::permissions::{TxRecord, compare_transactions};
use super::transaction::Transaction;
use crate::crypto::{CoID, SessionID, TransactionID};

/// A meta object, shared between reads.
pub type TxMeta = Arc<Map<String, Value>>;

/// Parses meta JSON text; `None` unless it is a JSON object.
pub(crate) fn parse_meta(text: &str) -> Option<TxMeta> {
    match serde_json::from_str(text) {
        Ok(Value::Object(meta)) => Some(Arc::new(meta)),
        _ => None,
    }
}

/// The meta of a trusting transaction (a private one's needs its key).
pub(crate) fn trusting_meta(tx: &Transaction) -> Option<TxMeta> {
    match tx {
        Transaction::Trusting {
            meta: Some(text), ..
        } => parse_meta(text),
        _ => None,
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Whether `meta` makes a reader's transaction a valid branch pointer: truthy `branch` and
/// `ownerId` (cojson's `tx.meta?.branch && tx.meta?.ownerId`).
pub fn is_branch_pointer(meta: &Map<String, Value>) -> bool {
    meta.get("branch").is_some_and(truthy) && meta.get("ownerId").is_some_and(truthy)
}

/// The meta a branch pointer keeps: only `branch` and `ownerId`, in that order.
pub(crate) fn branch_pointer_only(meta: &Map<String, Value>) -> TxMeta {
    let mut kept = Map::new();
    for key in ["branch", "ownerId"] {
        if let Some(value) = meta.get(key) {
            kept.insert(key.to_owned(), value.clone());
        }
    }
    Arc::new(kept)
}

/// An `fww` key as JavaScript's `Map` tells keys apart: by type and value; an object or an
/// array is a key of its own (compared by identity there), so it never competes.
fn fww_key(value: &Value) -> Option<String> {
    match value {
        Value::Array(_) | Value::Object(_) => None,
        other => Some(other.to_string()),
    }
}

/// Applies the `fww` and `mi` rules to the valid transactions of one CoValue (`txs` in any
/// order, `valid` beside them): marks later writers and tampered merges invalid, and sets
/// merged transactions' source time and id. Transactions are taken in the order cojson
/// parses their meta on a fresh load: trusting ones first, then private ones (decrypted
/// after), each in the order the node holds them.
pub(crate) fn apply_meta_rules(txs: &mut [TxRecord], valid: &mut [bool]) {
    let mut order: Vec<usize> = (0..txs.len())
        .filter(|&i| valid[i] && txs[i].meta.is_some())
        .collect();
    if order.is_empty() {
        return;
    }
    order.sort_by_key(|&i| (txs[i].is_private(), txs[i].load_order));
    // The previous transaction of the same session, by load order (cojson's `previous`).
    let mut by_position: HashMap<(&SessionID, u32), usize> = HashMap::new();
    for (index, tx) in txs.iter().enumerate() {
        by_position.insert((&tx.id.session_id, tx.id.tx_index), index);
    }
    let previous_of: Vec<Option<usize>> = txs
        .iter()
        .map(|tx| {
            let before = tx.id.tx_index.checked_sub(1)?;
            by_position.get(&(&tx.id.session_id, before)).copied()
        })
        .collect();
    let mut winners: HashMap<String, usize> = HashMap::new();
    for index in order {
        let Some(meta) = txs[index].meta.clone() else {
            continue;
        };
        if let Some(key) = meta.get("fww").and_then(fww_key) {
            match winners.get(&key).copied() {
                Some(winner)
                    if compare_transactions(&txs[index], &txs[winner]) != Ordering::Less =>
                {
                    valid[index] = false;
                }
                Some(winner) => {
                    valid[winner] = false;
                    winners.insert(key, index);
                }
                None => {
                    winners.insert(key, index);
                }
            }
        }
        if meta.contains_key("mi") {
            apply_merge_meta(txs, valid, index, previous_of[index], &meta);
        }
    }
}

/// A merged transaction's source time and id (`MergedTransactionMetadata`).
fn apply_merge_meta(
    txs: &mut [TxRecord],
    valid: &mut [bool],
    index: usize,
    previous: Option<usize>,
    meta: &Map<String, Value>,
) {
    let previous = previous.map(|p| (txs[p].effective_made_at(), txs[p].effective_id().clone()));
    let current = txs[index].made_at;
    let offset = meta.get("t").and_then(Value::as_f64).filter(|t| *t != 0.0);
    let source_made_at = match (offset, &previous) {
        (Some(t), _) => Some(current as f64 - t),
        (None, Some((made_at, _))) => Some(*made_at as f64),
        (None, None) => None,
    };
    if let Some(source) = source_made_at {
        // cojson: `sourceTxMadeAt > currentMadeAt` is a tampered merge.
        if source > current as f64 {
            valid[index] = false;
        }
        // Times before the epoch (or fractions) only order; they clamp at 0 here.
        txs[index].source_made_at = Some(source.max(0.0).floor() as u64);
    }
    let session = match meta.get("s") {
        Some(Value::String(text)) => SessionID::parse(text).ok(),
        Some(Value::Null) | None => previous.as_ref().map(|(_, id)| id.session_id.clone()),
        Some(_) => None,
    };
    let Some(tx_index) = meta
        .get("mi")
        .and_then(Value::as_u64)
        .and_then(|mi| u32::try_from(mi).ok())
    else {
        return;
    };
    let branch = match meta.get("b") {
        Some(Value::String(text)) => CoID::parse(text).ok(),
        Some(Value::Null) | None => previous.and_then(|(_, id)| id.branch),
        Some(_) => None,
    };
    if let Some(session_id) = session {
        txs[index].source = Some(TransactionID {
            session_id,
            tx_index,
            branch,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn branch_pointers_need_both_fields_truthy() {
        let meta = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(is_branch_pointer(&meta(
            json!({"branch": "b", "ownerId": "co_zX"})
        )));
        assert!(!is_branch_pointer(&meta(json!({"branch": "b"}))));
        assert!(!is_branch_pointer(&meta(
            json!({"branch": "", "ownerId": "co_zX"})
        )));
        assert!(!is_branch_pointer(&meta(
            json!({"branch": "b", "ownerId": 0})
        )));
        let kept =
            branch_pointer_only(&meta(json!({"fww": "init", "branch": "b", "ownerId": "o"})));
        assert_eq!(
            Value::Object((*kept).clone()),
            json!({"branch": "b", "ownerId": "o"})
        );
    }

    #[test]
    fn fww_keys_tell_types_apart_and_objects_never_compete() {
        assert_ne!(fww_key(&json!("1")), fww_key(&json!(1)));
        assert_eq!(fww_key(&json!("init")), fww_key(&json!("init")));
        assert_eq!(fww_key(&json!({"a": 1})), None);
        assert!(parse_meta("[1]").is_none());
        assert!(parse_meta("{\"fww\":\"init\"}").is_some());
    }
}
