//! What can go wrong reading a CoValue as a schema, and how those failures reach clients.

use thiserror::Error;

use super::owner::ForeignReference;
use crate::cojson::NodeError;
use crate::crypto::CoID;
use crate::request::JazzRequestError;

/// A CoValue did not read as its schema: a field of the wrong type, a required field that is
/// missing, or a reference that is not loaded. Names the CoValue and the field.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum SchemaError {
    /// A field holds a value its Rust type cannot take (a string where a number is expected,
    /// a fraction or a number beyond 2^53 for an integer, a string no enum variant has, …).
    #[error("{covalue} ({schema}): field `{field}` should be {expected}, found {found}")]
    WrongType {
        /// The CoValue read.
        covalue: CoID,
        /// The schema it was read as.
        schema: &'static str,
        /// The field (its JSON name; `name[i]` for a list item).
        field: String,
        /// What the schema expects.
        expected: &'static str,
        /// A short description of what is there.
        found: String,
    },
    /// A required field is absent.
    #[error("{covalue} ({schema}): required field `{field}` is missing")]
    Missing {
        /// The CoValue read.
        covalue: CoID,
        /// The schema it was read as.
        schema: &'static str,
        /// The field (its JSON name).
        field: String,
    },
    /// A CoValue a resolve query asks for is not loaded (or cannot be read by this node).
    #[error("{0} is not loaded")]
    NotLoaded(#[from] NotLoaded),
    /// The CoValue could not be read (a key this node cannot find, content that does not
    /// decrypt, …).
    #[error("{covalue} cannot be read: {source}")]
    Unreadable {
        /// The CoValue.
        covalue: CoID,
        /// Why.
        #[source]
        source: NodeError,
    },
    /// The CoValue is not the kind the schema describes (a list read as a map, …).
    #[error("{covalue} is not a {expected}")]
    WrongKind {
        /// The CoValue.
        covalue: CoID,
        /// What the schema expects.
        expected: &'static str,
    },
    /// A `#[co(same_owner)]` field points at a CoValue owned by someone other than the
    /// CoMap's owner: a forged reference (someone's own map pointing at a CoValue of
    /// another group). Boxed: it names two CoValues and two owners.
    #[error("{0}")]
    ForeignReference(Box<ForeignReference>),
}

impl SchemaError {
    /// The CoValue the error is about.
    pub fn covalue(&self) -> &CoID {
        match self {
            Self::WrongType { covalue, .. }
            | Self::Missing { covalue, .. }
            | Self::WrongKind { covalue, .. }
            | Self::Unreadable { covalue, .. } => covalue,
            Self::ForeignReference(forged) => &forged.covalue,
            Self::NotLoaded(not_loaded) => &not_loaded.0,
        }
    }

    /// The error's details as the client sees them (`{covalue, field?, reference?,
    /// reason}`).
    pub fn details(&self) -> serde_json::Value {
        let mut details = serde_json::Map::new();
        details.insert("covalue".into(), self.covalue().as_str().into());
        if let Self::WrongType { field, .. } | Self::Missing { field, .. } = self {
            details.insert("field".into(), field.as_str().into());
        }
        if let Self::ForeignReference(forged) = self {
            details.insert("field".into(), forged.field.as_str().into());
            details.insert("reference".into(), forged.reference.as_str().into());
        }
        details.insert("reason".into(), self.to_string().into());
        serde_json::Value::Object(details)
    }
}

/// A reference was used as loaded, but the resolve query that produced it did not load it.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{0} (not named by the resolve query, or not readable)")]
pub struct NotLoaded(pub CoID);

/// Reading a request's values failed: what the request carries does not fit the route's
/// schema, so it is the client's fault (400) — or it names a map whose `#[co(same_owner)]`
/// reference points into another owner's CoValue, a forgery the worker refuses (403).
pub fn invalid_request(error: &SchemaError) -> JazzRequestError {
    match error {
        SchemaError::ForeignReference(forged) => JazzRequestError::new(
            format!(
                "Forged reference: field `{}` of {} points at {}, owned by another group",
                forged.field, forged.covalue, forged.reference
            ),
            403,
        )
        .with_details(error.details()),
        _ => JazzRequestError::invalid_payload(Some(error.details())),
    }
}

impl From<SchemaError> for JazzRequestError {
    /// A value the worker holds does not fit its schema: the worker's fault (500; the
    /// operator's log gets the error).
    fn from(error: SchemaError) -> Self {
        JazzRequestError::internal_while("reading a CoValue as its schema", error)
    }
}

impl From<NotLoaded> for JazzRequestError {
    /// A handler used a reference its route's resolve did not load: the worker's fault.
    fn from(error: NotLoaded) -> Self {
        JazzRequestError::internal_while("using a reference the resolve query did not load", error)
    }
}

impl From<NodeError> for JazzRequestError {
    /// A write the worker's account may not make (the request named a CoValue of a group
    /// where the worker is no writer) is 403, naming the CoValue; any other failure of the
    /// node to read or write is the worker's fault (500, logged).
    fn from(error: NodeError) -> Self {
        match error {
            NodeError::NotPermitted { id, .. } => JazzRequestError::cannot_write(&id),
            other => {
                JazzRequestError::internal_while("reading or writing the worker's node", other)
            }
        }
    }
}

/// Maps the node's "not loaded" failures of a read to [`SchemaError::NotLoaded`].
pub(crate) fn from_node(id: &CoID, error: NodeError) -> SchemaError {
    match error {
        NodeError::NotLoaded(missing) | NodeError::MissingDependency { missing, .. } => {
            SchemaError::NotLoaded(NotLoaded(missing))
        }
        NodeError::WrongKind { expected, .. } => SchemaError::WrongKind {
            covalue: id.clone(),
            expected,
        },
        source => SchemaError::Unreadable {
            covalue: id.clone(),
            source,
        },
    }
}
