//! Errors of the sync client: messages that do not parse, and operations that fail.

use std::time::Duration;

use thiserror::Error;

use crate::cojson::ContentError;
use crate::crypto::{CoID, ParseError};

/// One message of a frame that is not a sync message cojson 0.20.19 sends.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// The text is not JSON.
    #[error("sync message is not JSON: {0}")]
    NotJson(String),
    /// The JSON is not an object.
    #[error("sync message is not a JSON object")]
    NotAnObject,
    /// The object has neither `action` nor `time` (a ping).
    #[error("sync message has neither `action` nor `time`")]
    Unrecognised,
    /// `action` names no message of the protocol.
    #[error("unknown sync action {0:?}")]
    UnknownAction(String),
    /// A required field is absent.
    #[error("sync message field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong type or value.
    #[error("sync message field `{field}` is invalid: {reason}")]
    BadField {
        /// The field, as a dotted path (e.g. `sessions.*`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An id or session id does not parse.
    #[error("sync message field `{field}` is not a valid id")]
    BadId {
        /// The field.
        field: &'static str,
        /// Why the id does not parse.
        #[source]
        source: ParseError,
    },
    /// A `content` message is malformed (or its header does not hash to its id).
    #[error(transparent)]
    Content(#[from] ContentError),
}

/// Why a connection attempt or an established connection failed.
#[derive(Debug, Error)]
#[error(transparent)]
pub struct TransportError(#[from] Box<tokio_tungstenite::tungstenite::Error>);

impl From<tokio_tungstenite::tungstenite::Error> for TransportError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        Self(Box::new(error))
    }
}

/// An operation of the [`SyncClient`](super::SyncClient) failed.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The sync server URL is not a `ws://` or `wss://` URL.
    #[error("invalid sync server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The first connection to the sync server failed (later ones are retried).
    #[error("could not connect to the sync server at {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// The first connection to the sync server did not open in time.
    #[error("the sync server at {url} did not answer within {after:?}")]
    ConnectTimeout {
        /// The URL.
        url: String,
        /// How long we waited.
        after: Duration,
    },
    /// The server did not answer a load in time (it may be unreachable meanwhile).
    #[error("loading {id} from the sync server timed out after {after:?}")]
    LoadTimeout {
        /// The CoValue.
        id: CoID,
        /// How long we waited.
        after: Duration,
    },
    /// The server did not acknowledge pushed content in time. The content stays queued and
    /// is sent again after a reconnect until the server has it (or the client shuts down).
    #[error("the sync server did not acknowledge {pending:?} within {after:?}")]
    AckTimeout {
        /// The CoValues whose content the server has not acknowledged.
        pending: Vec<CoID>,
        /// How long we waited.
        after: Duration,
    },
    /// The server needs content of `id` from before what was pushed (e.g. it restarted and
    /// lost it), and no [`ContentSource`](super::ContentSource) holds it.
    #[error("the sync server lacks earlier content of {id} and no content source holds it")]
    MissingEarlierContent {
        /// The CoValue.
        id: CoID,
    },
    /// The client was shut down (or its connection task ended) before the operation ended.
    #[error("the sync client is shut down")]
    Closed,
    /// [`SyncClient::shutdown`](super::SyncClient::shutdown) gave up waiting for the server
    /// to acknowledge pushed content.
    #[error("shut down with content of {pending:?} not acknowledged by the sync server")]
    Unflushed {
        /// The CoValues whose content the server had not acknowledged.
        pending: Vec<CoID>,
    },
}
