//! The CoValue header: what a CoValue is (type, ruleset, meta, uniqueness), and its id.
//!
//! cojson 0.20.19 checks a received header by parsing it into a typed struct, writing that
//! back canonically (fields in alphabetical order) and comparing the hash with the message
//! id. Unknown fields are therefore dropped and make the id mismatch; this module does the same.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::canonical::write_canonical;
use super::clock::{iso_8601_ms, now_ms};
use super::error::HeaderError;
use crate::crypto::hash::short_hash_of_stable;
use crate::crypto::random::new_uniqueness;
use crate::crypto::stable_json::write_escaped;
use crate::crypto::{AgentID, CoID, CryptoError, SessionAuthor};

/// The kind of CoValue (`type`). Groups and accounts are `comap`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoValueType {
    /// A map (`"comap"`): plain maps, groups, accounts, profiles.
    CoMap,
    /// A list (`"colist"`).
    CoList,
    /// A stream of per-session entries (`"costream"`), binary streams included.
    CoStream,
    /// Collaborative plain text (`"coplaintext"`).
    CoPlainText,
}

impl CoValueType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CoMap => "comap",
            Self::CoList => "colist",
            Self::CoStream => "costream",
            Self::CoPlainText => "coplaintext",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "comap" => Self::CoMap,
            "colist" => Self::CoList,
            "costream" => Self::CoStream,
            "coplaintext" => Self::CoPlainText,
            _ => return None,
        })
    }
}

/// Who may write what (`ruleset`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ruleset {
    /// A group or an account: `{type:"group", initialAdmin}`.
    Group {
        /// The first admin: an agent (accounts) or an account (groups).
        initial_admin: SessionAuthor,
    },
    /// A value owned by a group: `{type:"ownedByGroup", group, restrictDeletion?}`.
    OwnedByGroup {
        /// The owning group.
        group: CoID,
        /// `restrictDeletion` as written (only co-lists set it, to `true`); `None` when absent.
        restrict_deletion: Option<bool>,
    },
    /// No permission checks: `{type:"unsafeAllowAll"}`.
    UnsafeAllowAll,
}

/// `createdAt`: absent, `null`, or an ISO timestamp. Absent and `null` hash differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreatedAt {
    /// The field is not written.
    Absent,
    /// `"createdAt": null` (accounts).
    Null,
    /// `"createdAt": "2026-…Z"` (kept as written).
    At(String),
}

/// `uniqueness`: what makes two otherwise equal headers distinct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    /// A string (`"z…"` for values created with `createdNowUnique`).
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer that fits an `i64`.
    Integer(i64),
    /// `null` (accounts).
    Null,
    /// An object of non-empty keys to strings.
    Object(BTreeMap<String, String>),
}

/// The priority of a CoValue's content messages (`priority`, cojson `src/priority.ts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// `0`: accounts and groups.
    High,
    /// `3`: everything else.
    Medium,
    /// `6`: binary co-streams.
    Low,
}

impl Priority {
    /// The wire value (0, 3 or 6).
    pub fn as_u8(self) -> u8 {
        match self {
            Self::High => 0,
            Self::Medium => 3,
            Self::Low => 6,
        }
    }

    /// The priority with this wire value, if it is 0, 3 or 6.
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::High,
            3 => Self::Medium,
            6 => Self::Low,
            _ => return None,
        })
    }
}

/// A CoValue header, typed. Its id is [`CoValueHeader::id`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoValueHeader {
    /// `type`.
    pub co_type: CoValueType,
    /// `ruleset`.
    pub ruleset: Ruleset,
    /// `meta`: `None` for `null` (or absent, which then fails the id check as in cojson).
    /// cojson writes objects; the real library accepts any JSON value, and so does this.
    pub meta: Option<Value>,
    /// `createdAt`.
    pub created_at: CreatedAt,
    /// `uniqueness`.
    pub uniqueness: Uniqueness,
}

fn bad(field: &'static str, reason: impl Into<String>) -> HeaderError {
    HeaderError::BadField {
        field,
        reason: reason.into(),
    }
}

fn string_field<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<&'a str, HeaderError> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(bad(field, format!("expected a string, got {other}"))),
        None => Err(HeaderError::MissingField(field)),
    }
}

impl CoValueHeader {
    /// A header for a new CoValue: `createdAt` now and a fresh random `uniqueness`
    /// (cojson's `createdNowUnique`).
    pub fn new_unique(
        co_type: CoValueType,
        ruleset: Ruleset,
        meta: Option<Value>,
    ) -> Result<Self, CryptoError> {
        Ok(Self {
            co_type,
            ruleset,
            meta,
            created_at: CreatedAt::At(iso_8601_ms(now_ms())),
            uniqueness: Uniqueness::String(new_uniqueness()?),
        })
    }

    /// The header of the account whose initial admin is `agent` (its id depends on the agent only).
    pub fn account(agent: &AgentID) -> Self {
        let mut meta = Map::new();
        meta.insert("type".to_owned(), Value::String("account".to_owned()));
        Self {
            co_type: CoValueType::CoMap,
            ruleset: Ruleset::Group {
                initial_admin: SessionAuthor::Agent(*agent),
            },
            meta: Some(Value::Object(meta)),
            created_at: CreatedAt::Null,
            uniqueness: Uniqueness::Null,
        }
    }

    /// Parses a header as cojson's Rust core does. Unknown fields are dropped, so a header
    /// with extra fields parses but its [`id`](Self::id) differs from the one it was sent with.
    pub fn from_json(value: &Value) -> Result<Self, HeaderError> {
        let object = value.as_object().ok_or(HeaderError::NotAnObject)?;
        let type_name = string_field(object, "type", "type")?;
        let co_type = CoValueType::parse(type_name)
            .ok_or_else(|| bad("type", format!("unknown CoValue type {type_name:?}")))?;
        let ruleset = parse_ruleset(object.get("ruleset"))?;
        let meta = match object.get("meta") {
            None | Some(Value::Null) => None,
            Some(other) => Some(other.clone()),
        };
        let created_at = match object.get("createdAt") {
            None => CreatedAt::Absent,
            Some(Value::Null) => CreatedAt::Null,
            Some(Value::String(s)) => CreatedAt::At(s.clone()),
            Some(other) => return Err(bad("createdAt", format!("expected a string, got {other}"))),
        };
        let uniqueness = parse_uniqueness(object.get("uniqueness"))?;
        Ok(Self {
            co_type,
            ruleset,
            meta,
            created_at,
            uniqueness,
        })
    }

    /// Parses a header and checks that it hashes to `id` (cojson's "CoValue ID mismatch").
    pub fn from_json_with_id(value: &Value, id: &CoID) -> Result<Self, HeaderError> {
        let header = Self::from_json(value)?;
        let actual = header.id();
        if &actual != id {
            return Err(HeaderError::IdMismatch {
                expected: id.clone(),
                actual,
            });
        }
        Ok(header)
    }

    /// The canonical text the id is the hash of: fields in alphabetical order, `createdAt`
    /// omitted only when absent.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        match &self.created_at {
            CreatedAt::Absent => {}
            CreatedAt::Null => out.push_str("\"createdAt\":null,"),
            CreatedAt::At(at) => {
                out.push_str("\"createdAt\":");
                write_escaped(at, &mut out);
                out.push(',');
            }
        }
        out.push_str("\"meta\":");
        match &self.meta {
            Some(meta) => write_canonical(meta, &mut out),
            None => out.push_str("null"),
        }
        out.push_str(",\"ruleset\":");
        match &self.ruleset {
            Ruleset::Group { initial_admin } => {
                out.push_str("{\"initialAdmin\":");
                write_escaped(&initial_admin.to_string(), &mut out);
                out.push_str(",\"type\":\"group\"}");
            }
            Ruleset::OwnedByGroup {
                group,
                restrict_deletion,
            } => {
                out.push_str("{\"group\":");
                write_escaped(group.as_str(), &mut out);
                if let Some(restrict) = restrict_deletion {
                    out.push_str(if *restrict {
                        ",\"restrictDeletion\":true"
                    } else {
                        ",\"restrictDeletion\":false"
                    });
                }
                out.push_str(",\"type\":\"ownedByGroup\"}");
            }
            Ruleset::UnsafeAllowAll => out.push_str("{\"type\":\"unsafeAllowAll\"}"),
        }
        out.push_str(",\"type\":\"");
        out.push_str(self.co_type.as_str());
        out.push_str("\",\"uniqueness\":");
        write_uniqueness(&self.uniqueness, &mut out);
        out.push('}');
        out
    }

    /// The CoValue id: `co_z` + base58 of the first 19 bytes of BLAKE3 of [`Self::canonical_json`].
    pub fn id(&self) -> CoID {
        Self::id_of_canonical(&self.canonical_json())
    }

    /// The id of a header whose [`CoValueHeader::canonical_json`] is `canonical` (for a caller
    /// that needs both).
    pub fn id_of_canonical(canonical: &str) -> CoID {
        CoID::from_short_hash(&short_hash_of_stable(canonical))
    }

    /// The header as cojson writes it in content messages (`type, ruleset, meta, createdAt,
    /// uniqueness`).
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), Value::String(self.co_type.as_str().into()));
        object.insert("ruleset".into(), ruleset_json(&self.ruleset));
        object.insert("meta".into(), self.meta.clone().unwrap_or(Value::Null));
        match &self.created_at {
            CreatedAt::Absent => {}
            CreatedAt::Null => {
                object.insert("createdAt".into(), Value::Null);
            }
            CreatedAt::At(at) => {
                object.insert("createdAt".into(), Value::String(at.clone()));
            }
        }
        object.insert("uniqueness".into(), uniqueness_json(&self.uniqueness));
        Value::Object(object)
    }

    /// `meta.type`, when meta is an object with a string `type`.
    pub fn meta_type(&self) -> Option<&str> {
        self.meta.as_ref()?.get("type")?.as_str()
    }

    /// The priority of this CoValue's content: high for accounts and groups, low for binary
    /// streams, medium otherwise.
    pub fn priority(&self) -> Priority {
        if self.meta_type() == Some("account") || matches!(self.ruleset, Ruleset::Group { .. }) {
            Priority::High
        } else if self.co_type == CoValueType::CoStream && self.meta_type() == Some("binary") {
            Priority::Low
        } else {
            Priority::Medium
        }
    }

    /// The CoValues this header names: the owner group (`ownedByGroup`) and the branch
    /// source (`meta.source`), in that order.
    pub fn named_dependencies(&self) -> Vec<CoID> {
        let mut deps = Vec::new();
        if let Ruleset::OwnedByGroup { group, .. } = &self.ruleset {
            deps.push(group.clone());
        }
        let source = self
            .meta
            .as_ref()
            .and_then(|m| m.get("source"))
            .and_then(Value::as_str)
            .and_then(|s| CoID::parse(s).ok());
        deps.extend(source);
        deps
    }

    /// The agent that signs for this account, if this is an account header (a `comap` with a
    /// `group` ruleset, `meta.type == "account"` and an agent as initial admin), as cojson's
    /// `resolveAccountAgent` requires.
    pub fn account_agent(&self) -> Option<&AgentID> {
        match (&self.co_type, &self.ruleset, self.meta_type()) {
            (
                CoValueType::CoMap,
                Ruleset::Group {
                    initial_admin: SessionAuthor::Agent(agent),
                },
                Some("account"),
            ) => Some(agent),
            _ => None,
        }
    }
}

fn parse_author(text: &str) -> Result<SessionAuthor, HeaderError> {
    let reason = |e: crate::crypto::ParseError| bad("ruleset.initialAdmin", e.to_string());
    if text.starts_with(CoID::PREFIX) {
        CoID::parse(text)
            .map(SessionAuthor::Account)
            .map_err(reason)
    } else {
        AgentID::parse(text)
            .map(SessionAuthor::Agent)
            .map_err(reason)
    }
}

fn parse_ruleset(value: Option<&Value>) -> Result<Ruleset, HeaderError> {
    let object = match value {
        Some(Value::Object(object)) => object,
        Some(other) => return Err(bad("ruleset", format!("expected an object, got {other}"))),
        None => return Err(HeaderError::MissingField("ruleset")),
    };
    match string_field(object, "type", "ruleset.type")? {
        "group" => Ok(Ruleset::Group {
            initial_admin: parse_author(string_field(
                object,
                "initialAdmin",
                "ruleset.initialAdmin",
            )?)?,
        }),
        "ownedByGroup" => {
            let group = CoID::parse(string_field(object, "group", "ruleset.group")?)
                .map_err(|e| bad("ruleset.group", e.to_string()))?;
            let restrict_deletion = match object.get("restrictDeletion") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(other) => {
                    return Err(bad(
                        "ruleset.restrictDeletion",
                        format!("expected a boolean, got {other}"),
                    ));
                }
            };
            Ok(Ruleset::OwnedByGroup {
                group,
                restrict_deletion,
            })
        }
        "unsafeAllowAll" => Ok(Ruleset::UnsafeAllowAll),
        other => Err(bad("ruleset.type", format!("unknown ruleset {other:?}"))),
    }
}

fn parse_uniqueness(value: Option<&Value>) -> Result<Uniqueness, HeaderError> {
    let field = "uniqueness";
    match value {
        None => Err(HeaderError::MissingField(field)),
        Some(Value::Null) => Ok(Uniqueness::Null),
        Some(Value::Bool(b)) => Ok(Uniqueness::Bool(*b)),
        Some(Value::String(s)) => Ok(Uniqueness::String(s.clone())),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Uniqueness::Integer)
            .ok_or_else(|| bad(field, format!("{n} is not an integer that fits i64"))),
        Some(Value::Object(object)) => {
            let mut entries = BTreeMap::new();
            for (key, item) in object {
                if key.is_empty() {
                    return Err(bad(field, "object keys cannot be empty"));
                }
                let text = item
                    .as_str()
                    .ok_or_else(|| bad(field, format!("value of {key:?} is not a string")))?;
                entries.insert(key.clone(), text.to_owned());
            }
            Ok(Uniqueness::Object(entries))
        }
        Some(Value::Array(_)) => Err(bad(field, "an array is not a valid uniqueness")),
    }
}

fn write_uniqueness(uniqueness: &Uniqueness, out: &mut String) {
    match uniqueness {
        Uniqueness::String(s) => write_escaped(s, out),
        Uniqueness::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Uniqueness::Integer(i) => out.push_str(&i.to_string()),
        Uniqueness::Null => out.push_str("null"),
        Uniqueness::Object(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_escaped(key, out);
                out.push(':');
                write_escaped(item, out);
            }
            out.push('}');
        }
    }
}

fn uniqueness_json(uniqueness: &Uniqueness) -> Value {
    match uniqueness {
        Uniqueness::String(s) => Value::String(s.clone()),
        Uniqueness::Bool(b) => Value::Bool(*b),
        Uniqueness::Integer(i) => Value::from(*i),
        Uniqueness::Null => Value::Null,
        Uniqueness::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    }
}

fn ruleset_json(ruleset: &Ruleset) -> Value {
    let mut object = Map::new();
    match ruleset {
        Ruleset::Group { initial_admin } => {
            object.insert("type".into(), "group".into());
            object.insert("initialAdmin".into(), initial_admin.to_string().into());
        }
        Ruleset::OwnedByGroup {
            group,
            restrict_deletion,
        } => {
            object.insert("type".into(), "ownedByGroup".into());
            object.insert("group".into(), group.as_str().into());
            if let Some(restrict) = restrict_deletion {
                object.insert("restrictDeletion".into(), (*restrict).into());
            }
        }
        Ruleset::UnsafeAllowAll => {
            object.insert("type".into(), "unsafeAllowAll".into());
        }
    }
    Value::Object(object)
}
