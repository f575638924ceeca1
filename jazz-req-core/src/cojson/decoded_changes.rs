//! What a session's transactions decode to, kept once a read has decoded them: a
//! transaction never changes, so its changes JSON (decrypted, for a private one) is parsed
//! once, not at every read of its CoValue. A booking reads its event's reservations several
//! times, and every read decoded (and decrypted) every ticket again before this.
//!
//! Only successes are kept: a private transaction no key could read yet may become readable
//! when a key is revealed later. A private transaction's changes are kept with the key that
//! decrypted them and given again only for that key (XSalsa20 has no MAC, so another key
//! "decrypts" to something else, which a read must judge for itself).

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::colist::ListOp;
use super::transaction::Transaction;
use crate::crypto::{CoID, KeySecret, SessionID};

/// The changes of one transaction, decoded; in a CoList, also its ops, parsed once asked for.
#[derive(Debug)]
pub struct DecodedTx {
    changes: Vec<Value>,
    list_ops: OnceLock<Vec<Option<ListOp>>>,
}

impl DecodedTx {
    fn new(changes: Vec<Value>) -> Self {
        Self {
            changes,
            list_ops: OnceLock::new(),
        }
    }

    /// No changes: what a transaction whose changes are dropped counts as (a reader's branch
    /// pointer).
    pub fn empty() -> Self {
        Self::new(Vec::new())
    }

    /// The changes, as the transaction's JSON array holds them.
    pub fn changes(&self) -> &[Value] {
        &self.changes
    }

    /// The changes read as CoList ops, change for change (`None` for one that is not a list
    /// op); parsed the first time they are asked for.
    pub fn list_ops(&self) -> &[Option<ListOp>] {
        self.list_ops
            .get_or_init(|| self.changes.iter().map(ListOp::from_change).collect())
    }
}

/// One transaction's decoded changes, once known.
#[derive(Clone, Debug)]
struct Decoded {
    /// The key that decrypted them (`None` for a trusting transaction).
    key: Option<KeySecret>,
    changes: Arc<DecodedTx>,
}

/// The decoded changes of a session's transactions, index for index (see the module
/// documentation). The owner keeps it as long as its transactions.
#[derive(Clone, Debug, Default)]
pub(crate) struct DecodedChanges {
    slots: Vec<OnceLock<Decoded>>,
}

/// Where a transaction sits: its CoValue, session and index (a private transaction's nonce
/// is made of them).
pub(crate) type TxPosition<'a> = (&'a CoID, &'a SessionID, usize);

impl DecodedChanges {
    /// Follows the log to `len` transactions: new ones get an empty slot, dropped ones lose
    /// theirs.
    pub(crate) fn resize(&mut self, len: usize) {
        self.slots.resize_with(len, OnceLock::new);
    }

    /// How many transactions have their changes kept.
    pub(crate) fn kept(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.get().is_some())
            .count()
    }

    /// Takes what `other` decoded for slots still empty here (`other` must hold the same
    /// transactions: the decoding of a transaction at a position with a key is the same
    /// wherever it is done).
    pub(crate) fn fill_from(&self, other: &DecodedChanges) {
        for (slot, theirs) in self.slots.iter().zip(&other.slots) {
            if slot.get().is_none()
                && let Some(decoded) = theirs.get()
            {
                let _ = slot.set(decoded.clone());
            }
        }
    }

    /// The changes of `tx` at `position`: decrypted with `key` when it is private (`None`
    /// without a key), parsed as a JSON array; `None` when they do not decode. Decoded once
    /// per transaction (and key).
    pub(crate) fn changes(
        &self,
        tx: &Transaction,
        position: TxPosition<'_>,
        key: Option<&KeySecret>,
    ) -> Option<Arc<DecodedTx>> {
        let slot = self.slots.get(position.2);
        let key = match tx {
            Transaction::Trusting { .. } => None,
            Transaction::Private { .. } => Some(key?),
        };
        if let Some(known) = slot.and_then(OnceLock::get)
            && known.key.as_ref() == key
        {
            return Some(Arc::clone(&known.changes));
        }
        let changes = match (tx, key) {
            (Transaction::Trusting { changes, .. }, _) => serde_json::from_str(changes).ok()?,
            (Transaction::Private { .. }, Some(key)) => {
                let text = tx.changes_text(key, position).ok()?;
                serde_json::from_str(&text).ok()?
            }
            (Transaction::Private { .. }, None) => return None,
        };
        let changes = Arc::new(DecodedTx::new(changes));
        if let Some(slot) = slot {
            // Another key's changes may be there already: they stay, these are only returned.
            let _ = slot.set(Decoded {
                key: key.cloned(),
                changes: Arc::clone(&changes),
            });
        }
        Some(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SessionAuthor;
    use crate::crypto::random::{new_random_agent_secret, new_random_key, new_random_session_id};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn position_parts() -> Result<(CoID, SessionID), Box<dyn std::error::Error>> {
        let agent = new_random_agent_secret()?;
        let session = new_random_session_id(&SessionAuthor::Agent(agent.agent_id()))?;
        Ok((CoID::parse("co_zXGtiNXGM6bgr6GeHe4VRddoc3W")?, session))
    }

    #[test]
    fn trusting_changes_are_parsed_once_and_bad_json_is_none() -> TestResult {
        let (id, session) = position_parts()?;
        let mut decoded = DecodedChanges::default();
        decoded.resize(2);
        let good = Transaction::new_trusting(r#"[{"op":"set","key":"a","value":1}]"#, 1, None);
        let bad = Transaction::new_trusting("not json", 2, None);
        let first = decoded.changes(&good, (&id, &session, 0), None);
        let second = decoded.changes(&good, (&id, &session, 0), None);
        let (Some(first), Some(second)) = (first, second) else {
            return Err("a JSON array of changes decodes".into());
        };
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second read is the kept one"
        );
        assert_eq!(first.changes().len(), 1);
        assert!(decoded.changes(&bad, (&id, &session, 1), None).is_none());
        Ok(())
    }

    #[test]
    fn private_changes_are_kept_for_the_key_that_decrypted_them() -> TestResult {
        let (id, session) = position_parts()?;
        let (key_id, key) = new_random_key()?;
        let (_, other) = new_random_key()?;
        let text = r#"[{"op":"app","value":"x","after":"start"}]"#;
        let tx = Transaction::new_private(text, None, (&key_id, &key), (&id, &session, 0), 5);
        let mut decoded = DecodedChanges::default();
        decoded.resize(1);
        assert!(decoded.changes(&tx, (&id, &session, 0), None).is_none());
        // A wrong key gives bytes that are not a JSON array: nothing is kept.
        assert!(
            decoded
                .changes(&tx, (&id, &session, 0), Some(&other))
                .is_none()
        );
        let read = decoded.changes(&tx, (&id, &session, 0), Some(&key));
        let again = decoded.changes(&tx, (&id, &session, 0), Some(&key));
        let (Some(read), Some(again)) = (read, again) else {
            return Err("the right key decrypts".into());
        };
        assert!(
            Arc::ptr_eq(&read, &again),
            "the second read is the kept one"
        );
        assert_eq!(read.changes()[0]["value"], "x");
        let [Some(ListOp::Insert { value, .. })] = read.list_ops() else {
            return Err(format!("one insertion, not {:?}", read.list_ops()).into());
        };
        assert_eq!(value, "x");
        assert!(
            decoded
                .changes(&tx, (&id, &session, 0), Some(&other))
                .is_none()
        );
        // A slot dropped with its transaction (a rewind) is decoded afresh.
        decoded.resize(0);
        decoded.resize(1);
        let fresh = decoded.changes(&tx, (&id, &session, 0), Some(&key));
        assert!(fresh.is_some_and(|fresh| !Arc::ptr_eq(&fresh, &read)));
        Ok(())
    }
}
