//! Content messages (`{"action":"content", …}`): new transactions of some sessions of one
//! CoValue, with the header when the receiver lacks it. Sync and request envelopes
//! (`contentPieces`) both carry them.
//!
//! Parsing checks shapes and that a header hashes to the message id; the signatures are
//! checked when the message is applied ([`super::VerifiedCoValue::apply_content`]).
//! Written messages have cojson's key order: `action, id, header, priority, new,
//! expectContentUntil`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::ContentError;
use super::header::{CoValueHeader, Priority};
use super::known_state::KnownState;
use super::transaction::Transaction;
use crate::crypto::stable_json::write_escaped;
use crate::crypto::{CoID, SessionID, Signature};

/// The new transactions of one session in a content message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionNewContent {
    /// `after`: how many transactions of the session precede `new_transactions`.
    pub after: usize,
    /// `newTransactions`.
    pub new_transactions: Vec<Transaction>,
    /// `lastSignature`: the signature over the session hash after the last new transaction.
    pub last_signature: Signature,
}

/// A content message for one CoValue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentMessage {
    /// `id`: the CoValue.
    pub id: CoID,
    /// `header`, present when the receiver is not known to have it (first piece only).
    pub header: Option<CoValueHeader>,
    /// `priority`.
    pub priority: Priority,
    /// `new`: per session, in the order they were received or written.
    pub new: Vec<(SessionID, SessionNewContent)>,
    /// `expectContentUntil`: the session counts the receiver ends with once every piece of a
    /// split content has arrived (first piece only).
    pub expect_content_until: Option<BTreeMap<SessionID, usize>>,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ContentError {
    ContentError::BadField {
        field,
        reason: reason.into(),
    }
}

fn session_id(text: &str) -> Result<SessionID, ContentError> {
    SessionID::parse(text).map_err(|source| ContentError::BadSessionID {
        text: text.to_owned(),
        source,
    })
}

fn count(value: &Value, field: &'static str) -> Result<usize, ContentError> {
    value
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            bad(
                field,
                format!("expected a non-negative integer, got {value}"),
            )
        })
}

fn session_content(session: &SessionID, value: &Value) -> Result<SessionNewContent, ContentError> {
    let object = value
        .as_object()
        .ok_or_else(|| bad("new.*", format!("expected an object, got {value}")))?;
    let after = count(
        object
            .get("after")
            .ok_or(ContentError::MissingField("new.*.after"))?,
        "new.*.after",
    )?;
    let transactions = match object.get("newTransactions") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(bad(
                "new.*.newTransactions",
                format!("expected an array, got {other}"),
            ));
        }
        None => return Err(ContentError::MissingField("new.*.newTransactions")),
    };
    let new_transactions = transactions
        .iter()
        .enumerate()
        .map(|(index, tx)| {
            Transaction::from_json(tx).map_err(|source| ContentError::Transaction {
                session: Box::new(session.clone()),
                index,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let last_signature = match object.get("lastSignature") {
        Some(Value::String(s)) => {
            Signature::parse(s).map_err(|e| bad("new.*.lastSignature", e.to_string()))?
        }
        Some(other) => {
            return Err(bad(
                "new.*.lastSignature",
                format!("expected a string, got {other}"),
            ));
        }
        None => return Err(ContentError::MissingField("new.*.lastSignature")),
    };
    Ok(SessionNewContent {
        after,
        new_transactions,
        last_signature,
    })
}

impl ContentMessage {
    /// An empty message for `id` (no header, no sessions).
    pub fn new(id: CoID, priority: Priority) -> Self {
        Self {
            id,
            header: None,
            priority,
            new: Vec::new(),
            expect_content_until: None,
        }
    }

    /// Parses a content message from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, ContentError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ContentError::NotJson(e.to_string()))?;
        Self::from_json(&value)
    }

    /// Parses a content message. A header must hash to `id`; unknown fields are ignored.
    pub fn from_json(value: &Value) -> Result<Self, ContentError> {
        let object = value.as_object().ok_or(ContentError::NotAnObject)?;
        match object.get("action") {
            Some(Value::String(action)) if action == "content" => {}
            Some(Value::String(action)) => return Err(ContentError::WrongAction(action.clone())),
            Some(other) => return Err(bad("action", format!("expected a string, got {other}"))),
            None => return Err(ContentError::MissingField("action")),
        }
        let id = match object.get("id") {
            Some(Value::String(s)) => CoID::parse(s).map_err(|e| bad("id", e.to_string()))?,
            Some(other) => return Err(bad("id", format!("expected a string, got {other}"))),
            None => return Err(ContentError::MissingField("id")),
        };
        let header = match object.get("header") {
            None | Some(Value::Null) => None,
            Some(header) => Some(CoValueHeader::from_json_with_id(header, &id)?),
        };
        let priority = object
            .get("priority")
            .ok_or(ContentError::MissingField("priority"))?;
        let priority = priority
            .as_u64()
            .and_then(|p| u8::try_from(p).ok())
            .and_then(Priority::from_u8)
            .ok_or_else(|| bad("priority", format!("expected 0, 3 or 6, got {priority}")))?;
        let new = match object.get("new") {
            Some(Value::Object(sessions)) => sessions
                .iter()
                .map(|(key, content)| {
                    let session = session_id(key)?;
                    let content = session_content(&session, content)?;
                    Ok((session, content))
                })
                .collect::<Result<Vec<_>, ContentError>>()?,
            Some(other) => return Err(bad("new", format!("expected an object, got {other}"))),
            None => return Err(ContentError::MissingField("new")),
        };
        let expect_content_until = match object.get("expectContentUntil") {
            None | Some(Value::Null) => None,
            Some(Value::Object(sessions)) => Some(
                sessions
                    .iter()
                    .map(|(key, n)| Ok((session_id(key)?, count(n, "expectContentUntil.*")?)))
                    .collect::<Result<BTreeMap<_, _>, ContentError>>()?,
            ),
            Some(other) => {
                return Err(bad(
                    "expectContentUntil",
                    format!("expected an object, got {other}"),
                ));
            }
        };
        Ok(Self {
            id,
            header,
            priority,
            new,
            expect_content_until,
        })
    }

    /// The new content of `session`, if the message has some.
    pub fn session(&self, session: &SessionID) -> Option<&SessionNewContent> {
        self.new
            .iter()
            .find(|(id, _)| id == session)
            .map(|(_, content)| content)
    }

    /// What a receiver knows once it has applied this message on top of nothing
    /// (`knownStateFromContent`).
    pub fn known_state(&self) -> KnownState {
        KnownState {
            id: self.id.clone(),
            header: self.header.is_some(),
            sessions: self
                .new
                .iter()
                .map(|(session, content)| {
                    (
                        session.clone(),
                        content.after + content.new_transactions.len(),
                    )
                })
                .collect(),
        }
    }

    /// The message as JSON, in cojson's key order.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("action".into(), "content".into());
        object.insert("id".into(), self.id.as_str().into());
        if let Some(header) = &self.header {
            object.insert("header".into(), header.to_json());
        }
        object.insert("priority".into(), self.priority.as_u8().into());
        let mut sessions = Map::new();
        for (session, content) in &self.new {
            let mut entry = Map::new();
            entry.insert("after".into(), content.after.into());
            entry.insert(
                "newTransactions".into(),
                Value::Array(
                    content
                        .new_transactions
                        .iter()
                        .map(Transaction::to_json)
                        .collect(),
                ),
            );
            entry.insert(
                "lastSignature".into(),
                content.last_signature.to_string().into(),
            );
            sessions.insert(session.as_str().into(), Value::Object(entry));
        }
        object.insert("new".into(), Value::Object(sessions));
        if let Some(until) = &self.expect_content_until {
            let counts = until
                .iter()
                .map(|(session, n)| (session.as_str().to_owned(), Value::from(*n)))
                .collect();
            object.insert("expectContentUntil".into(), Value::Object(counts));
        }
        Value::Object(object)
    }

    /// Appends the compact JSON text of [`Self::to_json`] to `out`, without building a `Value`.
    pub fn write_json(&self, out: &mut String) {
        out.push_str("{\"action\":\"content\",\"id\":");
        write_escaped(self.id.as_str(), out);
        if let Some(header) = &self.header {
            out.push_str(",\"header\":");
            out.push_str(&header.to_json().to_string());
        }
        out.push_str(",\"priority\":");
        out.push_str(&self.priority.as_u8().to_string());
        out.push_str(",\"new\":{");
        for (i, (session, content)) in self.new.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_escaped(session.as_str(), out);
            out.push_str(":{\"after\":");
            out.push_str(&content.after.to_string());
            out.push_str(",\"newTransactions\":[");
            for (j, tx) in content.new_transactions.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                tx.write_canonical(out);
            }
            out.push_str("],\"lastSignature\":");
            write_escaped(&content.last_signature.to_string(), out);
            out.push('}');
        }
        out.push('}');
        if let Some(until) = &self.expect_content_until {
            out.push_str(",\"expectContentUntil\":{");
            for (i, (session, n)) in until.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_escaped(session.as_str(), out);
                out.push(':');
                out.push_str(&n.to_string());
            }
            out.push('}');
        }
        out.push('}');
    }

    /// The compact JSON text of the message.
    pub fn to_json_string(&self) -> String {
        let size: usize = self
            .new
            .iter()
            .flat_map(|(_, c)| &c.new_transactions)
            .map(|tx| tx.size_bytes() + 96)
            .sum();
        let mut out = String::with_capacity(size + 512);
        self.write_json(&mut out);
        out
    }
}
