//! Content checked before it reaches a node, so that the costly part of an import runs
//! outside the lock a node is shared under:
//!
//! 1. [`LocalNode::import_basis`] (with the node, briefly): the little that verifying needs
//!    of what the node holds — where the sessions the content names stand in the CoValues it
//!    holds, the signing keys and headers of the accounts authoring them;
//! 2. [`ImportBasis::prepare`] (without the node): every message is hashed and its signatures
//!    checked against those bases, one after the other (a piece continues where the one
//!    before it left its session); [`PreparedImport::decode_ahead`] (without the node, for
//!    large content) decrypts and parses the new CoValues' private transactions on a scratch
//!    node of the same reader;
//! 3. [`LocalNode::import_prepared`] (with the node), message by message as
//!    [`LocalNode::import`] would: what was verified commits where the node still stands as
//!    it did (same lengths, same running hashes, same signers), else the message is verified
//!    again then; [`LocalNode::adopt_decoded`] takes what was decoded ahead for the CoValues
//!    whose transactions are the same.
//!
//! Nothing is weakened: a message commits only transactions whose signature was checked by
//! the key that signs their session in the node, after the very transactions the node holds;
//! everything else (dependencies, queueing, errors) is decided by the node as for any import.
//! Decoded changes are a pure function of a transaction, its position and a key, and a read
//! only takes those made with the key it finds itself.

use std::collections::{HashMap, HashSet};

use super::content::ContentMessage;
use super::header::CoValueHeader;
use super::keys::Reader;
use super::node::LocalNode;
use super::session_log::SessionBase;
use super::verified_state::{VerifiedCoValue, VerifiedContent};
use super::{SignerUnavailable, Transaction};
use crate::crypto::{CoID, SessionAuthor, SessionID, VerifyingKey};

/// What verifying content without its node needs of the node (see the module documentation).
#[derive(Debug)]
pub struct ImportBasis {
    reader: Reader,
    /// Where the sessions the content names stand, in the CoValues the node holds.
    bases: HashMap<CoID, HashMap<SessionID, SessionBase>>,
    /// The signing keys of the accounts authoring the content that the node holds.
    signers: HashMap<CoID, VerifyingKey>,
    /// Their headers (a scratch node that decodes ahead needs their agents).
    account_headers: HashMap<CoID, CoValueHeader>,
}

/// One content message and what was verified of it beforehand, if it could be (see
/// [`LocalNode::import_prepared`]).
#[derive(Debug)]
pub struct PreparedMessage {
    message: ContentMessage,
    verified: Option<VerifiedContent>,
}

impl PreparedMessage {
    /// A message nothing was verified of: the node verifies it.
    pub fn unverified(message: ContentMessage) -> Self {
        Self {
            message,
            verified: None,
        }
    }

    /// The message.
    pub fn message(&self) -> &ContentMessage {
        &self.message
    }

    /// Whether it was verified beforehand.
    pub fn is_verified(&self) -> bool {
        self.verified.is_some()
    }

    pub(crate) fn into_parts(self) -> (ContentMessage, Option<VerifiedContent>) {
        (self.message, self.verified)
    }
}

/// Content messages verified without their node, in their order, and what was decoded of them
/// ahead, if asked for.
#[derive(Debug)]
pub struct PreparedImport {
    messages: Vec<PreparedMessage>,
    /// Who reads (for decoding ahead; none for messages nothing was prepared of).
    reader: Option<Reader>,
    account_headers: HashMap<CoID, CoValueHeader>,
    /// The CoValues the node held when the basis was taken.
    held: HashSet<CoID>,
    /// The CoValues the node did not hold, as verified (built by `decode_ahead`).
    scratch: Option<LocalNode>,
}

impl LocalNode {
    /// What [`ImportBasis::prepare`] needs of this node to verify `messages` without it:
    /// cheap (no hashing or signature checks), for taking under the node's lock.
    pub fn import_basis(&self, messages: &[ContentMessage]) -> ImportBasis {
        let mut basis = ImportBasis {
            reader: self.reader().clone(),
            bases: HashMap::new(),
            signers: HashMap::new(),
            account_headers: HashMap::new(),
        };
        for message in messages {
            if let Some(value) = self.get(&message.id) {
                let bases = basis.bases.entry(message.id.clone()).or_default();
                for (session, _) in &message.new {
                    if !bases.contains_key(session)
                        && let Some(base) = value.session_base(session)
                    {
                        bases.insert(session.clone(), base);
                    }
                }
            }
            for (session, _) in &message.new {
                let SessionAuthor::Account(account) = session.author() else {
                    continue;
                };
                if basis.signers.contains_key(account) {
                    continue;
                }
                if let (Some(key), Some(value)) = (self.account_signer(account), self.get(account))
                {
                    basis.signers.insert(account.clone(), key.clone());
                    basis
                        .account_headers
                        .insert(account.clone(), value.header().clone());
                }
            }
        }
        basis
    }

    /// Imports what [`ImportBasis::prepare`] verified, message by message (see
    /// [`LocalNode::import_prepared`]), stopping at the first error; returns each message's
    /// outcome. The caller decides what to do with what was queued.
    ///
    /// Then takes what was decoded ahead (see [`LocalNode::adopt_decoded`]).
    pub fn import_all_prepared(
        &mut self,
        prepared: PreparedImport,
    ) -> Result<Vec<super::ImportOutcome>, (usize, super::NodeError)> {
        let PreparedImport {
            messages, scratch, ..
        } = prepared;
        let mut outcomes = Vec::with_capacity(messages.len());
        for (index, message) in messages.into_iter().enumerate() {
            outcomes.push(self.import_prepared(message).map_err(|e| (index, e))?);
        }
        if let Some(scratch) = &scratch {
            self.adopt_decoded(scratch);
        }
        Ok(outcomes)
    }

    /// Takes the decoded changes of `scratch`'s CoValues for the same CoValues of this node
    /// whose sessions hold the same transactions (see [`super::SessionLog::adopt_decoded`]).
    pub fn adopt_decoded(&self, scratch: &LocalNode) {
        for id in scratch.ids() {
            let (Some(ours), Some(theirs)) = (self.get(id), scratch.get(id)) else {
                continue;
            };
            for log in theirs.sessions() {
                if let Some(our_log) = ours.session(log.session_id()) {
                    our_log.adopt_decoded(log);
                }
            }
        }
    }
}

impl ImportBasis {
    /// Verifies `messages` in order without the node (see the module documentation). A
    /// message that cannot be verified here (its signer is unknown here, its CoValue's header
    /// is nowhere, it does not verify) is left to the node, which decides on it as on any
    /// import; so is every later message of its CoValue.
    pub fn prepare(self, messages: Vec<ContentMessage>) -> PreparedImport {
        let ImportBasis {
            reader,
            mut bases,
            mut signers,
            account_headers,
        } = self;
        // Accounts the messages bring sign for themselves from their first piece on, whatever
        // the order of the pieces (an id is the hash of its header: one key per account id).
        for message in &messages {
            if let Some(header) = &message.header
                && let Some(agent) = header.account_agent()
                && !signers.contains_key(&message.id)
                && header.id() == message.id
                && let Ok(key) = VerifyingKey::new(&agent.signer)
            {
                signers.insert(message.id.clone(), key);
            }
        }
        let signer_for = |author: &SessionAuthor| -> Result<VerifyingKey, SignerUnavailable> {
            match author {
                SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
                SessionAuthor::Account(account) => signers
                    .get(account)
                    .cloned()
                    .ok_or_else(|| SignerUnavailable::AccountNotLoaded(account.clone())),
            }
        };
        let held: HashSet<CoID> = bases.keys().cloned().collect();
        let mut with_header = held.clone();
        let mut given_up: HashSet<CoID> = HashSet::new();
        let mut prepared = Vec::with_capacity(messages.len());
        for message in messages {
            if message.header.is_some() {
                with_header.insert(message.id.clone());
            }
            let verifiable = with_header.contains(&message.id) && !given_up.contains(&message.id);
            let sessions = bases.entry(message.id.clone()).or_default();
            let verified = verifiable
                .then(|| VerifiedContent::verify_against(&message, |s| sessions.get(s), signer_for))
                .and_then(Result::ok);
            match &verified {
                Some(verified) => {
                    for append in verified.appends() {
                        sessions
                            .entry(append.session_id().clone())
                            .or_insert_with(|| SessionBase::empty(append.session_id().clone()))
                            .advance(append);
                    }
                }
                None => {
                    given_up.insert(message.id.clone());
                }
            }
            prepared.push(PreparedMessage { message, verified });
        }
        PreparedImport {
            messages: prepared,
            reader: Some(reader),
            account_headers,
            held,
            scratch: None,
        }
    }
}

impl PreparedImport {
    /// Messages nothing was verified of (the node verifies them as it imports them).
    pub fn unverified(messages: Vec<ContentMessage>) -> Self {
        Self {
            messages: messages
                .into_iter()
                .map(PreparedMessage::unverified)
                .collect(),
            reader: None,
            account_headers: HashMap::new(),
            held: HashSet::new(),
            scratch: None,
        }
    }

    /// The messages, in order.
    pub fn messages(&self) -> &[PreparedMessage] {
        &self.messages
    }

    /// The bytes of private changes (as sent: encrypted, base64) the messages carry: what
    /// decoding them would decrypt and parse.
    pub fn private_bytes(&self) -> usize {
        self.messages
            .iter()
            .flat_map(|m| &m.message.new)
            .flat_map(|(_, content)| &content.new_transactions)
            .filter(|tx| matches!(tx, Transaction::Private { .. }))
            .map(Transaction::size_bytes)
            .sum()
    }

    /// Decrypts and parses ahead, without the node, the transactions of the CoValues the
    /// node did not hold, as the node's reader would: on a scratch node holding them as
    /// verified (with the accounts authoring them), whose decoded changes
    /// [`LocalNode::import_all_prepared`] then lends to the node. What cannot be decoded here
    /// (a key that only the node's other CoValues give) is decoded by the node's reads, as
    /// usual.
    pub fn decode_ahead(&mut self) {
        let Some(reader) = &self.reader else {
            return;
        };
        let mut scratch = LocalNode::new(reader.clone());
        for header in self.account_headers.values() {
            // Accounts only say who their agent is here: no content is needed for that.
            let _ = scratch.insert_local(VerifiedCoValue::new(header.clone()));
        }
        let mut built: Vec<VerifiedCoValue> = Vec::new();
        let mut failed: HashSet<CoID> = HashSet::new();
        for prepared in &self.messages {
            let message = &prepared.message;
            if failed.contains(&message.id) || self.held.contains(&message.id) {
                continue;
            }
            let Some(verified) = &prepared.verified else {
                failed.insert(message.id.clone());
                continue;
            };
            let position = built.iter().position(|v| v.id() == &message.id);
            let value = match (position, &message.header) {
                (Some(index), _) => built.get_mut(index),
                (None, Some(header)) => {
                    match VerifiedCoValue::with_id(&message.id, header.clone()) {
                        Ok(value) => {
                            built.push(value);
                            built.last_mut()
                        }
                        Err(_) => None,
                    }
                }
                (None, None) => None,
            };
            let committed = value.is_some_and(|v| v.commit_content(verified.clone()).is_ok());
            if !committed {
                failed.insert(message.id.clone());
            }
        }
        let mut decode = Vec::new();
        for value in built {
            if failed.contains(value.id()) {
                continue;
            }
            if value.header().account_agent().is_none() {
                decode.push(value.id().clone());
            }
            let _ = scratch.insert_local(value);
        }
        for id in &decode {
            // Decodes every transaction it can (kept in the scratch's logs); what it finds
            // unreadable is judged again by the node.
            let _ = scratch.undecryptable(id);
        }
        self.scratch = Some(scratch);
    }
}
