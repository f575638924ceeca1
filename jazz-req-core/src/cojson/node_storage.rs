//! Persisting the local node: what it accepted and what it wrote goes to its [`Storage`] in
//! one durable store per [`LocalNode::flush`]; CoValues come back from storage (verified
//! again) with what they depend on.

use std::collections::HashSet;
use std::sync::Arc;

use super::node::LocalNode;
use super::node_error::NodeError;
use super::node_export::dependencies;
use crate::cojson::ContentMessage;
use crate::crypto::CoID;
use crate::storage::{Storage, StoreSummary};

impl LocalNode {
    /// Persists what this node accepts and writes in `storage` from now on.
    pub fn attach_storage(&mut self, storage: Arc<dyn Storage>) {
        self.storage = Some(storage);
    }

    /// Queues what this node imports for [`LocalNode::take_unsaved`] even without a storage
    /// (a worker that is a peer of a sync server pushes it there). Whoever turns this on must
    /// take what is queued regularly.
    pub fn queue_imports(&mut self, queue: bool) {
        self.queue_imports = queue;
    }

    /// How many content messages are queued for [`LocalNode::take_unsaved`] (imports).
    pub fn queued_count(&self) -> usize {
        self.unsaved.len()
    }

    /// The imported content queued since the queue held `count` messages (a copy).
    pub fn queued_since(&self, count: usize) -> Vec<ContentMessage> {
        self.unsaved
            .get(count..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Takes these messages (from [`LocalNode::queued_since`]) out of the queue again, where
    /// they still are: what a refused request brought is not stored, even where it extended
    /// a CoValue that stays in memory.
    pub fn unqueue(&mut self, messages: &[ContentMessage]) {
        if messages.is_empty() {
            return;
        }
        self.unsaved.retain(|queued| !messages.contains(queued));
    }

    /// The attached storage, if any.
    pub fn storage(&self) -> Option<&Arc<dyn Storage>> {
        self.storage.as_ref()
    }

    /// Whether something accepted or written is not yet stored.
    pub fn has_unsaved(&self) -> bool {
        !self.unsaved.is_empty() || !self.dirty.is_empty()
    }

    /// Stores everything imported or written since the last flush, durably, in one store
    /// (one commit). Nothing is lost on failure: it stays queued (and in memory) for the next
    /// flush; call [`LocalNode::forget_unsaved`] instead to make memory agree with the store.
    pub fn flush(&mut self) -> Result<StoreSummary, NodeError> {
        if self.in_atomic_scope() {
            // Writes of an open `atomically` scope may still be undone: nothing is signed
            // or taken for storage before the outermost scope ends.
            return Ok(StoreSummary::default());
        }
        let Some(storage) = self.storage.clone() else {
            // Nothing to persist to: just sign what waits and forget the bookkeeping.
            self.sign_pending();
            self.unsaved.clear();
            self.dirty.clear();
            self.queued_from.clear();
            self.created.clear();
            return Ok(StoreSummary::default());
        };
        let content = self.take_unsaved()?;
        match storage.store(&content) {
            Ok(summary) => {
                tracing::debug!(
                    messages = content.len(),
                    created = summary.covalues_created,
                    transactions = summary.transactions_added,
                    "flushed to storage"
                );
                Ok(summary)
            }
            Err(error) => {
                // Kept for the next attempt: stores skip what they already have. (A worker
                // answering requests forgets instead: see `LocalNode::forget_unstored`.)
                self.restore_unsaved(content);
                Err(error.into())
            }
        }
    }

    /// Takes everything to store since the last flush, signed and ready, without storing it:
    /// store it with the storage (outside any lock on this node, so concurrent flushes share
    /// commits) and hand it back with [`LocalNode::restore_unsaved`] if that fails. Without a
    /// storage it is what to send to a sync server. Each transaction is in it once: what was
    /// imported, in import order, then what this node wrote; a write to the CoValue imported
    /// last (a request's envelope getting its mark) rides in the same message.
    pub fn take_unsaved(&mut self) -> Result<Vec<ContentMessage>, NodeError> {
        if self.in_atomic_scope() {
            // Writes of an open `atomically` scope may still be undone: nothing is signed
            // or taken for storage before the outermost scope ends.
            return Ok(Vec::new());
        }
        self.sign_pending();
        let mut content = std::mem::take(&mut self.unsaved);
        let dirty = std::mem::take(&mut self.dirty);
        let created = std::mem::take(&mut self.created);
        let mut queued_from = std::mem::take(&mut self.queued_from);
        for id in &dirty {
            let Some(value) = self.get(id) else {
                continue;
            };
            let stored = if created.contains(id) {
                None
            } else if let Some(before) = queued_from.remove(id) {
                Some(before)
            } else {
                match self.storage.as_ref().map(|s| s.known_state(id)) {
                    None => None,
                    Some(Ok(stored)) => stored,
                    Some(Err(error)) => {
                        // Nothing is lost: everything goes back for the next flush.
                        self.unsaved = content;
                        self.dirty = dirty;
                        self.created = created;
                        self.queued_from = queued_from;
                        return Err(error.into());
                    }
                }
            };
            content.extend(value.new_content_since(stored.as_ref()));
        }
        Ok(super::join_content::join_neighbours(content))
    }

    /// Puts back content taken with [`LocalNode::take_unsaved`] that could not be stored.
    pub fn restore_unsaved(&mut self, content: Vec<ContentMessage>) {
        let mut content = content;
        content.append(&mut self.unsaved);
        self.unsaved = content;
    }

    /// Forgets content taken with [`LocalNode::take_unsaved`] that could not be stored, so
    /// that memory agrees with the store again: every CoValue it concerns leaves memory (it
    /// loads again, as stored, when next needed), and nothing of it stays queued. Accounts are
    /// the exception: they stay loaded (other content is verified with them) and their
    /// content goes back to the queue, as it is their own signed history, not a write of
    /// this node. Returns the CoValues that left memory.
    pub fn forget_unstored(&mut self, content: Vec<ContentMessage>) -> Vec<CoID> {
        let mut forgotten: Vec<CoID> = Vec::new();
        let mut kept = Vec::new();
        for message in content {
            if self.is_account(&message.id) {
                kept.push(message);
            } else if !forgotten.contains(&message.id) {
                forgotten.push(message.id);
            }
        }
        self.restore_unsaved(kept);
        self.evict(&forgotten);
        forgotten.retain(|id| self.get(id).is_none());
        if !forgotten.is_empty() {
            tracing::warn!(
                covalues = forgotten.len(),
                "content that could not be stored left memory"
            );
        }
        forgotten
    }

    /// Forgets everything queued for the store (imported or written since the last flush)
    /// as [`LocalNode::forget_unstored`] does, without asking the storage anything: for when
    /// the queue cannot be taken (e.g. the storage cannot say what it holds). Returns the
    /// CoValues that left memory.
    pub fn forget_unsaved(&mut self) -> Vec<CoID> {
        self.sign_pending();
        let content = std::mem::take(&mut self.unsaved);
        let dirty = std::mem::take(&mut self.dirty);
        self.created.clear();
        let queued_from = std::mem::take(&mut self.queued_from);
        let mut forgotten: Vec<CoID> = Vec::new();
        for id in dirty {
            if self.is_account(&id) {
                // An account this node wrote to stays loaded: its writes stay queued.
                if let Some(before) = queued_from.get(&id) {
                    self.queued_from.insert(id.clone(), before.clone());
                }
                self.dirty.push(id);
            } else if !forgotten.contains(&id) {
                forgotten.push(id);
            }
        }
        self.evict(&forgotten);
        let mut left = self.forget_unstored(content);
        for id in forgotten {
            if !left.contains(&id) && self.get(&id).is_none() {
                left.push(id);
            }
        }
        left
    }

    fn is_account(&self, id: &CoID) -> bool {
        self.get(id)
            .is_some_and(|value| value.header().account_agent().is_some())
    }

    /// Loads `id` from storage, and what it depends on (owner and parent groups, member
    /// and author accounts), verifying every session again. Returns whether `id` is now
    /// loaded. Content imported or written earlier and not yet stored stays queued; only
    /// what comes from storage is not queued again.
    pub fn load_from_storage(&mut self, id: &CoID) -> Result<bool, NodeError> {
        let Some(storage) = self.storage.clone() else {
            return Ok(self.get(id).is_some());
        };
        let queued = self.unsaved.len();
        let mut seen = HashSet::new();
        let mut from_storage = HashSet::new();
        let loaded = self.load_recursive(storage.as_ref(), id, &mut seen, &mut from_storage);
        // Loaded content is stored already: it leaves the queue again, what was queued before
        // (e.g. what the same request imported) and whatever else arrived meanwhile stays.
        if self.unsaved.len() > queued {
            let arrived = self.unsaved.split_off(queued);
            self.unsaved.extend(
                arrived
                    .into_iter()
                    .filter(|m| !from_storage.contains(&m.id)),
            );
        }
        loaded?;
        Ok(self.get(id).is_some())
    }

    fn load_recursive(
        &mut self,
        storage: &dyn Storage,
        id: &CoID,
        seen: &mut HashSet<CoID>,
        from_storage: &mut HashSet<CoID>,
    ) -> Result<(), NodeError> {
        if !seen.insert(id.clone()) {
            return Ok(());
        }
        if self.get(id).is_none() {
            let Some(pieces) = storage.load(id)? else {
                return Ok(());
            };
            from_storage.insert(id.clone());
            for piece in pieces {
                if let super::node::ImportOutcome::Queued { missing } = self.import(piece)? {
                    for dependency in missing {
                        self.load_recursive(storage, &dependency, seen, from_storage)?;
                    }
                }
            }
        }
        let deps = self.get(id).map(dependencies).unwrap_or_default();
        for dependency in deps {
            self.load_recursive(storage, &dependency, seen, from_storage)?;
        }
        Ok(())
    }
}
