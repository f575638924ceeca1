//! Exporting CoValues with what they depend on, in the order jazz-tools' `exportCoValue`
//! emits them: for each CoValue reached through the resolve query, its dependencies first
//! (recursively), then its own content; each CoValue once.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use super::content::ContentMessage;
use super::header::Ruleset;
use super::node::LocalNode;
use super::node_error::NodeError;
use super::verified_state::VerifiedCoValue;
use crate::crypto::{CoID, SessionAuthor};

/// Which references to follow from a CoValue (jazz-tools' `resolve`): `true` for the value
/// alone, or per field (or `$each` item of a list) the query for the value it references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveQuery {
    /// The value itself, no references.
    Value,
    /// Follow these fields (`"$each"` for every item of a list), in this order.
    Fields(Vec<(String, ResolveQuery)>),
}

impl ResolveQuery {
    /// Parses the JSON form (`true`, or `{"field": <query>, "$each": <query>}`).
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(true) => Some(Self::Value),
            Value::Object(fields) => fields
                .iter()
                .map(|(key, query)| Some((key.clone(), Self::from_json(query)?)))
                .collect::<Option<Vec<_>>>()
                .map(Self::Fields),
            _ => None,
        }
    }
}

/// The CoValues a CoValue depends on (`getDependedOnCoValues`): its owner group, its branch
/// source, for groups and accounts the member accounts and parent groups their changes name,
/// and the accounts that author its sessions.
pub fn dependencies(value: &VerifiedCoValue) -> Vec<CoID> {
    let mut deps: Vec<CoID> = Vec::new();
    let push = |id: CoID, deps: &mut Vec<CoID>| {
        if &id != value.id() && !deps.contains(&id) {
            deps.push(id);
        }
    };
    let header = value.header();
    for named in header.named_dependencies() {
        push(named, &mut deps);
    }
    if matches!(header.ruleset, Ruleset::Group { .. }) {
        for log in value.sessions() {
            for (index, tx) in log.transactions().iter().enumerate() {
                if !matches!(tx, super::transaction::Transaction::Trusting { .. }) {
                    continue;
                }
                // Decoded once and kept with the log (a group is exported with every
                // response made in it).
                let Some(decoded) = log.decoded_changes(value.id(), index, None) else {
                    continue;
                };
                for change in decoded.changes() {
                    let Some(key) = change.get("key").and_then(Value::as_str) else {
                        continue;
                    };
                    let named = key.strip_prefix("parent_").unwrap_or(key);
                    if named.starts_with(CoID::PREFIX)
                        && let Ok(id) = CoID::parse(named)
                    {
                        push(id, &mut deps);
                    }
                }
            }
        }
    }
    for log in value.sessions() {
        if let SessionAuthor::Account(account) = log.session_id().author() {
            push(account.clone(), &mut deps);
        }
    }
    deps
}

struct Exporter<'a> {
    node: &'a LocalNode,
    done: HashSet<CoID>,
    visiting: HashSet<CoID>,
    pieces: Vec<Arc<Vec<ExportedPiece>>>,
}

impl Exporter<'_> {
    fn export(&mut self, id: &CoID) -> Result<(), NodeError> {
        if self.done.contains(id) || !self.visiting.insert(id.clone()) {
            return Ok(());
        }
        let value = self
            .node
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        for dependency in dependencies(value) {
            // What this node does not hold cannot be exported; the receiver loads it itself.
            if self.node.get(&dependency).is_some() {
                self.export(&dependency)?;
            }
        }
        self.pieces.push(self.node.exported_json(value));
        self.visiting.remove(id);
        self.done.insert(id.clone());
        Ok(())
    }

    fn walk(&mut self, id: &CoID, query: &ResolveQuery) -> Result<(), NodeError> {
        self.export(id)?;
        let ResolveQuery::Fields(fields) = query else {
            return Ok(());
        };
        let content = self.node.read(id)?.value;
        for (field, child_query) in fields {
            let children: Vec<&Value> = if field == "$each" {
                content
                    .as_array()
                    .map(|items| items.iter().collect())
                    .unwrap_or_default()
            } else {
                content.get(field).into_iter().collect()
            };
            for child in children {
                // With best-effort resolution, a missing or unreadable child is skipped.
                let Some(child_id) = child.as_str().and_then(|s| CoID::parse(s).ok()) else {
                    continue;
                };
                if self.node.get(&child_id).is_some() {
                    self.walk(&child_id, child_query)?;
                }
            }
        }
        Ok(())
    }
}

/// One exported content piece in the three forms it is used in: JSON, its wire text and its
/// stable JSON text (what a request token's hash covers).
#[derive(Debug)]
pub struct ExportedPiece {
    /// The piece.
    pub message: ContentMessage,
    /// The piece as JSON.
    pub json: Value,
    /// The piece as sent (`action, id, header, priority, new`).
    pub wire: String,
    /// The piece's stable JSON text.
    pub stable: String,
}

impl ExportedPiece {
    fn new(message: ContentMessage) -> Self {
        let json = message.to_json();
        Self {
            wire: message.to_json_string(),
            stable: crate::crypto::stable_stringify(&json),
            json,
            message,
        }
    }
}

/// Above this many cached exports the cache starts over (it only saves work). Each entry
/// is about 12 KB for an account (measured by the soak: every response exports its
/// sender's account), so the cache stays under ~12 MB however many senders come.
const MAX_CACHED_EXPORTS: usize = 1024;

impl LocalNode {
    /// The full content of `id` as JSON pieces, cached per state of the CoValue (accounts and
    /// groups that do not change are exported again and again in responses).
    fn exported_json(&self, value: &VerifiedCoValue) -> Arc<Vec<ExportedPiece>> {
        // What can be sent: signed transactions (a batch in progress has unsigned ones).
        let count: usize = value
            .sessions()
            .map(super::session_log::SessionLog::signed_len)
            .sum();
        if let Ok(cache) = self.exported.try_borrow()
            && let Some((at, pieces)) = cache.get(value.id())
            && *at == count
        {
            return pieces.clone();
        }
        let pieces: Arc<Vec<ExportedPiece>> = Arc::new(
            value
                .new_content_since(None)
                .into_iter()
                .map(ExportedPiece::new)
                .collect(),
        );
        if let Ok(mut cache) = self.exported.try_borrow_mut() {
            if cache.len() >= MAX_CACHED_EXPORTS {
                cache.clear();
            }
            cache.insert(value.id().clone(), (count, pieces.clone()));
        }
        pieces
    }

    /// Like [`LocalNode::export`], each piece as JSON, wire text and stable text (shared
    /// with the node's cache: unchanged CoValues are not serialised again).
    pub fn export_pieces(
        &self,
        id: &CoID,
        resolve: &ResolveQuery,
    ) -> Result<Vec<Arc<Vec<ExportedPiece>>>, NodeError> {
        let mut exporter = Exporter {
            node: self,
            done: HashSet::new(),
            visiting: HashSet::new(),
            pieces: Vec::new(),
        };
        exporter.walk(id, resolve)?;
        Ok(exporter.pieces)
    }

    /// Like [`LocalNode::export`], as JSON pieces ready to send.
    pub fn export_json(&self, id: &CoID, resolve: &ResolveQuery) -> Result<Vec<Value>, NodeError> {
        Ok(self
            .export_pieces(id, resolve)?
            .iter()
            .flat_map(|pieces| pieces.iter().map(|p| p.json.clone()).collect::<Vec<_>>())
            .collect())
    }

    /// The content pieces of `id` and what it depends on, following `resolve`, in the
    /// order `exportCoValue` emits them. Own transactions of an unfinished
    /// [`LocalNode::batch`] are not included until it ends.
    pub fn export(
        &self,
        id: &CoID,
        resolve: &ResolveQuery,
    ) -> Result<Vec<ContentMessage>, NodeError> {
        Ok(self
            .export_pieces(id, resolve)?
            .iter()
            .flat_map(|pieces| pieces.iter().map(|p| p.message.clone()).collect::<Vec<_>>())
            .collect())
    }
}
