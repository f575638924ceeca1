//! What a client's own reads and imports say when they fail: which CoValue, and what to do
//! about it — not loaded here (import it), not readable by this account (no key for it), or
//! loaded and readable but not of the schema asked for. A response that does not fit its
//! route's schema is another error ([`SendError::Schema`](super::SendError::Schema)).

use thiserror::Error;

use crate::cojson::{ContentError, LocalNode, NodeError};
use crate::crypto::CoID;
use crate::schema::{NotLoaded, SchemaError};

/// Why [`RequestClient::load`](super::RequestClient::load) could not read a CoValue.
#[derive(Debug, Error)]
pub enum ClientLoadError {
    /// The CoValue (the one asked for, or one its resolve query names) is not in the client's
    /// node: import it first ([`RequestClient::import_pieces`](super::RequestClient::import_pieces)),
    /// or load it from a response that carries it.
    #[error(
        "{0} is not loaded in the client's node (import it first, e.g. with RequestClient::import_pieces)"
    )]
    NotLoaded(CoID),
    /// The CoValue is in the client's node but its content cannot be read by the client's
    /// account: valid transactions it holds cannot be decrypted with any key the account can
    /// reach (it is no member of the group that owns the CoValue, nor of a group that
    /// extends to it), so its fields are not there to read.
    #[error(
        "{covalue} is not readable by this account: {unreadable} of its transactions cannot be decrypted with the keys the account can reach (is it a member of the group that owns it?)"
    )]
    NotReadable {
        /// The CoValue.
        covalue: CoID,
        /// How many of its valid transactions the account cannot read.
        unreadable: usize,
    },
    /// The CoValue is loaded and readable, but does not fit the schema it was read as.
    #[error("{covalue} does not fit the schema {schema}: {source}")]
    Schema {
        /// The CoValue that does not fit (the one asked for, or one below it).
        covalue: CoID,
        /// The schema asked for (`T` of `load::<T>`).
        schema: &'static str,
        /// What does not fit.
        #[source]
        source: Box<SchemaError>,
    },
    /// The client's node could not be used.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl ClientLoadError {
    /// The failure of reading `schema` in `node`, told by what it is about: a CoValue not
    /// loaded, one the account cannot decrypt (a map read without its key looks like a map
    /// missing its fields), or one that does not fit.
    pub(crate) fn explain(node: &LocalNode, schema: &'static str, error: SchemaError) -> Self {
        let covalue = match &error {
            SchemaError::NotLoaded(NotLoaded(id)) if node.get(id).is_none() => {
                return Self::NotLoaded(id.clone());
            }
            SchemaError::Unreadable {
                source: NodeError::NotLoaded(id) | NodeError::MissingDependency { missing: id, .. },
                ..
            } if node.get(id).is_none() => return Self::NotLoaded(id.clone()),
            SchemaError::NotLoaded(NotLoaded(id)) => id.clone(),
            other => other.covalue().clone(),
        };
        match node.undecryptable(&covalue) {
            Ok(unreadable) if !unreadable.is_empty() => Self::NotReadable {
                covalue,
                unreadable: unreadable.len(),
            },
            _ => Self::Schema {
                covalue,
                schema,
                source: Box::new(error),
            },
        }
    }
}

/// Why [`RequestClient::import_pieces`](super::RequestClient::import_pieces) did not import
/// everything it was given.
#[derive(Debug, Error)]
pub enum ImportError {
    /// A piece is not a content message (as jazz-tools exports them); nothing after it was
    /// imported.
    #[error("piece {index} is not a content message: {source}")]
    NotAPiece {
        /// Its place among the pieces given.
        index: usize,
        /// Why.
        #[source]
        source: ContentError,
    },
    /// The client's node refused a piece (it does not verify, or conflicts with what the
    /// node holds); nothing after it was imported.
    #[error("piece {index} (for {covalue}) was refused: {source}")]
    Refused {
        /// Its place among the pieces given.
        index: usize,
        /// The CoValue it is for.
        covalue: CoID,
        /// Why.
        #[source]
        source: Box<NodeError>,
    },
    /// Every piece was taken, but some wait for CoValues that were not given (the account
    /// that signed them, the group that owns them, a parent group), so what they hold is not
    /// loaded yet. They stay queued in the node: importing what they wait for applies them.
    #[error("{}", waiting_text(.0))]
    Waiting(Vec<Waiting>),
    /// The client's node could not be used.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// A CoValue whose pieces wait for others that were not given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The CoValue whose pieces wait.
    pub covalue: CoID,
    /// What they wait for.
    pub missing: Vec<CoID>,
}

fn waiting_text(waiting: &[Waiting]) -> String {
    let first = waiting.first().map_or_else(String::new, |w| {
        let missing: Vec<&str> = w.missing.iter().map(CoID::as_str).collect();
        format!(
            "{} waits for {}, which was not given",
            w.covalue,
            missing.join(", ")
        )
    });
    match waiting.len() {
        0 | 1 => format!("{first} (import it too: before, or in the same call)"),
        n => format!(
            "{first}, and {} more CoValue(s) wait for what was not given (import it too: before, or in the same call)",
            n - 1
        ),
    }
}
