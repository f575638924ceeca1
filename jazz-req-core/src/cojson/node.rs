//! The local node: the CoValues this peer holds, verified as they arrive, with content that
//! waits until the accounts that sign it are loaded (as cojson's sync queue does).

use std::collections::HashMap;
use std::sync::Arc;

use super::content::ContentMessage;
use super::header::{CoValueHeader, Ruleset};
pub(crate) use super::kept_groups::GroupCache;
use super::kept_groups::KeptGroups;
use super::keys::{AgentResolver, Reader};
use super::node_error::NodeError;
use super::prepared::PreparedMessage;
use super::signer::AccountSigners;
use super::verified_state::{AppliedContent, VerifiedCoValue, VerifiedContent};
use crate::crypto::{AgentID, CoID, SessionAuthor};

/// Exported pieces by CoValue, with the signed transaction count they were made at.
pub(crate) type ExportCache = HashMap<CoID, (usize, Arc<Vec<super::node_export::ExportedPiece>>)>;

/// What happened to an imported content message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Verified and applied (possibly nothing new).
    Applied(AppliedContent),
    /// Waiting for these CoValues (accounts that sign it, its owner group) to arrive.
    Queued {
        /// What it waits for.
        missing: Vec<CoID>,
    },
}

/// The CoValues one peer holds, and who that peer is.
pub struct LocalNode {
    reader: Reader,
    values: HashMap<CoID, VerifiedCoValue>,
    /// The CoValues in arrival order, each with its arrival number; an entry whose number
    /// is not `arrived[id]` any more (evicted, or evicted and loaded again) is stale and
    /// skipped. Stale entries are swept once they are half of the list, so that evicting is
    /// O(1) amortised whatever the node holds.
    arrival: Vec<(u64, CoID)>,
    /// The arrival number of each CoValue held.
    arrived: HashMap<CoID, u64>,
    /// The next arrival number.
    next_arrival: u64,
    signers: AccountSigners,
    pending: Pending,
    /// This node's sessions for writing, made on the first write.
    pub(crate) sessions: Option<super::node_write::WriteSessions>,
    /// Where accepted content is persisted, if anywhere.
    pub(crate) storage: Option<std::sync::Arc<dyn crate::storage::Storage>>,
    /// Imported content not yet stored.
    pub(crate) unsaved: Vec<ContentMessage>,
    /// Writes are made even where this node's role does not allow them (content every peer
    /// refuses: for tests that craft it).
    pub(crate) writes_without_role: bool,
    /// Whether imported content is queued (in `unsaved`) even without a storage: for a node
    /// whose owner takes it to push to a sync server.
    pub(crate) queue_imports: bool,
    /// CoValues this node wrote to since the last flush.
    pub(crate) dirty: Vec<CoID>,
    /// For a CoValue of `dirty` that this node did not create: what it held just before this
    /// node's first write to it since the last flush. All of that is stored or queued in
    /// `unsaved` already, so what to store of it is exactly its content since then (no
    /// look-up in the storage, and nothing queued twice).
    pub(crate) queued_from: HashMap<CoID, super::KnownState>,
    /// CoValues this node created since the last flush: none of them is stored yet, so
    /// flushing them needs no look-up in the storage.
    pub(crate) created: std::collections::HashSet<CoID>,
    /// Inside [`LocalNode::batch`]: own transactions are signed once at its end.
    pub(crate) deferring: bool,
    /// Bumped when what groups hold may have changed anywhere (a rollback, content forgotten):
    /// every validated group state older than this is rebuilt. A group or account that
    /// arrives, changes or leaves only makes the states depending on it stale (see
    /// `kept_groups`); map and list changes never affect roles or keys.
    pub(crate) group_generation: u64,
    /// Exported JSON pieces by CoValue, with the transaction count they were made at.
    pub(crate) exported: std::cell::RefCell<ExportCache>,
    /// Validated group states kept between reads.
    pub(crate) group_states: std::cell::RefCell<KeptGroups>,
    /// Reads of values owned by groups, kept while they hold ([`super::owned_read`]).
    pub(crate) owned_reads: std::cell::RefCell<super::owned_read::OwnedReads>,
    /// CoValues with own transactions waiting for a signature (inside a batch).
    pub(crate) unsigned: Vec<CoID>,
    /// The open [`LocalNode::atomically`] scopes: what to undo if they fail.
    pub(crate) atomic: super::node_atomic::AtomicScopes,
}

impl LocalNode {
    /// An empty node reading as `reader`.
    pub fn new(reader: Reader) -> Self {
        Self {
            reader,
            values: HashMap::new(),
            arrival: Vec::new(),
            arrived: HashMap::new(),
            next_arrival: 0,
            signers: AccountSigners::new(),
            pending: Pending::default(),
            sessions: None,
            storage: None,
            unsaved: Vec::new(),
            queue_imports: false,
            writes_without_role: false,
            dirty: Vec::new(),
            queued_from: HashMap::new(),
            created: std::collections::HashSet::new(),
            deferring: false,
            unsigned: Vec::new(),
            group_generation: 0,
            exported: std::cell::RefCell::new(HashMap::new()),
            group_states: std::cell::RefCell::new(KeptGroups::default()),
            owned_reads: std::cell::RefCell::new(HashMap::new()),
            atomic: super::node_atomic::AtomicScopes::default(),
        }
    }

    /// Who this node reads as.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// The CoValue `id`, if loaded.
    pub fn get(&self, id: &CoID) -> Option<&VerifiedCoValue> {
        self.values.get(id)
    }

    /// The key that verifies the sessions of account `id`, if it is loaded.
    pub fn account_signer(&self, id: &CoID) -> Option<&crate::crypto::VerifyingKey> {
        self.signers.key(id)
    }

    /// The loaded CoValues in arrival order.
    pub fn ids(&self) -> impl Iterator<Item = &CoID> {
        self.arrival
            .iter()
            .filter(|(n, id)| self.arrived.get(id) == Some(n))
            .map(|(_, id)| id)
    }

    /// Records that `id` arrived (it was not held).
    fn note_arrival(&mut self, id: &CoID) {
        let n = self.next_arrival;
        self.next_arrival += 1;
        self.arrived.insert(id.clone(), n);
        self.arrival.push((n, id.clone()));
    }

    /// Records that `id` left; sweeps stale entries once they are half of the list.
    fn note_departure(&mut self, id: &CoID) {
        self.owned_reads.get_mut().remove(id);
        if self.arrived.remove(id).is_some() && self.arrival.len() > 2 * self.arrived.len() + 64 {
            let arrived = &self.arrived;
            self.arrival.retain(|(n, id)| arrived.get(id) == Some(n));
        }
    }

    /// Forgets these CoValues from memory (e.g. a handled request's envelopes, once their
    /// content has been taken for storage). Accounts stay: they sign other content.
    pub fn evict(&mut self, ids: &[CoID]) {
        for id in ids {
            let Some(value) = self.values.get(id) else {
                continue;
            };
            if value.header().account_agent().is_some() {
                continue;
            }
            if matches!(value.header().ruleset, Ruleset::Group { .. }) {
                self.group_states
                    .get_mut()
                    .forget_with_dependents(id.as_str());
            }
            self.values.remove(id);
            self.note_departure(id);
            if let Ok(mut exported) = self.exported.try_borrow_mut() {
                exported.remove(id);
            }
        }
        self.unsaved.retain(|m| !ids.contains(&m.id));
        self.dirty.retain(|id| !ids.contains(id));
        self.created.retain(|id| !ids.contains(id));
        self.unsigned.retain(|id| !ids.contains(id));
    }

    /// Like [`LocalNode::evict`], and accounts leave too (with their signing keys), for what
    /// a refused request brought: nothing of it stays in memory or queued for the store. An
    /// account that leaves is loaded (or brought) again when next needed.
    pub fn evict_with_accounts(&mut self, ids: &[CoID]) {
        for id in ids {
            let is_account = self
                .values
                .get(id)
                .is_some_and(|value| value.header().account_agent().is_some());
            if is_account && self.reader.account.as_ref() != Some(id) {
                self.values.remove(id);
                self.signers.remove(id);
                self.note_departure(id);
                if let Ok(mut exported) = self.exported.try_borrow_mut() {
                    exported.remove(id);
                }
                self.group_states
                    .get_mut()
                    .forget_with_dependents(id.as_str());
            }
        }
        self.evict(ids);
    }

    /// Removes these CoValues from memory entirely, as if they had never been here: the
    /// values, their place in the arrival order, unsaved and queued content naming them, the
    /// write bookkeeping and cached exports (unlike [`LocalNode::evict`], accounts too).
    pub(crate) fn forget(&mut self, ids: &std::collections::HashSet<CoID>) {
        if ids.is_empty() {
            return;
        }
        let exported = self.exported.get_mut();
        for id in ids {
            self.values.remove(id);
            exported.remove(id);
        }
        for id in ids {
            self.note_departure(id);
        }
        self.unsaved.retain(|m| !ids.contains(&m.id));
        self.pending.retain(|m| !ids.contains(&m.id));
        self.dirty.retain(|id| !ids.contains(id));
        self.created.retain(|id| !ids.contains(id));
        self.unsigned.retain(|id| !ids.contains(id));
        self.group_generation += 1;
    }

    /// Whether `id` holds content not yet stored (or taken for the store): written since
    /// the last flush, created since, or imported and queued.
    pub(crate) fn has_unstored(&self, id: &CoID) -> bool {
        self.dirty.contains(id)
            || self.created.contains(id)
            || self.unsaved.iter().any(|message| &message.id == id)
    }

    /// Drops queued content for these CoValues (e.g. what a rejected request brought).
    pub fn discard_pending(&mut self, ids: &[CoID]) {
        self.pending.retain(|m| !ids.contains(&m.id));
    }

    /// Content messages still waiting for their dependencies.
    pub fn pending(&self) -> &[ContentMessage] {
        self.pending.messages()
    }

    /// What `message` needs before it can be applied: the accounts that author its sessions
    /// (their headers give the signers), for a value owned by a group, the group, and the
    /// content of the same CoValue queued before it (`queued_before`): as cojson, once content of
    /// a CoValue waits, what comes after it for that CoValue waits behind it, even without a
    /// header of its own (`queued_before`).
    fn missing_dependencies(&self, message: &ContentMessage, queued_before: bool) -> Vec<CoID> {
        let mut missing = Vec::new();
        if queued_before {
            missing.push(message.id.clone());
        }
        let header = message
            .header
            .as_ref()
            .or_else(|| self.values.get(&message.id).map(VerifiedCoValue::header));
        if let Some(CoValueHeader {
            ruleset: Ruleset::OwnedByGroup { group, .. },
            ..
        }) = header
            && !self.values.contains_key(group)
        {
            missing.push(group.clone());
        }
        for (session, _) in &message.new {
            if let SessionAuthor::Account(account) = session.author()
                && account != &message.id
                && !self.signers.contains(account)
                && !missing.contains(account)
            {
                missing.push(account.clone());
            }
        }
        missing
    }

    /// Imports one content message as a peer sends it: verified and applied all or nothing,
    /// or queued until what it depends on has arrived. Queued messages are retried after
    /// every successful import.
    pub fn import(&mut self, message: ContentMessage) -> Result<ImportOutcome, NodeError> {
        self.import_checked(message, None)
    }

    /// Imports a content message verified beforehand (see [`super::prepared`]), as
    /// [`LocalNode::import`] does, without verifying it again where the CoValue still stands
    /// where it was verified: the transactions committed are exactly those verified, checked
    /// by the key that signs their session here. Where it changed meanwhile (or the message
    /// could not be verified beforehand), it is verified now.
    pub fn import_prepared(
        &mut self,
        message: PreparedMessage,
    ) -> Result<ImportOutcome, NodeError> {
        let (message, verified) = message.into_parts();
        self.import_checked(message, verified)
    }

    fn import_checked(
        &mut self,
        message: ContentMessage,
        verified: Option<VerifiedContent>,
    ) -> Result<ImportOutcome, NodeError> {
        let queued_before = self
            .pending
            .messages()
            .iter()
            .any(|queued| queued.id == message.id);
        let missing = self.missing_dependencies(&message, queued_before);
        if !missing.is_empty() {
            self.pending.push(message, verified);
            return Ok(ImportOutcome::Queued { missing });
        }
        let applied = self.apply(&message, verified)?;
        self.remember_unsaved(message, &applied);
        self.drain_pending();
        Ok(ImportOutcome::Applied(applied))
    }

    fn drain_pending(&mut self) {
        loop {
            let mut waiting: std::collections::HashSet<&CoID> = std::collections::HashSet::new();
            let ready = self.pending.messages().iter().position(|m| {
                let ready = self
                    .missing_dependencies(m, waiting.contains(&m.id))
                    .is_empty();
                waiting.insert(&m.id);
                ready
            });
            let Some(index) = ready else {
                return;
            };
            let Some((message, verified)) = self.pending.remove(index) else {
                return;
            };
            match self.apply(&message, verified) {
                Ok(applied) => self.remember_unsaved(message, &applied),
                Err(error) => tracing::warn!(id = %message.id, %error, "queued content rejected"),
            }
        }
    }

    fn remember_unsaved(&mut self, message: ContentMessage, applied: &AppliedContent) {
        let new_covalue = message.header.is_some();
        let queued = self.storage.is_some() || self.queue_imports;
        if queued && (applied.total() > 0 || new_covalue) {
            self.unsaved.push(message);
        }
    }

    /// Notes that `id` arrived or changed: if it is a group or account, its validated state
    /// and those depending on it are stale.
    pub(crate) fn changed(&mut self, id: &CoID) {
        let is_group = self
            .values
            .get(id)
            .is_some_and(|v| matches!(v.header().ruleset, Ruleset::Group { .. }));
        if is_group {
            self.group_states
                .get_mut()
                .forget_with_dependents(id.as_str());
        }
    }

    fn apply(
        &mut self,
        message: &ContentMessage,
        verified: Option<VerifiedContent>,
    ) -> Result<AppliedContent, NodeError> {
        let applied = self.apply_inner(message, verified)?;
        if applied.total() > 0 || message.header.is_some() {
            self.changed(&message.id);
        }
        Ok(applied)
    }

    fn apply_inner(
        &mut self,
        message: &ContentMessage,
        verified: Option<VerifiedContent>,
    ) -> Result<AppliedContent, NodeError> {
        let id = message.id.clone();
        let wrap = |source| NodeError::Content {
            id: id.clone(),
            source,
        };
        let signers = &self.signers;
        let applied = match self.values.get_mut(&message.id) {
            Some(value) => {
                let signer_for = |author: &SessionAuthor| signers.resolve(author);
                commit_or_verify(value, message, verified, signer_for).map_err(wrap)?
            }
            None => {
                let header = message
                    .header
                    .clone()
                    .ok_or_else(|| NodeError::UnknownCoValue(message.id.clone()))?;
                let mut value =
                    VerifiedCoValue::with_id(&message.id, header).map_err(|e| wrap(e.into()))?;
                // The account's own header says who signs it, so an account can verify its
                // own sessions before it is known.
                let own = value
                    .header()
                    .account_agent()
                    .is_some()
                    .then(|| value.header().clone());
                let signer_for = |author: &SessionAuthor| match (author, &own) {
                    (SessionAuthor::Account(a), Some(header)) if a == &message.id => {
                        super::signer::session_signer(author, |_| Some(header))
                    }
                    _ => signers.resolve(author),
                };
                let applied =
                    commit_or_verify(&mut value, message, verified, signer_for).map_err(wrap)?;
                if value.header().account_agent().is_some() {
                    self.signers.insert_account(value.header())?;
                }
                self.note_arrival(&id);
                self.values.insert(id, value);
                applied
            }
        };
        Ok(applied)
    }

    /// Adds a CoValue this node created (already holding its own transactions).
    pub fn insert_local(&mut self, value: VerifiedCoValue) -> Result<(), NodeError> {
        if value.header().account_agent().is_some() {
            self.signers.insert_account(value.header())?;
        }
        let id = value.id().clone();
        if self.values.insert(id.clone(), value).is_none() {
            self.note_arrival(&id);
            self.atomic.created(&id);
        }
        // Stored on the next flush, even if nothing is ever written to it.
        if !self.dirty.contains(&id) {
            self.dirty.push(id.clone());
        }
        self.created.insert(id.clone());
        self.changed(&id);
        Ok(())
    }

    /// Mutable access to a loaded CoValue, for writing to it.
    pub fn get_mut(&mut self, id: &CoID) -> Option<&mut VerifiedCoValue> {
        self.values.get_mut(id)
    }
}

/// Commits `verified` (content of `message` verified beforehand) where `value` still stands
/// where it was verified, else verifies `message` now.
fn commit_or_verify(
    value: &mut VerifiedCoValue,
    message: &ContentMessage,
    verified: Option<VerifiedContent>,
    signer_for: impl Fn(&SessionAuthor) -> Result<crate::crypto::VerifyingKey, super::SignerUnavailable>,
) -> Result<AppliedContent, super::ContentError> {
    if let Some(verified) = verified {
        match value.commit_verified(message, verified, &signer_for) {
            Ok(applied) => return Ok(applied),
            Err(error) => {
                tracing::debug!(id = %message.id, %error, "content verified beforehand is verified again");
            }
        }
    }
    value.apply_content(message, signer_for)
}

/// Content waiting for its dependencies, each message with what was verified of it beforehand
/// (if anything).
#[derive(Debug, Default)]
struct Pending {
    messages: Vec<ContentMessage>,
    /// Index for index with `messages`.
    verified: Vec<Option<VerifiedContent>>,
}

impl Pending {
    fn messages(&self) -> &[ContentMessage] {
        &self.messages
    }

    fn push(&mut self, message: ContentMessage, verified: Option<VerifiedContent>) {
        self.messages.push(message);
        self.verified.push(verified);
    }

    fn remove(&mut self, index: usize) -> Option<(ContentMessage, Option<VerifiedContent>)> {
        if index >= self.messages.len() || index >= self.verified.len() {
            return None;
        }
        Some((self.messages.remove(index), self.verified.remove(index)))
    }

    fn retain(&mut self, keep: impl Fn(&ContentMessage) -> bool) {
        if self.messages.iter().all(&keep) {
            return;
        }
        let messages = std::mem::take(&mut self.messages);
        let verified = std::mem::take(&mut self.verified);
        (self.messages, self.verified) = messages
            .into_iter()
            .zip(verified)
            .filter(|(message, _)| keep(message))
            .unzip();
    }
}

impl std::fmt::Debug for LocalNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalNode")
            .field("reader", &self.reader)
            .field("covalues", &self.values.len())
            .field("pending", &self.pending.messages().len())
            .field("storage", &self.storage.is_some())
            .field("unsaved", &(self.unsaved.len() + self.dirty.len()))
            .finish()
    }
}

impl AgentResolver for LocalNode {
    fn agent_of(&self, account_or_agent: &str) -> Option<AgentID> {
        if account_or_agent.starts_with(CoID::PREFIX) {
            let id = CoID::parse(account_or_agent).ok()?;
            self.values.get(&id)?.header().account_agent().copied()
        } else {
            AgentID::parse(account_or_agent).ok()
        }
    }
}
