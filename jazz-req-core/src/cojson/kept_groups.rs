//! Validated group states kept between reads, and the per-read view over them.
//!
//! A group's state is a function of its own transactions and of the states of the groups its
//! transactions name as parents (`parent_<id>`, valid or not: a parent that is not loaded
//! makes its extension invalid). So when a group arrives, changes or leaves, only its own state
//! and those of the groups naming it (directly or through their parents) go stale; the others
//! stay (before, any of those emptied the whole cache: each request's envelope group arriving
//! and leaving rebuilt every group read after it).

use std::cell::Ref;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::group::{GroupLookup, GroupState};
use super::keys::AgentResolver;
use super::node::LocalNode;
use crate::crypto::{AgentID, CoID};

/// The states a node keeps, valid for the node's group generation they were kept at.
#[derive(Debug, Default)]
pub(crate) struct KeptGroups {
    /// The node's group generation these states belong to (a newer one drops them all).
    generation: u64,
    states: HashMap<String, Arc<GroupState>>,
    /// For each group id, the kept groups whose transactions name it as a parent.
    named_by: HashMap<String, Vec<String>>,
    /// For each kept group naming parents, those parents (to take it out of their
    /// `named_by` when it goes: what is kept stays bounded by what the node holds).
    names: HashMap<String, Vec<String>>,
}

impl KeptGroups {
    /// `id` arrived, changed or left: its state and those of the groups that name it as a
    /// parent, directly or through their parents, are built again when next read.
    pub(crate) fn forget_with_dependents(&mut self, id: &str) {
        let mut stale = vec![id.to_owned()];
        while let Some(id) = stale.pop() {
            self.states.remove(&id);
            if let Some(children) = self.named_by.remove(&id) {
                stale.extend(children);
            }
            for parent in self.names.remove(&id).unwrap_or_default() {
                if let Some(children) = self.named_by.get_mut(&parent) {
                    children.retain(|child| child != &id);
                    if children.is_empty() {
                        self.named_by.remove(&parent);
                    }
                }
            }
        }
    }

    fn keep(&mut self, id: String, state: Arc<GroupState>, parents: Vec<String>) {
        for parent in &parents {
            let children = self.named_by.entry(parent.clone()).or_default();
            if !children.contains(&id) {
                children.push(id.clone());
            }
        }
        if !parents.is_empty() {
            self.names.insert(id.clone(), parents);
        }
        self.states.insert(id, state);
    }
}

/// The parents `id`'s trusting transactions name (`parent_<id>` keys), as a read finds them.
fn named_parents(node: &LocalNode, id: &str) -> Vec<String> {
    let mut parents = Vec::new();
    let Some(value) = CoID::parse(id).ok().and_then(|id| node.get(&id)) else {
        return parents;
    };
    for log in value.sessions() {
        for index in 0..log.len() {
            let Some(decoded) = log.decoded_changes(value.id(), index, None) else {
                continue;
            };
            for change in decoded.changes() {
                let parent = change
                    .get("key")
                    .and_then(Value::as_str)
                    .and_then(|key| key.strip_prefix("parent_"));
                if let Some(parent) = parent
                    && !parents.iter().any(|p| p == parent)
                {
                    parents.push(parent.to_owned());
                }
            }
        }
    }
    parents
}

/// The group states one read sees: the node's kept ones, and those it builds (kept for later
/// reads when it ends, see [`GroupCache`]'s `Drop`).
pub(crate) struct GroupStates<'a> {
    kept: Option<Ref<'a, KeptGroups>>,
    added: HashMap<String, Arc<GroupState>>,
}

impl GroupStates<'_> {
    /// Whether the state of `id` is known.
    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.added.contains_key(id)
            || self
                .kept
                .as_ref()
                .is_some_and(|k| k.states.contains_key(id))
    }

    /// The state of `id`, if known.
    pub(crate) fn get(&self, id: &str) -> Option<&Arc<GroupState>> {
        self.added
            .get(id)
            .or_else(|| self.kept.as_ref().and_then(|k| k.states.get(id)))
    }

    /// Adds a state built for this read.
    pub(crate) fn insert(&mut self, id: String, state: Arc<GroupState>) {
        self.added.insert(id, state);
    }
}

/// Groups built for one read, over the node's CoValues; seeded from and returned to the
/// node's kept states.
pub(crate) struct GroupCache<'a> {
    pub(crate) node: &'a LocalNode,
    pub(crate) groups: GroupStates<'a>,
    generation: u64,
}

impl<'a> GroupCache<'a> {
    pub(crate) fn new(node: &'a LocalNode) -> Self {
        let generation = node.group_generation;
        let kept = node
            .group_states
            .try_borrow()
            .ok()
            .filter(|kept| kept.generation == generation);
        Self {
            node,
            groups: GroupStates {
                kept,
                added: HashMap::new(),
            },
            generation,
        }
    }
}

impl Drop for GroupCache<'_> {
    fn drop(&mut self) {
        let added = std::mem::take(&mut self.groups.added);
        // Let go of the kept states before adding to them.
        self.groups.kept = None;
        if added.is_empty() || self.generation != self.node.group_generation {
            return;
        }
        // Another read still looking at them (a nested one) keeps them as they are.
        let Ok(mut kept) = self.node.group_states.try_borrow_mut() else {
            return;
        };
        if kept.generation != self.generation {
            *kept = KeptGroups {
                generation: self.generation,
                ..KeptGroups::default()
            };
        }
        for (id, state) in added {
            let parents = named_parents(self.node, &id);
            kept.keep(id, state, parents);
        }
    }
}

impl GroupLookup for GroupCache<'_> {
    fn group(&self, id: &str) -> Option<&GroupState> {
        self.groups.get(id).map(Arc::as_ref)
    }
}

impl AgentResolver for GroupCache<'_> {
    fn agent_of(&self, account_or_agent: &str) -> Option<AgentID> {
        self.node.agent_of(account_or_agent)
    }
}
