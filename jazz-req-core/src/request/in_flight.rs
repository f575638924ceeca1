//! The senders of requests in flight, and what leaves memory when a request is done.
//!
//! A request brings its sender's account (and its envelope, its group) in its body; what was
//! new to the node leaves memory again once the request is answered or refused, so that
//! memory holds what requests in flight use, not every account that ever sent one. Two
//! requests of one sender may overlap, though: the account that the first one brought must
//! stay until the last of them is done. Accepted requests pin their sender; an account that
//! should leave while pinned leaves when the last pin goes.
//!
//! A sender that comes back soon should not pay for bringing its account again (importing
//! and verifying it costs about a sixth of a request): the accounts of the last
//! [`RECENT_SENDERS_KEPT`] senders of answered requests stay, the oldest leaves when one more
//! arrives. Memory is bounded by that number, not by how many accounts ever sent a request.
//!
//! Always used with the node's lock held (lock order: node, then this).

use std::collections::{HashMap, HashSet, VecDeque};

use crate::cojson::LocalNode;
use crate::crypto::CoID;

/// How many accounts of recent senders stay in memory after their requests are answered.
pub(crate) const RECENT_SENDERS_KEPT: usize = 256;

/// Pinned senders, the accounts to evict once their last pin goes, and the recent senders
/// whose accounts stay.
#[derive(Debug, Default)]
pub(crate) struct InFlightSenders {
    pins: HashMap<CoID, usize>,
    leave_when_unpinned: HashSet<CoID>,
    /// Senders whose accounts stay, oldest first.
    recent: VecDeque<CoID>,
    recent_set: HashSet<CoID>,
    /// Each sender's response group, while the sender's account is in memory.
    response_groups: HashMap<CoID, CoID>,
}

impl InFlightSenders {
    /// `id` stays in memory until [`InFlightSenders::unpin`].
    pub(crate) fn pin(&mut self, id: &CoID) {
        *self.pins.entry(id.clone()).or_default() += 1;
    }

    /// What an accepted request uses (its sender, what it brought) stays in memory, and
    /// queued for the store, until [`InFlightSenders::unpin_all`]: identical copies of one
    /// body bring the same envelope and group, and a refused copy must not take them from
    /// the copy that runs.
    pub(crate) fn pin_all(&mut self, ids: &[CoID]) {
        for id in ids {
            self.pin(id);
        }
    }

    /// How many CoValues requests in flight keep in memory.
    pub(crate) fn pinned_count(&self) -> usize {
        self.pins.len()
    }

    /// Whether a request in flight uses `id` (brought it, or is its sender).
    pub(crate) fn is_pinned(&self, id: &CoID) -> bool {
        self.pins.contains_key(id)
    }

    /// The request that pinned `ids` is done.
    pub(crate) fn unpin_all(&mut self, node: &mut LocalNode, ids: &[CoID]) {
        for id in ids {
            self.unpin(node, id);
        }
    }

    /// A refused request's imported `queued` content leaves the store queue, except that of
    /// CoValues a request in flight uses (the same content, which that request stores).
    pub(crate) fn unqueue(&self, node: &mut LocalNode, queued: &[crate::cojson::ContentMessage]) {
        let leaving: Vec<_> = queued
            .iter()
            .filter(|message| !self.pins.contains_key(&message.id))
            .cloned()
            .collect();
        node.unqueue(&leaving);
    }

    /// One request using `sender` (or any pinned id) is done; after its last, it leaves if
    /// it was to.
    pub(crate) fn unpin(&mut self, node: &mut LocalNode, sender: &CoID) {
        let Some(count) = self.pins.get_mut(sender) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            self.pins.remove(sender);
            if self.leave_when_unpinned.remove(sender) {
                self.evict_with_response_groups(node, std::slice::from_ref(sender));
            }
        }
    }

    /// The response group kept for `sender`, if it is still in memory.
    pub(crate) fn response_group(&self, node: &LocalNode, sender: &CoID) -> Option<CoID> {
        self.response_groups
            .get(sender)
            .filter(|group| node.get(group).is_some())
            .cloned()
    }

    /// `group` answers `sender` from now on (until its account leaves memory).
    pub(crate) fn keep_response_group(&mut self, sender: &CoID, group: CoID) {
        self.response_groups.insert(sender.clone(), group);
    }

    /// `ids` leave memory: with an account that leaves goes its response group.
    fn evict_with_response_groups(&mut self, node: &mut LocalNode, ids: &[CoID]) {
        let mut leaving = ids.to_vec();
        for id in ids {
            if let Some(group) = self.response_groups.remove(id) {
                leaving.push(group);
            }
        }
        node.evict_with_accounts(&leaving);
    }

    /// An answered request's `sender` brought its account (among `ids`, what leaves): the
    /// account stays as one of the recent senders' instead; the oldest of those leaves when
    /// there are more than [`RECENT_SENDERS_KEPT`].
    pub(crate) fn keep_recent(&mut self, node: &mut LocalNode, sender: &CoID, ids: &mut Vec<CoID>) {
        let Some(position) = ids.iter().position(|id| id == sender) else {
            return;
        };
        ids.swap_remove(position);
        if self.recent_set.insert(sender.clone()) {
            self.recent.push_back(sender.clone());
        }
        while self.recent.len() > RECENT_SENDERS_KEPT {
            let Some(oldest) = self.recent.pop_front() else {
                break;
            };
            self.recent_set.remove(&oldest);
            self.evict(node, std::slice::from_ref(&oldest));
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
        self.evict_with_response_groups(node, &leaving);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cojson::ResolveQuery;
    use crate::crypto::random::new_random_agent_secret;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    fn account(name: &str) -> Result<(LocalNode, CoID), Box<dyn std::error::Error>> {
        Ok(LocalNode::create_account(new_random_agent_secret()?, name)?)
    }

    #[test]
    fn the_accounts_of_recent_senders_stay_up_to_the_cap_and_pinned_ones_until_unpinned() -> Outcome
    {
        let (mut worker, _) = account("Worker")?;
        let mut senders = InFlightSenders::default();
        let mut ids = Vec::new();
        for i in 0..=RECENT_SENDERS_KEPT {
            let (sender_node, sender) = account(&format!("Sender {i}"))?;
            for piece in sender_node.export(&sender, &ResolveQuery::Value)? {
                worker.import(piece)?;
            }
            ids.push(sender);
        }
        // The first sender has a response group, and is in flight again when it would leave.
        let group = worker.create_group()?;
        senders.keep_response_group(&ids[0], group.clone());
        assert_eq!(
            senders.response_group(&worker, &ids[0]),
            Some(group.clone())
        );
        senders.pin(&ids[0]);
        for sender in &ids {
            let mut brought = vec![sender.clone()];
            senders.keep_recent(&mut worker, sender, &mut brought);
            assert!(
                brought.is_empty(),
                "the sender's account is kept, not evicted"
            );
        }
        let held = ids.iter().filter(|id| worker.get(id).is_some()).count();
        assert_eq!(
            held,
            RECENT_SENDERS_KEPT + 1,
            "the oldest is pinned: it stays for now"
        );
        senders.unpin(&mut worker, &ids[0]);
        assert!(
            worker.get(&ids[0]).is_none(),
            "the oldest left once unpinned"
        );
        assert!(worker.get(&group).is_none(), "its response group with it");
        assert_eq!(senders.response_group(&worker, &ids[0]), None);
        let held = ids.iter().filter(|id| worker.get(id).is_some()).count();
        assert_eq!(held, RECENT_SENDERS_KEPT);
        Ok(())
    }
}
