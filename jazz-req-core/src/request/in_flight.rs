//! The senders of requests in flight, and what leaves memory when a request is done.
//!
//! A request brings its sender's account (and its envelope, its group) in its body; what was
//! new to the node leaves memory again once the request is answered or refused, so that
//! memory holds what requests in flight use, not every account that ever sent one. Two
//! requests of one sender may overlap, though: the account that the first one brought must
//! stay until the last of them is done. Accepted requests pin their sender; an account that
//! should leave while pinned leaves when the last pin goes.
//!
//! Always used with the node's lock held (lock order: node, then this).

use std::collections::{HashMap, HashSet};

use crate::cojson::LocalNode;
use crate::crypto::CoID;

/// Pinned senders, and the accounts to evict once their last pin goes.
#[derive(Debug, Default)]
pub(crate) struct InFlightSenders {
    pins: HashMap<CoID, usize>,
    leave_when_unpinned: HashSet<CoID>,
}

impl InFlightSenders {
    /// The account `sender` stays in memory until [`InFlightSenders::unpin`].
    pub(crate) fn pin(&mut self, sender: &CoID) {
        *self.pins.entry(sender.clone()).or_default() += 1;
    }

    /// One request of `sender` is done; after its last, the account leaves if it was to.
    pub(crate) fn unpin(&mut self, node: &mut LocalNode, sender: &CoID) {
        let Some(count) = self.pins.get_mut(sender) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.pins.remove(sender);
            if self.leave_when_unpinned.remove(sender) {
                node.evict_with_accounts(std::slice::from_ref(sender));
            }
        }
    }

    /// `ids` leave memory (accounts too, see [`LocalNode::evict_with_accounts`]), except the
    /// accounts of senders in flight: those leave when their last request is done.
    pub(crate) fn evict(&mut self, node: &mut LocalNode, ids: &[CoID]) {
        let mut leaving: Vec<CoID> = Vec::with_capacity(ids.len());
        for id in ids {
            if self.pins.contains_key(id) {
                self.leave_when_unpinned.insert(id.clone());
            } else {
                leaving.push(id.clone());
            }
        }
        node.evict_with_accounts(&leaving);
    }
}
