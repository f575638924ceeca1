//! Where the client finds content the server asks for: the node side implements
//! [`ContentSource`].
//!
//! The server sends `load` for what it needs before it can accept pushed content (the owner
//! group, the accounts that sign it), and `known` + `isCorrection` when pushed content does
//! not fit what it holds (e.g. after it restarted). The client answers both from its source.

use std::sync::{Mutex, PoisonError};

use crate::cojson::{ContentMessage, KnownState, LocalNode};
use crate::crypto::CoID;

/// The node side of the sync client: what this peer holds, and content from it.
///
/// The client calls these on a blocking thread (`spawn_blocking`), never on its connection
/// task and never across an `.await`: an implementation may take the node's lock (or read
/// its storage) for the duration of the call.
pub trait ContentSource: Send + Sync + 'static {
    /// What this peer holds of `id`, or `None` when it does not hold it.
    fn known_state(&self, id: &CoID) -> Option<KnownState>;

    /// The content that brings a peer knowing `known` up to what this peer holds of
    /// `known.id` (cojson's `newContentSince`: the header when `known.header` is false, then
    /// every session's transactions after the known count, split into pieces). `None` when
    /// this peer does not hold the CoValue; empty when the peer has everything.
    fn content_since(&self, known: &KnownState) -> Option<Vec<ContentMessage>>;
}

/// A node behind a mutex answers from memory: what it has loaded or written.
impl ContentSource for Mutex<LocalNode> {
    fn known_state(&self, id: &CoID) -> Option<KnownState> {
        // A poisoned lock still guards a consistent node: writes either finish or are undone
        // by `atomically`, and reading content does not depend on the panicked caller.
        let node = self.lock().unwrap_or_else(PoisonError::into_inner);
        node.get(id).map(|value| value.known_state())
    }

    fn content_since(&self, known: &KnownState) -> Option<Vec<ContentMessage>> {
        let node = self.lock().unwrap_or_else(PoisonError::into_inner);
        node.get(&known.id)
            .map(|value| value.new_content_since(Some(known)))
    }
}
