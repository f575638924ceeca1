//! CoMap content: per key, the ops of valid transactions in cojson's transaction order;
//! the last op wins (`src/coValues/coMap.ts`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::crypto::TransactionID;

/// One valid `set` or `del` of one key.
#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    /// When the transaction was made (ms since the epoch).
    pub made_at: u64,
    /// The transaction that made the op.
    pub tx: TransactionID,
    /// Who made it: the session author (account id or agent id).
    pub by: String,
    /// The value set, or `None` for a `del`.
    pub value: Option<Value>,
}

/// A parsed CoMap op (`{"op":"set","key","value"}` or `{"op":"del","key"}`).
#[derive(Clone, Debug, PartialEq)]
pub enum MapOp {
    /// Sets `key` to `value`.
    Set {
        /// The key.
        key: String,
        /// The value (a CoValue reference is its `co_z…` string).
        value: Value,
    },
    /// Deletes `key`.
    Del {
        /// The key.
        key: String,
    },
}

impl MapOp {
    /// Reads one change of a map transaction; `None` if it is not a map op.
    pub fn from_change(change: &Value) -> Option<Self> {
        let key = change.get("key")?.as_str()?.to_owned();
        match change.get("op")?.as_str()? {
            "set" => Some(Self::Set {
                key,
                value: change.get("value").cloned().unwrap_or(Value::Null),
            }),
            "del" => Some(Self::Del { key }),
            _ => None,
        }
    }

    /// The key the op touches.
    pub fn key(&self) -> &str {
        match self {
            Self::Set { key, .. } | Self::Del { key } => key,
        }
    }

    /// The change as cojson writes it: fields in the order `op, key, value`.
    pub fn to_change(&self) -> Value {
        let mut change = Map::new();
        match self {
            Self::Set { key, value } => {
                change.insert("op".into(), Value::from("set"));
                change.insert("key".into(), Value::from(key.as_str()));
                change.insert("value".into(), value.clone());
            }
            Self::Del { key } => {
                change.insert("op".into(), Value::from("del"));
                change.insert("key".into(), Value::from(key.as_str()));
            }
        }
        Value::Object(change)
    }
}

/// The history of a CoMap: every key with its valid ops, oldest first.
#[derive(Clone, Debug, Default)]
pub struct MapHistory {
    order: Vec<String>,
    entries: HashMap<String, Vec<MapEntry>>,
}

impl MapHistory {
    /// Adds an op; ops must be added in cojson's transaction order.
    pub fn push(&mut self, key: &str, entry: MapEntry) {
        match self.entries.get_mut(key) {
            Some(list) => list.push(entry),
            None => {
                self.order.push(key.to_owned());
                self.entries.insert(key.to_owned(), vec![entry]);
            }
        }
    }

    /// The last op on `key` made at or before `at` (any time when `None`): `lastEditAt`.
    pub fn last_edit(&self, key: &str, at: Option<u64>) -> Option<&MapEntry> {
        let list = self.entries.get(key)?;
        match at {
            None => list.last(),
            Some(time) => list.iter().rev().find(|e| e.made_at <= time),
        }
    }

    /// The value of `key` at `at` (now when `None`); `None` when unset or deleted.
    pub fn get(&self, key: &str, at: Option<u64>) -> Option<&Value> {
        self.last_edit(key, at)?.value.as_ref()
    }

    /// The value of `key` as a string, if it is one.
    pub fn get_str(&self, key: &str, at: Option<u64>) -> Option<&str> {
        self.get(key, at)?.as_str()
    }

    /// Every key that has ever had an op, in first-op order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Every op on `key`, oldest first.
    pub fn edits(&self, key: &str) -> &[MapEntry] {
        self.entries.get(key).map_or(&[], Vec::as_slice)
    }

    /// The map's current content as JSON (`toJSON()`): keys whose last op is a `set`.
    pub fn to_json(&self, at: Option<u64>) -> Value {
        let mut object = Map::new();
        for key in &self.order {
            if let Some(value) = self.get(key, at) {
                object.insert(key.clone(), value.clone());
            }
        }
        Value::Object(object)
    }
}
