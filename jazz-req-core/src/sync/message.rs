//! The messages of cojson 0.20.19's sync protocol (`src/sync.ts`), parsed from and written to
//! their JSON wire form, and the ping that cojson-transport-ws servers send.
//!
//! - `{"action":"load","id","header","sessions"}`: "here is what I know of `id`; send me what I
//!   lack" (it also subscribes the sender to later changes);
//! - `{"action":"known","id","header","sessions","isCorrection"?,"asDependencyOf"?}`: what the
//!   sender holds (an acknowledgement after content; with `isCorrection`, "your content does
//!   not fit, send again from here");
//! - `{"action":"content",…}`: new transactions ([`ContentMessage`]);
//! - `{"action":"done","id"}`: accepted and ignored;
//! - `{"action":"reconcile"…}` / `{"action":"reconcile-ack"…}`: storage reconciliation between
//!   a client with storage and a persistent server; parsed so they can be ignored.
//!
//! Written messages keep cojson's key order (`action` first; `isCorrection` before the known
//! state, as `{action, isCorrection, ...knownState}` spreads); receivers ignore order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::MessageError;
use crate::cojson::{ContentMessage, KnownState};
use crate::crypto::stable_json::write_escaped;
use crate::crypto::{CoID, SessionID};

/// A `known` message: what the sender holds of a CoValue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownMessage {
    /// The sender's known state.
    pub state: KnownState,
    /// `isCorrection`: the receiver's content did not fit (a gap, or no header for a CoValue
    /// the sender lacks); it should send again from `state`.
    pub is_correction: bool,
    /// `asDependencyOf` (never produced by cojson 0.20.19; kept when present).
    pub as_dependency_of: Option<CoID>,
}

/// One message of the sync protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncMessage {
    /// `load`: the sender's known state of a CoValue it wants (and subscribes to).
    Load(KnownState),
    /// `known`: what the sender holds of a CoValue.
    Known(KnownMessage),
    /// `content`: new transactions of a CoValue.
    Content(Box<ContentMessage>),
    /// `done`: ignored by cojson 0.20.19.
    Done(CoID),
    /// `reconcile`: a batch of `[id, shortHash of the sessions]` pairs (storage reconciliation).
    Reconcile {
        /// The batch id.
        batch: String,
        /// The CoValues with the hash of their known sessions.
        values: Vec<(CoID, String)>,
    },
    /// `reconcile-ack`: the receiver of a `reconcile` batch is done with it.
    ReconcileAck {
        /// The batch id.
        batch: String,
    },
}

/// One message of a frame: a sync message, or a transport ping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A sync message.
    Sync(SyncMessage),
    /// `{"type":"ping","time":<ms>,"dc":<string>}`: the server's keep-alive (nothing to answer).
    Ping {
        /// `time`: the server's clock in ms since the epoch, when it is a non-negative integer.
        time_ms: Option<u64>,
        /// `dc`: the server's data centre (`"unknown"` for `jazz-run sync`).
        dc: Option<String>,
    },
}

fn bad(field: &'static str, reason: impl Into<String>) -> MessageError {
    MessageError::BadField {
        field,
        reason: reason.into(),
    }
}

fn co_id(object: &Map<String, Value>, field: &'static str) -> Result<CoID, MessageError> {
    match object.get(field) {
        Some(Value::String(text)) => {
            CoID::parse(text).map_err(|source| MessageError::BadId { field, source })
        }
        Some(other) => Err(bad(field, format!("expected a string, got {other}"))),
        None => Err(MessageError::MissingField(field)),
    }
}

fn text(object: &Map<String, Value>, field: &'static str) -> Result<String, MessageError> {
    match object.get(field) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(bad(field, format!("expected a string, got {other}"))),
        None => Err(MessageError::MissingField(field)),
    }
}

/// The `{id, header, sessions}` part of `load` and `known`.
fn known_state(object: &Map<String, Value>) -> Result<KnownState, MessageError> {
    let id = co_id(object, "id")?;
    let header = match object.get("header") {
        Some(Value::Bool(header)) => *header,
        Some(other) => return Err(bad("header", format!("expected a boolean, got {other}"))),
        None => return Err(MessageError::MissingField("header")),
    };
    let sessions = match object.get("sessions") {
        Some(Value::Object(sessions)) => sessions
            .iter()
            .map(|(session, count)| {
                let session = SessionID::parse(session).map_err(|source| MessageError::BadId {
                    field: "sessions",
                    source,
                })?;
                let count = count
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        bad(
                            "sessions.*",
                            format!("expected a non-negative integer, got {count}"),
                        )
                    })?;
                Ok((session, count))
            })
            .collect::<Result<BTreeMap<_, _>, MessageError>>()?,
        Some(other) => return Err(bad("sessions", format!("expected an object, got {other}"))),
        None => return Err(MessageError::MissingField("sessions")),
    };
    Ok(KnownState {
        id,
        header,
        sessions,
    })
}

fn reconcile_values(object: &Map<String, Value>) -> Result<Vec<(CoID, String)>, MessageError> {
    let Some(Value::Array(values)) = object.get("values") else {
        return Err(MessageError::MissingField("values"));
    };
    values
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(id), Value::String(hash)]) => {
                let id = CoID::parse(id).map_err(|source| MessageError::BadId {
                    field: "values.*",
                    source,
                })?;
                Ok((id, hash.clone()))
            }
            _ => Err(bad("values.*", format!("expected [id, hash], got {pair}"))),
        })
        .collect()
}

impl SyncMessage {
    /// Parses a sync message (an object with `action`). Unknown fields are ignored.
    pub fn from_json(value: &Value) -> Result<Self, MessageError> {
        let object = value.as_object().ok_or(MessageError::NotAnObject)?;
        let action = match object.get("action") {
            Some(Value::String(action)) => action.as_str(),
            Some(other) => return Err(bad("action", format!("expected a string, got {other}"))),
            None => return Err(MessageError::MissingField("action")),
        };
        match action {
            "load" => Ok(Self::Load(known_state(object)?)),
            "known" => Ok(Self::Known(KnownMessage {
                state: known_state(object)?,
                is_correction: match object.get("isCorrection") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(flag)) => *flag,
                    Some(other) => {
                        return Err(bad(
                            "isCorrection",
                            format!("expected a boolean, got {other}"),
                        ));
                    }
                },
                as_dependency_of: match object.get("asDependencyOf") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(co_id(object, "asDependencyOf")?),
                },
            })),
            "content" => Ok(Self::Content(Box::new(ContentMessage::from_json(value)?))),
            "done" => Ok(Self::Done(co_id(object, "id")?)),
            "reconcile" => Ok(Self::Reconcile {
                batch: text(object, "id")?,
                values: reconcile_values(object)?,
            }),
            "reconcile-ack" => Ok(Self::ReconcileAck {
                batch: text(object, "id")?,
            }),
            other => Err(MessageError::UnknownAction(other.to_owned())),
        }
    }

    /// The CoValue the message is about (`None` for reconcile batches).
    pub fn covalue(&self) -> Option<&CoID> {
        match self {
            Self::Load(state) => Some(&state.id),
            Self::Known(known) => Some(&known.state.id),
            Self::Content(content) => Some(&content.id),
            Self::Done(id) => Some(id),
            Self::Reconcile { .. } | Self::ReconcileAck { .. } => None,
        }
    }

    /// The `action` of the message.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Load(_) => "load",
            Self::Known(_) => "known",
            Self::Content(_) => "content",
            Self::Done(_) => "done",
            Self::Reconcile { .. } => "reconcile",
            Self::ReconcileAck { .. } => "reconcile-ack",
        }
    }

    /// Appends the compact JSON text of the message to `out`.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Self::Load(state) => {
                out.push_str("{\"action\":\"load\",");
                write_known_state(state, out);
                out.push('}');
            }
            Self::Known(known) => {
                out.push_str("{\"action\":\"known\",");
                if known.is_correction {
                    out.push_str("\"isCorrection\":true,");
                }
                write_known_state(&known.state, out);
                if let Some(dependent) = &known.as_dependency_of {
                    out.push_str(",\"asDependencyOf\":");
                    write_escaped(dependent.as_str(), out);
                }
                out.push('}');
            }
            Self::Content(content) => content.write_json(out),
            Self::Done(id) => {
                out.push_str("{\"action\":\"done\",\"id\":");
                write_escaped(id.as_str(), out);
                out.push('}');
            }
            Self::Reconcile { batch, values } => {
                out.push_str("{\"action\":\"reconcile\",\"id\":");
                write_escaped(batch, out);
                out.push_str(",\"values\":[");
                for (i, (id, hash)) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    write_escaped(id.as_str(), out);
                    out.push(',');
                    write_escaped(hash, out);
                    out.push(']');
                }
                out.push_str("]}");
            }
            Self::ReconcileAck { batch } => {
                out.push_str("{\"action\":\"reconcile-ack\",\"id\":");
                write_escaped(batch, out);
                out.push('}');
            }
        }
    }

    /// The compact JSON text of the message.
    pub fn to_json_string(&self) -> String {
        match self {
            Self::Content(content) => content.to_json_string(),
            _ => {
                let mut out = String::with_capacity(128);
                self.write_json(&mut out);
                out
            }
        }
    }
}

fn write_known_state(state: &KnownState, out: &mut String) {
    out.push_str("\"id\":");
    write_escaped(state.id.as_str(), out);
    out.push_str(if state.header {
        ",\"header\":true"
    } else {
        ",\"header\":false"
    });
    out.push_str(",\"sessions\":{");
    for (i, (session, count)) in state.sessions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_escaped(session.as_str(), out);
        out.push(':');
        out.push_str(&count.to_string());
    }
    out.push('}');
}

impl Incoming {
    /// Parses one message of a frame: an object with `action` is a sync message, one with
    /// `time` a ping (what cojson-transport-ws checks, in that order).
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| MessageError::NotJson(e.to_string()))?;
        let object = value.as_object().ok_or(MessageError::NotAnObject)?;
        if object.contains_key("action") {
            return SyncMessage::from_json(&value).map(Self::Sync);
        }
        if let Some(time) = object.get("time") {
            return Ok(Self::Ping {
                time_ms: time.as_u64(),
                dc: object.get("dc").and_then(Value::as_str).map(str::to_owned),
            });
        }
        Err(MessageError::Unrecognised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "co_zQJnCgemxaV2au3MLnab8RFDB4y_session_zJ7pK4H3vXwq";

    #[test]
    fn load_and_known_round_trip() -> Result<(), MessageError> {
        let text = format!(
            "{{\"action\":\"load\",\"id\":\"co_zPxnzZ632P5PcYU32PEoNLrMTf\",\"header\":true,\"sessions\":{{\"{SESSION}\":3}}}}"
        );
        let Incoming::Sync(message) = Incoming::parse(&text)? else {
            return Err(MessageError::Unrecognised);
        };
        assert_eq!(message.action(), "load");
        assert_eq!(message.to_json_string(), text);

        let text = format!(
            "{{\"action\":\"known\",\"isCorrection\":true,\"id\":\"co_zPxnzZ632P5PcYU32PEoNLrMTf\",\"header\":false,\"sessions\":{{\"{SESSION}\":0}}}}"
        );
        let Incoming::Sync(SyncMessage::Known(known)) = Incoming::parse(&text)? else {
            return Err(MessageError::Unrecognised);
        };
        assert!(known.is_correction);
        assert!(!known.state.header);
        assert_eq!(SyncMessage::Known(known).to_json_string(), text);
        Ok(())
    }

    #[test]
    fn pings_and_ignored_actions_parse() -> Result<(), MessageError> {
        let ping = Incoming::parse(r#"{"type":"ping","time":1733000000000,"dc":"unknown"}"#)?;
        assert_eq!(
            ping,
            Incoming::Ping {
                time_ms: Some(1_733_000_000_000),
                dc: Some("unknown".into())
            }
        );
        let done = Incoming::parse(r#"{"action":"done","id":"co_zPxnzZ632P5PcYU32PEoNLrMTf"}"#)?;
        assert!(matches!(done, Incoming::Sync(SyncMessage::Done(_))));
        let ack = Incoming::parse(r#"{"action":"reconcile-ack","id":"b1"}"#)?;
        assert_eq!(
            ack,
            Incoming::Sync(SyncMessage::ReconcileAck { batch: "b1".into() })
        );
        Ok(())
    }

    #[test]
    fn malformed_messages_are_errors() {
        let cases = [
            ("not json", "NotJson"),
            ("[1,2]", "NotAnObject"),
            (r#"{"hello":1}"#, "Unrecognised"),
            (r#"{"action":"dance","id":"co_z1"}"#, "UnknownAction"),
            (
                r#"{"action":"load","id":"co_z1","header":true}"#,
                "MissingField",
            ),
            (
                r#"{"action":"known","id":"co_z1","header":1,"sessions":{}}"#,
                "BadField",
            ),
            (
                r#"{"action":"known","id":"nope","header":true,"sessions":{}}"#,
                "BadId",
            ),
            (
                r#"{"action":"load","id":"co_z1","header":true,"sessions":{"x_session_z1":-1}}"#,
                "BadId",
            ),
            (
                r#"{"action":"content","id":"co_z1","priority":3,"new":{"s":1}}"#,
                "Content",
            ),
        ];
        for (text, kind) in cases {
            let error = Incoming::parse(text).err();
            let debug = format!("{error:?}");
            assert!(
                debug.starts_with(&format!("Some({kind}")),
                "{text}: {debug}"
            );
        }
    }
}
