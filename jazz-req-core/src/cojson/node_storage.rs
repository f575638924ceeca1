//! Persisting the local node: what it accepted and what it wrote goes to its [`Storage`] in
//! one durable store per [`LocalNode::flush`]; CoValues come back from storage (verified
//! again) with what they depend on.

use std::collections::HashSet;
use std::sync::Arc;

use super::node::LocalNode;
use super::node_error::NodeError;
use super::node_export::dependencies;
use crate::crypto::CoID;
use crate::storage::{Storage, StoreSummary};

impl LocalNode {
    /// Persists what this node accepts and writes in `storage` from now on.
    pub fn attach_storage(&mut self, storage: Arc<dyn Storage>) {
        self.storage = Some(storage);
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
    /// (one commit). Nothing is lost on failure: it stays queued for the next flush.
    pub fn flush(&mut self) -> Result<StoreSummary, NodeError> {
        let Some(storage) = self.storage.clone() else {
            // Nothing to persist to: just sign what waits and forget the bookkeeping.
            self.sign_pending();
            self.unsaved.clear();
            self.dirty.clear();
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
                // Kept for the next attempt: stores skip what they already have.
                self.restore_unsaved(content);
                Err(NodeError::Storage(error.to_string()))
            }
        }
    }

    /// Takes everything to store since the last flush, signed and ready, without storing it:
    /// store it with the storage (outside any lock on this node, so concurrent flushes share
    /// commits) and hand it back with [`LocalNode::restore_unsaved`] if that fails.
    pub fn take_unsaved(&mut self) -> Result<Vec<crate::cojson::ContentMessage>, NodeError> {
        self.sign_pending();
        let mut content = std::mem::take(&mut self.unsaved);
        let dirty = std::mem::take(&mut self.dirty);
        let created = std::mem::take(&mut self.created);
        let Some(storage) = self.storage.clone() else {
            return Ok(Vec::new());
        };
        for id in &dirty {
            let Some(value) = self.get(id) else {
                continue;
            };
            let stored = if created.contains(id) {
                None
            } else {
                match storage.known_state(id) {
                    Ok(stored) => stored,
                    Err(error) => {
                        // Nothing is lost: everything goes back for the next flush.
                        self.unsaved = content;
                        self.dirty = dirty;
                        self.created = created;
                        return Err(NodeError::Storage(error.to_string()));
                    }
                }
            };
            content.extend(value.new_content_since(stored.as_ref()));
        }
        Ok(content)
    }

    /// Puts back content taken with [`LocalNode::take_unsaved`] that could not be stored.
    pub fn restore_unsaved(&mut self, content: Vec<crate::cojson::ContentMessage>) {
        let mut content = content;
        content.append(&mut self.unsaved);
        self.unsaved = content;
    }

    /// Loads `id` from storage, and what it depends on (owner and parent groups, member
    /// and author accounts), verifying every session again. Returns whether `id` is now
    /// loaded.
    pub fn load_from_storage(&mut self, id: &CoID) -> Result<bool, NodeError> {
        let Some(storage) = self.storage.clone() else {
            return Ok(self.get(id).is_some());
        };
        let mut seen = HashSet::new();
        self.load_recursive(storage.as_ref(), id, &mut seen)?;
        // Loaded content is stored already.
        self.unsaved.clear();
        Ok(self.get(id).is_some())
    }

    fn load_recursive(
        &mut self,
        storage: &dyn Storage,
        id: &CoID,
        seen: &mut HashSet<CoID>,
    ) -> Result<(), NodeError> {
        if !seen.insert(id.clone()) {
            return Ok(());
        }
        if self.get(id).is_none() {
            let Some(pieces) = storage
                .load(id)
                .map_err(|e| NodeError::Storage(e.to_string()))?
            else {
                return Ok(());
            };
            for piece in pieces {
                if let super::node::ImportOutcome::Queued { missing } = self.import(piece)? {
                    for dependency in missing {
                        self.load_recursive(storage, &dependency, seen)?;
                    }
                }
            }
        }
        let deps = self.get(id).map(dependencies).unwrap_or_default();
        for dependency in deps {
            self.load_recursive(storage, &dependency, seen)?;
        }
        Ok(())
    }
}
