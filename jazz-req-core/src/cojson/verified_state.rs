//! A CoValue whose every transaction has been verified: its header, its id, and the log of
//! each session in the order the sessions were first seen (cojson `VerifiedState`).
//!
//! Content is applied in two steps so that the expensive part can run outside a lock:
//! [`VerifiedCoValue::verify_content`] hashes and checks signatures on `&self` (or
//! [`VerifiedContent::verify_against`] on [`SessionBase`]s taken from it, without it), and
//! [`VerifiedCoValue::commit_content`] appends, only where every session of the message still
//! stands where it was verified. [`VerifiedCoValue::apply_content`] does both.

use std::collections::{HashMap, HashSet};

use super::content::{ContentMessage, SessionNewContent};
use super::error::{ContentError, HeaderError, SessionLogError, SignerUnavailable};
use super::header::{CoValueHeader, Priority};
use super::known_state::KnownState;
use super::session_log::{BaseRef, SessionBase, SessionLog, SessionMark, VerifiedAppend};
use super::transaction::Transaction;
use crate::crypto::{
    CoID, KeyID, KeySecret, SessionAuthor, SessionID, Signature, SignerSecret, VerifyingKey,
};

/// A CoValue with verified session logs.
#[derive(Clone, Debug)]
pub struct VerifiedCoValue {
    id: CoID,
    header: CoValueHeader,
    sessions: Vec<SessionLog>,
    index: HashMap<SessionID, usize>,
    /// Changes whenever a session may change (unique across every value of the process).
    revision: u64,
    /// The revision of the last rewind: what was read before it may no longer be there.
    rewound_at: u64,
}

/// Where revisions come from: one counter for the process, so that a value evicted and
/// loaded again never repeats a revision a cache kept.
static NEXT_REVISION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_revision() -> u64 {
    NEXT_REVISION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The verified sessions of a content message, ready for [`VerifiedCoValue::commit_content`].
#[derive(Clone, Debug)]
pub struct VerifiedContent {
    id: CoID,
    appends: Vec<VerifiedAppend>,
    /// The message's other sessions (nothing new for them), with the length they had: a log
    /// of another length would take (or refuse) something of them, so the content only
    /// commits where they still have it.
    unchanged: Vec<(SessionID, usize)>,
}

impl VerifiedContent {
    /// The sessions with new transactions, and how many each brings.
    pub fn new_counts(&self) -> impl Iterator<Item = (&SessionID, usize)> {
        self.appends
            .iter()
            .map(|a| (a.session_id(), a.transactions().len()))
    }

    /// The CoValue the content belongs to.
    pub fn id(&self) -> &CoID {
        &self.id
    }

    /// The verified appends, in message order.
    pub fn appends(&self) -> &[VerifiedAppend] {
        &self.appends
    }

    /// Verifies every session of `message` without the CoValue: `base_of` says where each of
    /// its sessions stands (`None`: no transactions yet), `signer_for` resolves the signer of
    /// a session no signature has verified yet. What [`VerifiedCoValue::verify_content`]
    /// gives on a CoValue whose sessions stand there (its header is not checked here:
    /// committing does).
    pub fn verify_against<'a>(
        message: &ContentMessage,
        base_of: impl Fn(&SessionID) -> Option<&'a SessionBase>,
        signer_for: impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
    ) -> Result<Self, ContentError> {
        verify_message(
            message,
            |session| base_of(session).map(SessionBase::base_ref),
            &signer_for,
        )
    }
}

/// Verifies one session's new content against where it stands: `Ok(None)` when it brings
/// nothing new (no signature check then). The signer is the one that verified the session so
/// far, else `signer_for`'s.
fn verify_session(
    base: BaseRef<'_>,
    content: &SessionNewContent,
    signer_for: &impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
) -> Result<Option<VerifiedAppend>, ContentError> {
    let session = base.session;
    if base
        .new_part(content.after, &content.new_transactions)?
        .is_empty()
    {
        return Ok(None);
    }
    let signer = match base.signer {
        Some(signer) => signer.clone(),
        None => signer_for(session.author()).map_err(|source| ContentError::SignerUnavailable {
            session: Box::new(session.clone()),
            source,
        })?,
    };
    Ok(base.verify_append(
        content.after,
        &content.new_transactions,
        &content.last_signature,
        &signer,
    )?)
}

/// Verifies each session of `message` against where `base_of` says it stands.
fn verify_message<'a>(
    message: &ContentMessage,
    base_of: impl Fn(&SessionID) -> Option<BaseRef<'a>>,
    signer_for: &impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
) -> Result<VerifiedContent, ContentError> {
    let empty_hasher = blake3::Hasher::new();
    let mut seen = HashSet::with_capacity(message.new.len());
    let mut appends = Vec::with_capacity(message.new.len());
    let mut unchanged = Vec::new();
    for (session, content) in &message.new {
        if !seen.insert(session) {
            return Err(ContentError::DuplicateSession(Box::new(session.clone())));
        }
        let base = base_of(session).unwrap_or(BaseRef {
            session,
            len: 0,
            hasher: &empty_hasher,
            signer: None,
        });
        match verify_session(base, content, signer_for)? {
            Some(append) => appends.push(append),
            None => unchanged.push((session.clone(), base.len)),
        }
    }
    Ok(VerifiedContent {
        id: message.id.clone(),
        appends,
        unchanged,
    })
}

/// What applying a content message added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppliedContent {
    /// The sessions that got new transactions, with how many, in message order.
    pub appended: Vec<(SessionID, usize)>,
}

impl AppliedContent {
    /// The total number of new transactions.
    pub fn total(&self) -> usize {
        self.appended.iter().map(|(_, n)| n).sum()
    }
}

impl VerifiedCoValue {
    /// A new CoValue with no transactions; its id is computed from `header`.
    pub fn new(header: CoValueHeader) -> Self {
        let revision = next_revision();
        Self {
            id: header.id(),
            header,
            sessions: Vec::new(),
            index: HashMap::new(),
            revision,
            rewound_at: revision,
        }
    }

    /// A CoValue with no transactions, checking that `header` hashes to `id`.
    pub fn with_id(id: &CoID, header: CoValueHeader) -> Result<Self, HeaderError> {
        let value = Self::new(header);
        if &value.id != id {
            return Err(HeaderError::IdMismatch {
                expected: id.clone(),
                actual: value.id,
            });
        }
        Ok(value)
    }

    /// A CoValue from its first content message, which must carry the header; every session
    /// must verify.
    pub fn from_content(
        message: &ContentMessage,
        signer_for: impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
    ) -> Result<(Self, AppliedContent), ContentError> {
        let header = message
            .header
            .clone()
            .ok_or_else(|| ContentError::MissingHeader(message.id.clone()))?;
        let mut value = Self::with_id(&message.id, header)?;
        let applied = value.apply_content(message, signer_for)?;
        Ok((value, applied))
    }

    /// The id.
    pub fn id(&self) -> &CoID {
        &self.id
    }

    /// A number that changes whenever the value's transactions may have changed: reads
    /// derived from it can be kept while it stays the same.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The revision at which transactions were last taken away (a rewind), or at which the
    /// value was made: a read kept from an earlier revision can be extended with what was
    /// appended since only when this is not later than that revision.
    pub fn rewound_at(&self) -> u64 {
        self.rewound_at
    }

    /// The header.
    pub fn header(&self) -> &CoValueHeader {
        &self.header
    }

    /// The priority of this CoValue's content messages.
    pub fn priority(&self) -> Priority {
        self.header.priority()
    }

    /// The log of `session`, if it has transactions.
    pub fn session(&self, session: &SessionID) -> Option<&SessionLog> {
        self.index.get(session).and_then(|&i| self.sessions.get(i))
    }

    /// The session logs, in the order the sessions were first seen.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionLog> {
        self.sessions.iter()
    }

    /// What we know: the header and each session's transaction count.
    pub fn known_state(&self) -> KnownState {
        KnownState::from_counts(
            self.id.clone(),
            self.sessions
                .iter()
                .map(|log| (log.session_id(), log.len())),
        )
    }

    fn check_message(&self, message: &ContentMessage) -> Result<(), ContentError> {
        if message.id != self.id {
            return Err(ContentError::WrongCoValue {
                expected: self.id.clone(),
                actual: message.id.clone(),
            });
        }
        match &message.header {
            Some(header) if header != &self.header => Err(HeaderError::IdMismatch {
                expected: self.id.clone(),
                actual: header.id(),
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// Verifies every session of `message` against this CoValue without changing it. Fails
    /// on the first session that has a gap, does not verify, or whose signer is unavailable.
    pub fn verify_content(
        &self,
        message: &ContentMessage,
        signer_for: impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
    ) -> Result<VerifiedContent, ContentError> {
        self.check_message(message)?;
        verify_message(
            message,
            |session| self.session(session).map(SessionLog::base_ref),
            &signer_for,
        )
    }

    /// Where `session` stands, for verifying content without this CoValue (see
    /// [`VerifiedContent::verify_against`]); `None` when it has no transactions.
    pub fn session_base(&self, session: &SessionID) -> Option<SessionBase> {
        self.session(session).map(SessionLog::base)
    }

    /// Appends content checked by [`Self::verify_content`] (or
    /// [`VerifiedContent::verify_against`]), all or nothing: fails, changing nothing, if any
    /// session of its message changed in between (another length, or for an append, other
    /// transactions than those it was verified after).
    pub fn commit_content(
        &mut self,
        verified: VerifiedContent,
    ) -> Result<AppliedContent, ContentError> {
        if verified.id != self.id {
            return Err(ContentError::WrongCoValue {
                expected: self.id.clone(),
                actual: verified.id,
            });
        }
        for (session, len) in &verified.unchanged {
            let actual = self.session(session).map_or(0, SessionLog::len);
            if actual != *len {
                return Err(SessionLogError::Stale {
                    session: Box::new(session.clone()),
                    expected: *len,
                    actual,
                }
                .into());
            }
        }
        for append in &verified.appends {
            match self.session(append.session_id()) {
                Some(log) => log.check_base(append.base_len(), append.base_hash())?,
                None if append.base_len() == 0 => {}
                None => {
                    return Err(SessionLogError::Stale {
                        session: Box::new(append.session_id().clone()),
                        expected: append.base_len(),
                        actual: 0,
                    }
                    .into());
                }
            }
        }
        let mut applied = AppliedContent::default();
        for append in verified.appends {
            let session = append.session_id().clone();
            let count = self.log_mut(&session).commit(append)?;
            applied.appended.push((session, count));
        }
        Ok(applied)
    }

    /// Commits content verified beforehand for `message` (by
    /// [`VerifiedContent::verify_against`], e.g. outside a lock), checking first what
    /// verifying it here would have used: `message` is for this CoValue with its header, and
    /// each append was checked with the key that signs its session here (the key that
    /// verified the session so far, else `signer_for`'s). Then as
    /// [`Self::commit_content`]: what is committed is exactly what verifying `message` now
    /// would give, or nothing changes and an error says why (verify it then).
    pub fn commit_verified(
        &mut self,
        message: &ContentMessage,
        verified: VerifiedContent,
        signer_for: impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
    ) -> Result<AppliedContent, ContentError> {
        self.check_message(message)?;
        let in_message: HashSet<&SessionID> = message.new.iter().map(|(s, _)| s).collect();
        let mut sessions = verified
            .appends
            .iter()
            .map(VerifiedAppend::session_id)
            .chain(verified.unchanged.iter().map(|(session, _)| session));
        let same_sessions = in_message.len() == verified.appends.len() + verified.unchanged.len()
            && sessions.all(|session| in_message.contains(session));
        if verified.id != message.id || !same_sessions {
            return Err(ContentError::WrongCoValue {
                expected: message.id.clone(),
                actual: verified.id,
            });
        }
        for append in &verified.appends {
            let session = append.session_id();
            let expected = match self.session(session).and_then(SessionLog::signer) {
                Some(signer) => signer.clone(),
                None => signer_for(session.author()).map_err(|source| {
                    ContentError::SignerUnavailable {
                        session: Box::new(session.clone()),
                        source,
                    }
                })?,
            };
            if &expected != append.signer() {
                return Err(ContentError::OtherSigner {
                    session: Box::new(session.clone()),
                });
            }
        }
        self.commit_content(verified)
    }

    /// Verifies and applies `message`, all or nothing: on any error nothing of it is applied.
    /// Transactions we already have are skipped without a signature check.
    pub fn apply_content(
        &mut self,
        message: &ContentMessage,
        signer_for: impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
    ) -> Result<AppliedContent, ContentError> {
        let verified = self.verify_content(message, signer_for)?;
        self.commit_content(verified)
    }

    /// Applies each session of `message` on its own, as cojson's sync does: a session with a
    /// gap or a bad signature is skipped and reported, the others are applied. Returns the
    /// outcome per session, in message order (the number of new transactions, or the error).
    pub fn apply_content_each_session(
        &mut self,
        message: &ContentMessage,
        signer_for: impl Fn(&SessionAuthor) -> Result<VerifyingKey, SignerUnavailable>,
    ) -> Vec<(SessionID, Result<usize, ContentError>)> {
        if let Err(error) = self.check_message(message) {
            return message
                .new
                .iter()
                .map(|(session, _)| (session.clone(), Err(error.clone())))
                .collect();
        }
        let empty_hasher = blake3::Hasher::new();
        let mut outcomes = Vec::with_capacity(message.new.len());
        for (session, content) in &message.new {
            let base = self.session(session).map_or(
                BaseRef {
                    session,
                    len: 0,
                    hasher: &empty_hasher,
                    signer: None,
                },
                SessionLog::base_ref,
            );
            let outcome = match verify_session(base, content, &signer_for) {
                Ok(Some(append)) => self.log_mut(session).commit(append).map_err(Into::into),
                Ok(None) => Ok(0),
                Err(error) => Err(error),
            };
            outcomes.push((session.clone(), outcome));
        }
        outcomes
    }

    /// Appends a transaction written by this node in `session` and signs it with `secret`
    /// (which must be the signer of the session's author). Returns the new signature.
    pub fn append_own(
        &mut self,
        session: &SessionID,
        transaction: Transaction,
        secret: &SignerSecret,
    ) -> Result<Signature, SessionLogError> {
        transaction.check_size()?;
        self.log_mut(session).append_own(transaction, secret)
    }

    /// Appends a transaction written by this node in `session` without signing it yet (see
    /// [`SessionLog::append_own_deferred`]); [`Self::sign_pending`] signs.
    pub fn append_own_deferred(
        &mut self,
        session: &SessionID,
        transaction: Transaction,
        secret: &SignerSecret,
    ) -> Result<(), SessionLogError> {
        self.log_mut(session)
            .append_own_deferred(transaction, secret)
    }

    /// Signs every session's own transactions that wait for a signature.
    pub fn sign_pending(&mut self, secret: &SignerSecret) -> bool {
        let mut signed = false;
        for log in &mut self.sessions {
            signed |= log.sign_pending(secret);
        }
        signed
    }

    /// Whether own transactions of some session wait for [`Self::sign_pending`].
    pub fn has_unsigned(&self) -> bool {
        self.sessions.iter().any(SessionLog::has_unsigned)
    }

    /// Where `session` stands now, for [`Self::rewind_session`]; `None` when it has no log.
    pub fn session_mark(&self, session: &SessionID) -> Option<SessionMark> {
        self.session(session).map(SessionLog::mark)
    }

    /// Cuts `session` back to `mark` (see [`SessionLog::rewind`]); with `None` (the session
    /// had no log when marked) its log is removed and later sessions keep their order.
    /// Returns how many transactions were dropped.
    pub fn rewind_session(
        &mut self,
        session: &SessionID,
        mark: Option<SessionMark>,
    ) -> Result<usize, SessionLogError> {
        self.revision = next_revision();
        self.rewound_at = self.revision;
        match mark {
            Some(mark) => match self
                .index
                .get(session)
                .copied()
                .and_then(|index| self.sessions.get_mut(index))
            {
                Some(log) => log.rewind(mark),
                None if mark.is_empty() => Ok(0),
                None => Err(SessionLogError::Stale {
                    session: Box::new(session.clone()),
                    expected: mark.len(),
                    actual: 0,
                }),
            },
            None => {
                let Some(index) = self.index.remove(session) else {
                    return Ok(0);
                };
                if index >= self.sessions.len() {
                    return Ok(0);
                }
                let removed = self.sessions.remove(index);
                for position in self.index.values_mut() {
                    if *position > index {
                        *position -= 1;
                    }
                }
                Ok(removed.len())
            }
        }
    }

    /// A private transaction for the next position of `session`, encrypted with `key`.
    pub fn new_private_transaction(
        &self,
        session: &SessionID,
        changes_json: &str,
        meta_json: Option<&str>,
        key: (&KeyID, &KeySecret),
        made_at: u64,
    ) -> Transaction {
        let next = self.session(session).map_or(0, SessionLog::len);
        Transaction::new_private(
            changes_json,
            meta_json,
            key,
            (&self.id, session, next),
            made_at,
        )
    }

    /// The log of `session`, created empty (and placed last) if new.
    fn log_mut(&mut self, session: &SessionID) -> &mut SessionLog {
        self.revision = next_revision();
        let index = match self.index.get(session) {
            Some(&index) => index,
            None => {
                let index = self.sessions.len();
                self.sessions.push(SessionLog::new(session.clone()));
                self.index.insert(session.clone(), index);
                index
            }
        };
        // In bounds: `self.index` only holds positions of `self.sessions`.
        &mut self.sessions[index]
    }
}
