//! The log of one session: its transactions, the running BLAKE3 hash over their canonical
//! forms, the last signature, and the in-between signatures ("checkpoints") that split long
//! sessions into several content pieces.
//!
//! A verified prefix is never hashed or verified again: the hasher state after the last
//! transaction is kept, so appending costs only the new transactions and one signature check,
//! and transactions we already have cost nothing.

use std::collections::BTreeMap;

use super::decoded_changes::{DecodedChanges, DecodedTx};
use super::error::SessionLogError;
use super::transaction::{MAX_RECOMMENDED_TX_SIZE, Transaction};
use crate::crypto::{
    CoID, Hash, KeySecret, SessionID, Signature, SignerSecret, VerifyingKey, sign_hash,
};

/// The transactions of one session, with everything needed to extend and re-send them.
#[derive(Clone, Debug)]
pub struct SessionLog {
    session: SessionID,
    transactions: Vec<Transaction>,
    hasher: blake3::Hasher,
    last_signature: Option<Signature>,
    signature_after: BTreeMap<usize, Signature>,
    bytes_since_checkpoint: usize,
    signer: Option<VerifyingKey>,
    /// How many transactions the last signature covers (less than the length while own
    /// transactions wait for [`SessionLog::sign_pending`]).
    signed_len: usize,
    /// The transactions' changes, once a read decoded them.
    decoded: DecodedChanges,
}

/// New transactions whose signature has been checked against a log, ready to be committed
/// to it with [`SessionLog::commit`]. Verifying needs only `&SessionLog` (or a
/// [`SessionBase`] taken from it), so it can run outside a lock; committing is cheap, and
/// commits only to a log that still stands where the append was verified (same length, same
/// running hash).
#[derive(Clone, Debug)]
pub struct VerifiedAppend {
    session: SessionID,
    base_len: usize,
    /// The session hash after the first `base_len` transactions, as verified.
    base_hash: Hash,
    transactions: Vec<Transaction>,
    hasher: blake3::Hasher,
    signature: Signature,
    signer: VerifyingKey,
}

/// Where a session stands, as much as verifying what comes next needs: its length, its
/// running hash and the key that verified it. Taken from a log ([`SessionLog::base`]) it lets
/// content be verified without the log, e.g. outside the lock of the node holding it.
#[derive(Clone, Debug)]
pub struct SessionBase {
    session: SessionID,
    len: usize,
    hasher: blake3::Hasher,
    signer: Option<VerifyingKey>,
}

/// A borrowed [`SessionBase`]: what verifying needs of a log or a base, without copying it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BaseRef<'a> {
    pub(crate) session: &'a SessionID,
    pub(crate) len: usize,
    pub(crate) hasher: &'a blake3::Hasher,
    pub(crate) signer: Option<&'a VerifyingKey>,
}

impl BaseRef<'_> {
    /// Like [`SessionLog::verify_append`], against this base.
    pub(crate) fn verify_append(
        self,
        after: usize,
        transactions: &[Transaction],
        signature: &Signature,
        signer: &VerifyingKey,
    ) -> Result<Option<VerifiedAppend>, SessionLogError> {
        verify_after(
            (self.session, self.len, self.hasher),
            (after, transactions),
            signature,
            signer,
        )
    }

    /// Like [`SessionLog::new_part`], against this base.
    pub(crate) fn new_part(
        self,
        after: usize,
        transactions: &[Transaction],
    ) -> Result<&[Transaction], SessionLogError> {
        new_part(self.session, self.len, after, transactions)
    }
}

impl SessionBase {
    /// A session with no transactions yet.
    pub fn empty(session: SessionID) -> Self {
        Self {
            session,
            len: 0,
            hasher: blake3::Hasher::new(),
            signer: None,
        }
    }

    /// The session.
    pub fn session_id(&self) -> &SessionID {
        &self.session
    }

    /// How many transactions precede what is verified against this base.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the session has no transactions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key that verified the session's signatures, if any did.
    pub fn signer(&self) -> Option<&VerifyingKey> {
        self.signer.as_ref()
    }

    /// The session hash after the first [`SessionBase::len`] transactions.
    pub fn last_hash(&self) -> Hash {
        hash_of(&self.hasher)
    }

    /// Like [`SessionLog::new_part`], against this base.
    pub fn new_part<'a>(
        &self,
        after: usize,
        transactions: &'a [Transaction],
    ) -> Result<&'a [Transaction], SessionLogError> {
        self.base_ref().new_part(after, transactions)
    }

    /// Like [`SessionLog::verify_append`], against this base.
    pub fn verify_append(
        &self,
        after: usize,
        transactions: &[Transaction],
        signature: &Signature,
        signer: &VerifyingKey,
    ) -> Result<Option<VerifiedAppend>, SessionLogError> {
        self.base_ref()
            .verify_append(after, transactions, signature, signer)
    }

    pub(crate) fn base_ref(&self) -> BaseRef<'_> {
        BaseRef {
            session: &self.session,
            len: self.len,
            hasher: &self.hasher,
            signer: self.signer.as_ref(),
        }
    }

    /// Where the session stands once `append` (verified against this base) is committed.
    pub fn advance(&mut self, append: &VerifiedAppend) {
        self.len = append.base_len + append.transactions.len();
        self.hasher = append.hasher.clone();
        self.signer.get_or_insert_with(|| append.signer.clone());
    }
}

impl VerifiedAppend {
    /// The session the transactions belong to.
    pub fn session_id(&self) -> &SessionID {
        &self.session
    }

    /// The number of transactions the log had when they were verified.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// The transactions that will be appended.
    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }

    /// The session hash after the first [`VerifiedAppend::base_len`] transactions, as
    /// verified.
    pub fn base_hash(&self) -> &Hash {
        &self.base_hash
    }

    /// The key the signature was checked with.
    pub fn signer(&self) -> &VerifyingKey {
        &self.signer
    }
}

/// Where a [`SessionLog`] stood at one moment, for [`SessionLog::rewind`]: its length and the
/// state that goes with it (running hasher, signatures, checkpoint counter), not its
/// transactions, so taking a mark costs the same for a long log as for a short one.
#[derive(Clone, Debug)]
pub struct SessionMark {
    session: SessionID,
    len: usize,
    hasher: blake3::Hasher,
    last_signature: Option<Signature>,
    bytes_since_checkpoint: usize,
    signer: Option<VerifyingKey>,
    signed_len: usize,
}

impl SessionMark {
    /// The session the mark belongs to.
    pub fn session_id(&self) -> &SessionID {
        &self.session
    }

    /// The number of transactions the log had.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the log was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A run of consecutive transactions of one session with the signature after its last one:
/// the session part of one content piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPiece<'a> {
    /// How many transactions of the session precede this run.
    pub after: usize,
    /// The transactions.
    pub transactions: &'a [Transaction],
    /// The signature over the session hash after the last of them.
    pub last_signature: &'a Signature,
}

fn hash_of(hasher: &blake3::Hasher) -> Hash {
    Hash::from_bytes(*hasher.finalize().as_bytes())
}

/// The part of `transactions` (which follow the first `after` of `session`) that a log of
/// `known` transactions does not have yet; a [`SessionLogError::Gap`] if some before them
/// are missing.
fn new_part<'a>(
    session: &SessionID,
    known: usize,
    after: usize,
    transactions: &'a [Transaction],
) -> Result<&'a [Transaction], SessionLogError> {
    if after > known {
        return Err(SessionLogError::Gap {
            session: Box::new(session.clone()),
            known,
            after,
        });
    }
    Ok(transactions.get(known - after..).unwrap_or_default())
}

/// Verifies `transactions` (following the first `after` of the session) after a session of
/// `known` transactions whose running hash is `hasher`: what is new is hashed on, and
/// `signature` must verify by `signer` over the hash after it. `Ok(None)` when nothing is new
/// (no signature check).
fn verify_after(
    (session, known, hasher): (&SessionID, usize, &blake3::Hasher),
    (after, transactions): (usize, &[Transaction]),
    signature: &Signature,
    signer: &VerifyingKey,
) -> Result<Option<VerifiedAppend>, SessionLogError> {
    let new = new_part(session, known, after, transactions)?;
    if new.is_empty() {
        return Ok(None);
    }
    let base_hash = hash_of(hasher);
    let mut hasher = hasher.clone();
    let mut buffer = String::new();
    for tx in new {
        buffer.clear();
        tx.write_canonical(&mut buffer);
        hasher.update(buffer.as_bytes());
    }
    let hash = hash_of(&hasher);
    signer
        .verify_hash(signature, &hash)
        .map_err(|_| SessionLogError::InvalidSignature {
            session: Box::new(session.clone()),
            hash,
        })?;
    Ok(Some(VerifiedAppend {
        session: session.clone(),
        base_len: known,
        base_hash,
        transactions: new.to_vec(),
        hasher,
        signature: *signature,
        signer: signer.clone(),
    }))
}

impl SessionLog {
    /// An empty log for `session`.
    pub fn new(session: SessionID) -> Self {
        Self {
            session,
            transactions: Vec::new(),
            hasher: blake3::Hasher::new(),
            last_signature: None,
            signature_after: BTreeMap::new(),
            bytes_since_checkpoint: 0,
            signer: None,
            signed_len: 0,
            decoded: DecodedChanges::default(),
        }
    }

    /// The session this log belongs to.
    pub fn session_id(&self) -> &SessionID {
        &self.session
    }

    /// The number of transactions.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether the log has no transactions.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// The transactions, in order.
    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }

    /// The changes of transaction `index` of this session of the CoValue `co_id`, as a JSON
    /// array: decrypted with `key` when it is private (`None` without a key), `None` when
    /// there is no such transaction or its changes do not decode. Each transaction is
    /// decoded once (per key) and kept as long as it is in the log.
    pub fn decoded_changes(
        &self,
        co_id: &CoID,
        index: usize,
        key: Option<&KeySecret>,
    ) -> Option<std::sync::Arc<DecodedTx>> {
        let tx = self.transactions.get(index)?;
        self.decoded.changes(tx, (co_id, &self.session, index), key)
    }

    /// How many of the transactions have their changes decoded and kept (see
    /// [`SessionLog::decoded_changes`]).
    pub fn decoded_count(&self) -> usize {
        self.decoded.kept()
    }

    /// Takes the decoded changes `other` holds where this log has none, when `other` is a
    /// log of the same session with the same transactions (same length, same running hash):
    /// what was decoded elsewhere (e.g. outside a lock) need not be decoded again. Returns
    /// whether the logs matched.
    pub fn adopt_decoded(&self, other: &SessionLog) -> bool {
        let same = other.session == self.session
            && other.len() == self.len()
            && other.last_hash() == self.last_hash();
        if same {
            self.decoded.fill_from(&other.decoded);
        }
        same
    }

    /// The signature after the last transaction.
    pub fn last_signature(&self) -> Option<&Signature> {
        self.last_signature.as_ref()
    }

    /// The session hash after the last transaction (BLAKE3 of the empty input when empty).
    pub fn last_hash(&self) -> Hash {
        hash_of(&self.hasher)
    }

    /// The in-between signature remembered after transaction `tx_index`, if any.
    pub fn signature_after(&self, tx_index: usize) -> Option<&Signature> {
        self.signature_after.get(&tx_index)
    }

    /// All in-between signatures, by transaction index.
    pub fn checkpoints(&self) -> impl Iterator<Item = (usize, &Signature)> {
        self.signature_after.iter().map(|(i, s)| (*i, s))
    }

    /// The key that verified this session's signatures, once one has.
    pub fn signer(&self) -> Option<&VerifyingKey> {
        self.signer.as_ref()
    }

    /// The part of `transactions` (which follow the first `after` of the session) that this
    /// log does not have yet; a [`SessionLogError::Gap`] if some before them are missing.
    pub fn new_part<'a>(
        &self,
        after: usize,
        transactions: &'a [Transaction],
    ) -> Result<&'a [Transaction], SessionLogError> {
        new_part(&self.session, self.len(), after, transactions)
    }

    pub(crate) fn base_ref(&self) -> BaseRef<'_> {
        BaseRef {
            session: &self.session,
            len: self.len(),
            hasher: &self.hasher,
            signer: self.signer.as_ref(),
        }
    }

    /// Where the log stands, for verifying what comes next without it (see [`SessionBase`]).
    pub fn base(&self) -> SessionBase {
        SessionBase {
            session: self.session.clone(),
            len: self.len(),
            hasher: self.hasher.clone(),
            signer: self.signer.clone(),
        }
    }

    /// Checks new transactions without changing the log.
    ///
    /// `after` is the number of transactions that precede `transactions` in the session.
    /// Transactions we already have are skipped (and cost nothing); if none is new the result
    /// is `Ok(None)` with no signature check. Otherwise `signature` must verify, by `signer`,
    /// over the session hash after the new transactions.
    pub fn verify_append(
        &self,
        after: usize,
        transactions: &[Transaction],
        signature: &Signature,
        signer: &VerifyingKey,
    ) -> Result<Option<VerifiedAppend>, SessionLogError> {
        verify_after(
            (&self.session, self.len(), &self.hasher),
            (after, transactions),
            signature,
            signer,
        )
    }

    /// Appends transactions checked by [`Self::verify_append`]; fails, changing nothing, if
    /// the log changed in between. Returns how many transactions were appended.
    pub fn commit(&mut self, verified: VerifiedAppend) -> Result<usize, SessionLogError> {
        if verified.session != self.session {
            return Err(SessionLogError::WrongSession {
                verified: Box::new(verified.session),
                target: Box::new(self.session.clone()),
            });
        }
        self.check_base(verified.base_len, &verified.base_hash)?;
        let count = verified.transactions.len();
        let bytes: usize = verified
            .transactions
            .iter()
            .map(Transaction::size_bytes)
            .sum();
        self.transactions.extend(verified.transactions);
        self.decoded.resize(self.transactions.len());
        self.hasher = verified.hasher;
        self.signer.get_or_insert(verified.signer);
        self.record_signature(bytes, verified.signature);
        Ok(count)
    }

    /// Whether the log stands where an append was verified: `len` transactions with the
    /// running hash `hash` (a [`SessionLogError::Stale`] or [`SessionLogError::Forked`] if
    /// not).
    pub fn check_base(&self, len: usize, hash: &Hash) -> Result<(), SessionLogError> {
        if len != self.len() {
            return Err(SessionLogError::Stale {
                session: Box::new(self.session.clone()),
                expected: len,
                actual: self.len(),
            });
        }
        if &self.last_hash() != hash {
            return Err(SessionLogError::Forked {
                session: Box::new(self.session.clone()),
            });
        }
        Ok(())
    }

    /// Verifies and appends new transactions, all or nothing: on any error the log is
    /// unchanged. Returns how many transactions were new.
    pub fn try_append(
        &mut self,
        after: usize,
        transactions: &[Transaction],
        signature: &Signature,
        signer: &VerifyingKey,
    ) -> Result<usize, SessionLogError> {
        match self.verify_append(after, transactions, signature, signer)? {
            Some(verified) => self.commit(verified),
            None => Ok(0),
        }
    }

    /// Appends a transaction written by this session's own agent and signs the new hash.
    /// Fails (changing nothing) if the changes exceed 1 MiB.
    pub fn append_own(
        &mut self,
        transaction: Transaction,
        secret: &SignerSecret,
    ) -> Result<Signature, SessionLogError> {
        transaction.check_size()?;
        let bytes = transaction.size_bytes();
        self.hasher.update(transaction.canonical_json().as_bytes());
        self.transactions.push(transaction);
        self.decoded.resize(self.transactions.len());
        let signature = sign_hash(secret, &self.last_hash());
        self.record_signature(bytes, signature);
        Ok(signature)
    }

    /// Appends a transaction written by this session's own agent without signing it yet,
    /// unless it closes a checkpoint (more than [`MAX_RECOMMENDED_TX_SIZE`] bytes since the
    /// last one), which needs its own signature. [`SessionLog::sign_pending`] signs the rest:
    /// the wire carries only the last signature of a piece, so a batch of transactions costs
    /// one signature, and the pieces are the same as when every transaction is signed.
    pub fn append_own_deferred(
        &mut self,
        transaction: Transaction,
        secret: &SignerSecret,
    ) -> Result<(), SessionLogError> {
        transaction.check_size()?;
        let bytes = transaction.size_bytes();
        self.hasher.update(transaction.canonical_json().as_bytes());
        self.transactions.push(transaction);
        self.decoded.resize(self.transactions.len());
        if self.bytes_since_checkpoint + bytes > MAX_RECOMMENDED_TX_SIZE {
            let signature = sign_hash(secret, &self.last_hash());
            self.record_signature(bytes, signature);
        } else {
            self.bytes_since_checkpoint += bytes;
        }
        Ok(())
    }

    /// How many transactions the last signature covers (what can be sent).
    pub fn signed_len(&self) -> usize {
        self.signed_len
    }

    /// Whether own transactions wait for [`SessionLog::sign_pending`].
    pub fn has_unsigned(&self) -> bool {
        self.signed_len < self.transactions.len()
    }

    /// Signs the transactions appended with [`SessionLog::append_own_deferred`] since the
    /// last signature; returns whether there were any.
    pub fn sign_pending(&mut self, secret: &SignerSecret) -> bool {
        if !self.has_unsigned() {
            return false;
        }
        self.last_signature = Some(sign_hash(secret, &self.last_hash()));
        self.signed_len = self.transactions.len();
        true
    }

    /// Where the log stands now, to [`SessionLog::rewind`] to later.
    pub fn mark(&self) -> SessionMark {
        SessionMark {
            session: self.session.clone(),
            len: self.transactions.len(),
            hasher: self.hasher.clone(),
            last_signature: self.last_signature,
            bytes_since_checkpoint: self.bytes_since_checkpoint,
            signer: self.signer.clone(),
            signed_len: self.signed_len,
        }
    }

    /// Cuts the log back to `mark`: the transactions after it and the in-between signatures
    /// remembered for them are dropped, and hash, signatures and checkpoint counter are as
    /// they were. Fails, changing nothing, if the mark belongs to another session or the log
    /// is shorter than the mark. Returns how many transactions were dropped.
    pub fn rewind(&mut self, mark: SessionMark) -> Result<usize, SessionLogError> {
        if mark.session != self.session {
            return Err(SessionLogError::WrongSession {
                verified: Box::new(mark.session),
                target: Box::new(self.session.clone()),
            });
        }
        let len = self.transactions.len();
        if len < mark.len {
            return Err(SessionLogError::Stale {
                session: Box::new(self.session.clone()),
                expected: mark.len,
                actual: len,
            });
        }
        self.transactions.truncate(mark.len);
        self.decoded.resize(mark.len);
        // Checkpoints are keyed by the index of the transaction they follow.
        drop(self.signature_after.split_off(&mark.len));
        self.hasher = mark.hasher;
        self.last_signature = mark.last_signature;
        self.bytes_since_checkpoint = mark.bytes_since_checkpoint;
        self.signer = mark.signer;
        self.signed_len = mark.signed_len;
        Ok(len - mark.len)
    }

    /// Sets the last signature after `bytes` more bytes of changes, and remembers it as an
    /// in-between signature once more than [`MAX_RECOMMENDED_TX_SIZE`] bytes accumulated since
    /// the last one (as the cojson Rust core does, counting UTF-8 bytes).
    fn record_signature(&mut self, bytes: usize, signature: Signature) {
        self.bytes_since_checkpoint += bytes;
        if self.bytes_since_checkpoint > MAX_RECOMMENDED_TX_SIZE {
            let last = self.len().saturating_sub(1);
            self.signature_after.insert(last, signature);
            self.bytes_since_checkpoint = 0;
        }
        self.last_signature = Some(signature);
        self.signed_len = self.transactions.len();
    }

    /// The transactions after the first `known_count`, split at in-between signatures as
    /// `newContentSince` splits them. Empty when there is nothing new.
    pub fn pieces_since(&self, known_count: usize) -> Vec<SessionPiece<'_>> {
        let mut pieces = Vec::new();
        let Some(last_signature) = self.last_signature.as_ref() else {
            return pieces;
        };
        let mut start = known_count;
        for (&index, signature) in self.signature_after.range(known_count..) {
            if let Some(transactions) = self.transactions.get(start..=index) {
                pieces.push(SessionPiece {
                    after: start,
                    transactions,
                    last_signature: signature,
                });
            }
            start = index + 1;
        }
        // Own transactions still waiting for `sign_pending` are not sent.
        let signed = self.transactions.get(start..self.signed_len);
        if let Some(transactions) = signed.filter(|t| !t.is_empty()) {
            pieces.push(SessionPiece {
                after: start,
                transactions,
                last_signature,
            });
        }
        pieces
    }
}
