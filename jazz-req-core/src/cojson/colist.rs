//! CoList content: insertions linked to their neighbours by op ids, deletions marking them,
//! and the depth-first walk that gives cojson's list order (`src/coValues/coList.ts`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::{CoID, SessionID, TransactionID};

/// The id of one op in a list: its transaction and its index in the transaction's changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpID {
    /// The session of the transaction.
    #[serde(rename = "sessionID")]
    pub session_id: SessionID,
    /// The transaction's index in its session.
    #[serde(rename = "txIndex")]
    pub tx_index: u32,
    /// The branch the transaction was made in, for an op merged from a branch (cojson writes
    /// it between `txIndex` and `changeIdx`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<CoID>,
    /// The change's index in the transaction.
    #[serde(rename = "changeIdx")]
    pub change_idx: u32,
}

impl OpID {
    /// The op id of change `change_idx` of transaction `tx`.
    pub fn new(tx: &TransactionID, change_idx: u32) -> Self {
        Self {
            session_id: tx.session_id.clone(),
            tx_index: tx.tx_index,
            branch: tx.branch.clone(),
            change_idx,
        }
    }

    /// The op id as cojson writes it (`sessionID, txIndex, branch?, changeIdx`).
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("sessionID".into(), Value::from(self.session_id.as_str()));
        object.insert("txIndex".into(), Value::from(self.tx_index));
        if let Some(branch) = &self.branch {
            object.insert("branch".into(), Value::from(branch.as_str()));
        }
        object.insert("changeIdx".into(), Value::from(self.change_idx));
        Value::Object(object)
    }

    fn parse(value: &Value) -> Option<Self> {
        Some(Self {
            session_id: SessionID::parse(value.get("sessionID")?.as_str()?).ok()?,
            tx_index: u32::try_from(value.get("txIndex")?.as_u64()?).ok()?,
            branch: match value.get("branch") {
                None | Some(Value::Null) => None,
                Some(branch) => Some(CoID::parse(branch.as_str()?).ok()?),
            },
            change_idx: u32::try_from(value.get("changeIdx")?.as_u64()?).ok()?,
        })
    }
}

/// Where an insertion goes.
#[derive(Clone, Debug, PartialEq)]
pub enum ListPosition {
    /// `app` after `"start"`: at the front of the list's appended items.
    AfterStart,
    /// `app` after an existing item.
    After(OpID),
    /// `pre` before `"end"`.
    BeforeEnd,
    /// `pre` before an existing item.
    Before(OpID),
}

/// A parsed CoList op.
#[derive(Clone, Debug, PartialEq)]
pub enum ListOp {
    /// Inserts `value` at `position`.
    Insert {
        /// The inserted value (a CoValue reference is its `co_z…` string).
        value: Value,
        /// Where it goes.
        position: ListPosition,
    },
    /// Deletes the item inserted by `insertion`.
    Delete {
        /// The op that inserted the item.
        insertion: OpID,
    },
}

impl ListOp {
    /// Reads one change of a list transaction; `None` if it is not a list op.
    pub fn from_change(change: &Value) -> Option<Self> {
        match change.get("op")?.as_str()? {
            "app" => {
                let position = match change.get("after")? {
                    Value::String(s) if s == "start" => ListPosition::AfterStart,
                    other => ListPosition::After(OpID::parse(other)?),
                };
                Some(Self::Insert {
                    value: change.get("value").cloned().unwrap_or(Value::Null),
                    position,
                })
            }
            "pre" => {
                let position = match change.get("before")? {
                    Value::String(s) if s == "end" => ListPosition::BeforeEnd,
                    other => ListPosition::Before(OpID::parse(other)?),
                };
                Some(Self::Insert {
                    value: change.get("value").cloned().unwrap_or(Value::Null),
                    position,
                })
            }
            "del" => Some(Self::Delete {
                insertion: OpID::parse(change.get("insertion")?)?,
            }),
            _ => None,
        }
    }

    /// The change as cojson writes it (`op, value, after|before` or `op, insertion`).
    pub fn to_change(&self) -> Value {
        let mut change = Map::new();
        match self {
            Self::Insert { value, position } => {
                let (op, anchor_key, anchor) = match position {
                    ListPosition::AfterStart => ("app", "after", Value::from("start")),
                    ListPosition::After(id) => ("app", "after", id.to_json()),
                    ListPosition::BeforeEnd => ("pre", "before", Value::from("end")),
                    ListPosition::Before(id) => ("pre", "before", id.to_json()),
                };
                change.insert("op".into(), Value::from(op));
                change.insert("value".into(), value.clone());
                change.insert(anchor_key.into(), anchor);
            }
            Self::Delete { insertion } => {
                change.insert("op".into(), Value::from("del"));
                change.insert("insertion".into(), insertion.to_json());
            }
        }
        Value::Object(change)
    }
}

#[derive(Clone, Debug)]
struct Insertion {
    value: Value,
    deleted: bool,
    /// Inserted after this item, oldest first.
    successors: Vec<OpID>,
    /// Inserted before this item, oldest first.
    predecessors: Vec<OpID>,
}

/// The content of a CoList, built from its valid ops in transaction order.
#[derive(Clone, Debug, Default)]
pub struct ListContent {
    insertions: HashMap<OpID, Insertion>,
    after_start: Vec<OpID>,
    before_end: Vec<OpID>,
}

impl ListContent {
    /// Applies one op; ops must come in cojson's transaction order, changes in array order.
    /// Ops that point at unknown items are ignored, as cojson ignores them.
    pub fn apply(&mut self, id: OpID, op: ListOp) {
        match op {
            ListOp::Insert { value, position } => {
                let anchored = match &position {
                    ListPosition::AfterStart => {
                        self.after_start.push(id.clone());
                        true
                    }
                    ListPosition::BeforeEnd => {
                        self.before_end.push(id.clone());
                        true
                    }
                    ListPosition::After(anchor) => match self.insertions.get_mut(anchor) {
                        Some(item) => {
                            item.successors.push(id.clone());
                            true
                        }
                        None => false,
                    },
                    ListPosition::Before(anchor) => match self.insertions.get_mut(anchor) {
                        Some(item) => {
                            item.predecessors.push(id.clone());
                            true
                        }
                        None => false,
                    },
                };
                if anchored {
                    self.insertions.insert(
                        id,
                        Insertion {
                            value,
                            deleted: false,
                            successors: Vec::new(),
                            predecessors: Vec::new(),
                        },
                    );
                }
            }
            ListOp::Delete { insertion } => {
                if let Some(item) = self.insertions.get_mut(&insertion) {
                    item.deleted = true;
                }
            }
        }
    }

    /// Whether `op`, applied next, becomes the last visible item when `last` is the last
    /// visible one now: an insertion right after `last` while nothing was inserted after it
    /// yet, or the first insertion at the start of a list that never had an item. (After
    /// the last visible item the walk meets only deleted ones, so the new item comes first.)
    pub fn lands_last(&self, op: &ListOp, last: Option<&OpID>) -> bool {
        match (op, last) {
            (
                ListOp::Insert {
                    position: ListPosition::After(anchor),
                    ..
                },
                Some(last),
            ) => {
                anchor == last
                    && self
                        .insertions
                        .get(anchor)
                        .is_some_and(|item| item.successors.is_empty())
            }
            (
                ListOp::Insert {
                    position: ListPosition::AfterStart | ListPosition::BeforeEnd,
                    ..
                },
                None,
            ) => self.insertions.is_empty(),
            _ => false,
        }
    }

    /// The visible items in list order, with the op id that inserted each.
    pub fn entries(&self) -> Vec<(&OpID, &Value)> {
        let mut out = Vec::new();
        // An explicit stack instead of recursion: long lists must not overflow the stack.
        enum Step<'a> {
            Visit(&'a OpID),
            Emit(&'a OpID),
        }
        let mut stack: Vec<Step<'_>> = Vec::new();
        for root in self.after_start.iter().chain(&self.before_end).rev() {
            stack.push(Step::Visit(root));
        }
        while let Some(step) = stack.pop() {
            match step {
                Step::Emit(id) => {
                    if let Some(item) = self.insertions.get(id).filter(|i| !i.deleted) {
                        out.push((id, &item.value));
                    }
                }
                Step::Visit(id) => {
                    let Some(item) = self.insertions.get(id) else {
                        continue;
                    };
                    // Visit order: predecessors (last added first), the item, successors
                    // (last added first). Pushed in reverse onto the stack.
                    for successor in &item.successors {
                        stack.push(Step::Visit(successor));
                    }
                    stack.push(Step::Emit(id));
                    for predecessor in &item.predecessors {
                        stack.push(Step::Visit(predecessor));
                    }
                }
            }
        }
        out
    }

    /// The visible values in list order (`toJSON()`).
    pub fn to_json(&self) -> Value {
        Value::Array(self.entries().into_iter().map(|(_, v)| v.clone()).collect())
    }
}
