//! Resolving loaded values: who created a CoValue (`madeBy` of a request), whether a
//! resolve query is satisfied by what the node holds, and a CoValue as a JSON tree of its
//! loaded references (what jazz-tools' `toJSON()` gives for loaded values).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::header::{CoValueType, Ruleset};
use super::node::LocalNode;
use super::node_error::NodeError;
use super::node_export::ResolveQuery;
use crate::crypto::CoID;

/// How deep [`LocalNode::loaded_tree`] follows references.
const MAX_TREE_DEPTH: usize = 16;

impl LocalNode {
    /// The author (account or agent id) of the first valid transaction of `id`, in cojson's
    /// transaction order: who created the value. `None` when no transaction is valid.
    pub fn creator(&self, id: &CoID) -> Result<Option<String>, NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        if matches!(value.header().ruleset, Ruleset::Group { .. }) {
            let state = self.group_state(id)?;
            let txs = super::node_read::sorted_records(value);
            return Ok(txs
                .iter()
                .zip(state.validity())
                .find(|(_, valid)| **valid)
                .map(|(tx, _)| tx.author.clone()));
        }
        let read = self.owned_transactions(id)?;
        Ok(read
            .txs
            .iter()
            .zip(&read.valid)
            .find(|(_, ok)| **ok)
            .map(|(tx, _)| tx.author.clone()))
    }

    /// Reads `id` and says who created it, from one pass over its transactions.
    pub fn read_with_creator(
        &self,
        id: &CoID,
    ) -> Result<(super::node_read::ReadValue, Option<String>), NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        if matches!(value.header().ruleset, Ruleset::Group { .. }) {
            return Ok((self.read(id)?, self.creator(id)?));
        }
        let read = self.owned_transactions(id)?;
        let creator = read
            .txs
            .iter()
            .zip(&read.valid)
            .find(|(_, ok)| **ok)
            .map(|(tx, _)| tx.author.clone());
        let content = match value.header().co_type {
            CoValueType::CoList => Value::Array(
                read.list_state()
                    .entries
                    .iter()
                    .map(|(_, value)| value.clone())
                    .collect(),
            ),
            _ => super::node_read::map_content(&read.txs, &read.valid).to_json(None),
        };
        let read = super::node_read::ReadValue {
            id: id.clone(),
            co_type: value.header().co_type,
            value: content,
            roles: None,
        };
        Ok((read, creator))
    }

    /// The first CoValue the query reaches from `id` that this node does not hold or cannot
    /// read, or `None` when everything the query asks for is loaded.
    pub fn missing_for(&self, id: &CoID, query: &ResolveQuery) -> Option<CoID> {
        let ResolveQuery::Fields(_) = query else {
            // Only readable is asked: no need to build the content (a long list's items).
            return self.readable(id).err().map(|_| id.clone());
        };
        let Ok(read) = self.read(id) else {
            return Some(id.clone());
        };
        self.missing_below(id, &read.value, query)
    }

    /// Like [`LocalNode::missing_for`] for `id` whose content `value` was just read (not read
    /// again): the first CoValue the query reaches through it that this node does not hold
    /// or cannot read (`id` itself if a field the query names is not a reference).
    pub fn missing_below(&self, id: &CoID, value: &Value, query: &ResolveQuery) -> Option<CoID> {
        let ResolveQuery::Fields(fields) = query else {
            return None;
        };
        for (field, child_query) in fields {
            let children: Vec<&Value> = if field == "$each" {
                value
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default()
            } else {
                value.get(field).into_iter().collect()
            };
            for child in children {
                let Some(child_id) = child.as_str().and_then(|s| CoID::parse(s).ok()) else {
                    // A field the query names must be a reference.
                    return Some(id.clone());
                };
                if let Some(missing) = self.missing_for(&child_id, child_query) {
                    return Some(missing);
                }
            }
        }
        None
    }

    /// Whether this node can read `id` (it holds it and what its permissions depend on),
    /// without building its content.
    pub fn readable(&self, id: &CoID) -> Result<(), NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        match value.header().ruleset {
            Ruleset::Group { .. } => self.group_state(id).map(|_| ()),
            _ => self.owned_transactions(id).map(|_| ()),
        }
    }

    /// `id` as JSON with every reference this node can read replaced by that value's tree,
    /// and `"$jazz": {"id"}` on each map, as jazz-tools' `toJSON()` shows loaded values.
    pub fn loaded_tree(&self, id: &CoID) -> Result<Value, NodeError> {
        let mut path = HashSet::new();
        self.tree(id, &mut path, 0)
    }

    fn tree(&self, id: &CoID, path: &mut HashSet<CoID>, depth: usize) -> Result<Value, NodeError> {
        let read = self.read(id)?;
        path.insert(id.clone());
        let expand = |value: &Value, path: &mut HashSet<CoID>| -> Value {
            let reference = value.as_str().and_then(|s| CoID::parse(s).ok());
            match reference {
                Some(child) if depth < MAX_TREE_DEPTH && !path.contains(&child) => self
                    .tree(&child, path, depth + 1)
                    .unwrap_or_else(|_| value.clone()),
                _ => value.clone(),
            }
        };
        let tree = match (read.co_type, read.value) {
            (CoValueType::CoList, Value::Array(items)) => {
                Value::Array(items.iter().map(|item| expand(item, path)).collect())
            }
            (_, Value::Object(fields)) => {
                let mut object = Map::new();
                object.insert("$jazz".into(), json!({"id": id.as_str()}));
                for (key, value) in &fields {
                    object.insert(key.clone(), expand(value, path));
                }
                Value::Object(object)
            }
            (_, other) => other,
        };
        path.remove(id);
        Ok(tree)
    }
}
