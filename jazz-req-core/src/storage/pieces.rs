//! Turning what a backend read back into content messages ready for
//! [`LocalNode::import`](crate::cojson::LocalNode::import): the header in the first piece,
//! each session split at its stored checkpoints so every piece's `lastSignature` is the
//! signature made for exactly its last transaction.
//!
//! Pieces are packed into messages in session order; a message is closed when it already
//! holds a piece of the session (a message carries one run per session) or when adding the
//! piece would take it past [`MAX_RECOMMENDED_TX_SIZE`]. As with `newContentSince`, the first
//! message carries `expectContentUntil` when there are several.

use std::collections::BTreeMap;

use crate::cojson::{
    CoValueHeader, ContentMessage, KnownState, MAX_RECOMMENDED_TX_SIZE, SessionNewContent,
    Transaction,
};
use crate::crypto::{CoID, SessionID, Signature};

/// One session as read back from a backend.
#[derive(Clone, Debug)]
pub(crate) struct LoadedSession {
    /// The session.
    pub session: SessionID,
    /// All its stored transactions, in order.
    pub transactions: Vec<Transaction>,
    /// Checkpoint signatures by transaction index.
    pub checkpoints: BTreeMap<usize, Signature>,
    /// The signature after the last transaction.
    pub last_signature: Signature,
}

/// A CoValue as read back from a backend.
#[derive(Clone, Debug)]
pub(crate) struct LoadedCoValue {
    /// The id (the header hashes to it).
    pub id: CoID,
    /// The header.
    pub header: CoValueHeader,
    /// Sessions in the order they were first stored.
    pub sessions: Vec<LoadedSession>,
}

impl LoadedCoValue {
    /// What the loaded content brings a node that has nothing.
    pub fn known_state(&self) -> KnownState {
        KnownState::from_counts(
            self.id.clone(),
            self.sessions
                .iter()
                .map(|s| (&s.session, s.transactions.len())),
        )
    }

    /// The content messages, in the order they must be imported.
    pub fn into_messages(self) -> Vec<ContentMessage> {
        let until = self.known_state().sessions;
        let priority = self.header.priority();
        let mut first = ContentMessage::new(self.id.clone(), priority);
        first.header = Some(self.header);
        let mut messages = vec![first];
        let mut size = 0usize;
        for loaded in self.sessions {
            let session = loaded.session.clone();
            for (after, transactions, last_signature) in split(loaded) {
                let piece_size: usize = transactions.iter().map(Transaction::size_utf16).sum();
                let current = messages.last().filter(|m| {
                    m.session(&session).is_none()
                        && (m.new.is_empty() || size + piece_size <= MAX_RECOMMENDED_TX_SIZE)
                });
                if current.is_none() {
                    messages.push(ContentMessage::new(self.id.clone(), priority));
                    size = 0;
                }
                size += piece_size;
                if let Some(message) = messages.last_mut() {
                    message.new.push((
                        session.clone(),
                        SessionNewContent {
                            after,
                            new_transactions: transactions,
                            last_signature,
                        },
                    ));
                }
            }
        }
        if messages.len() > 1
            && let Some(first) = messages.first_mut()
        {
            first.expect_content_until = Some(until);
        }
        messages
    }
}

/// The runs of `transactions` ending at each checkpoint, then at the last transaction, as
/// `(after, transactions, signature)`.
fn split(session: LoadedSession) -> Vec<(usize, Vec<Transaction>, Signature)> {
    let mut transactions = session.transactions;
    let len = transactions.len();
    if len == 0 {
        return Vec::new();
    }
    // Runs end after each checkpoint before the last transaction, and at the last one.
    let mut bounds: Vec<(usize, Signature)> = Vec::with_capacity(session.checkpoints.len() + 1);
    let mut start = 0;
    for (&index, signature) in session.checkpoints.range(..len - 1) {
        bounds.push((start, *signature));
        start = index + 1;
    }
    bounds.push((start, session.last_signature));
    // Split from the back so that each run is moved out without copying transactions.
    let mut runs = Vec::with_capacity(bounds.len());
    for (start, signature) in bounds.into_iter().rev() {
        let run = transactions.split_off(start);
        runs.push((start, run, signature));
    }
    runs.reverse();
    runs
}
