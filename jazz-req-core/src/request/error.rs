//! `JazzRequestError`: the typed error a handler returns and a client receives (message, HTTP
//! code, details), answered as jazz-tools answers it; and the client's `SendError`.
//!
//! A failure of the worker itself ([`JazzRequestError::internal`]) keeps its source error for
//! the operator's log and answers the client with a generic message only: SQLite messages,
//! file paths and the node's internals never leave the worker.

use std::error::Error as StdError;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use thiserror::Error;

/// The header that marks a response body as a `JazzRequestError`.
pub const JAZZ_REQUEST_ERROR_HEADER: &str = "x-jazz-request-error";

/// An error with a message, an HTTP status code and optional details, as jazz-tools'
/// `JazzRequestError`: the server answers it with that status, the header
/// `X-Jazz-Request-Error: true` and the body `{message, code, details}`; the client gets it
/// back typed (the Rust form of `isJazzRequestError`).
///
/// Equality compares what the client sees (message, code, details), not the internal cause.
#[derive(Clone, Debug, Error)]
#[error("{message} ({code})")]
pub struct JazzRequestError {
    /// What went wrong, for people.
    pub message: String,
    /// The HTTP status code.
    pub code: u16,
    /// Anything else the client should know (any JSON), omitted when `None`.
    pub details: Option<Value>,
    /// The worker's own failure behind an internal error: logged when the error is answered,
    /// never sent.
    #[source]
    cause: Option<Arc<WorkerFault>>,
}

impl PartialEq for JazzRequestError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message && self.code == other.code && self.details == other.details
    }
}

/// The message of every internal error a client receives.
pub const INTERNAL_ERROR_MESSAGE: &str = "Internal server error";

/// A failure of the worker itself: what it was doing, and the error that stopped it.
#[derive(Debug, Error)]
#[error("{doing}")]
pub struct WorkerFault {
    doing: &'static str,
    #[source]
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl WorkerFault {
    /// What the worker was doing.
    pub fn doing(&self) -> &'static str {
        self.doing
    }

    /// The whole chain, outermost first: `doing: cause: its cause: …`.
    pub fn chain(&self) -> String {
        let mut text = self.doing.to_owned();
        let mut next: Option<&(dyn StdError + 'static)> = Some(self.source.as_ref());
        while let Some(error) = next {
            text.push_str(": ");
            text.push_str(&error.to_string());
            next = error.source();
        }
        text
    }
}

impl JazzRequestError {
    /// An error with `message` and status `code`.
    pub fn new(message: impl Into<String>, code: u16) -> Self {
        Self {
            message: message.into(),
            code,
            details: None,
            cause: None,
        }
    }

    /// The same error with `details`.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400 "Request payload is not valid", the answer to a malformed body.
    pub fn invalid_payload(details: Option<Value>) -> Self {
        Self {
            message: "Request payload is not valid".into(),
            code: 400,
            details,
            cause: None,
        }
    }

    /// 403 "The worker cannot write to co_z…": the request asked the worker to write to a
    /// CoValue whose group does not let the worker's account write (every peer would ignore
    /// such a write). Details: `{"covalue": id}`.
    pub fn cannot_write(id: &crate::crypto::CoID) -> Self {
        Self {
            message: format!("The worker cannot write to {id}"),
            code: 403,
            details: Some(json!({ "covalue": id.as_str() })),
            cause: None,
        }
    }

    /// 500 "Internal server error": a failure of the worker itself, not of the request.
    /// `source` (an error, or a description) is kept for the operator's log when the error
    /// is answered; the client gets the generic message only.
    pub fn internal(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self::internal_while("handling the request", source)
    }

    /// Like [`JazzRequestError::internal`], saying what the worker was doing (for the log).
    pub fn internal_while(
        doing: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: INTERNAL_ERROR_MESSAGE.into(),
            code: 500,
            details: None,
            cause: Some(Arc::new(WorkerFault {
                doing,
                source: source.into(),
            })),
        }
    }

    /// The worker's own failure behind this error, if it is an internal one.
    pub fn fault(&self) -> Option<&WorkerFault> {
        self.cause.as_deref()
    }

    /// 413: the body is larger than the worker accepts (`limit` bytes).
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(format!("Request body is larger than {limit} bytes"), 413)
    }

    /// The JSON body: `{"message", "code", "details"?}`.
    pub fn to_body(&self) -> Value {
        let mut body = Map::new();
        body.insert("message".into(), json!(self.message));
        body.insert("code".into(), json!(self.code));
        if let Some(details) = &self.details {
            body.insert("details".into(), details.clone());
        }
        Value::Object(body)
    }

    /// Reads a `{message, code, details?}` body; `None` if it has not that shape.
    pub fn from_body(body: &Value) -> Option<Self> {
        Some(Self {
            message: body.get("message")?.as_str()?.to_owned(),
            code: u16::try_from(body.get("code")?.as_u64()?).ok()?,
            details: body.get("details").filter(|d| !d.is_null()).cloned(),
            cause: None,
        })
    }

    /// The HTTP status: `code` when it is one (100–599), else 500.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.code)
            .ok()
            .filter(|s| s.as_u16() >= 100 && s.as_u16() < 600)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response jazz-tools gives for this error. An internal error's cause goes to the
    /// log (`tracing::error!`, with its whole source chain), not into the body.
    pub fn to_response(&self) -> http::Response<Bytes> {
        if let Some(fault) = self.fault() {
            tracing::error!(error = %fault.chain(), "request failed inside the worker");
        }
        let mut body = self.to_body();
        let status = self.status();
        if u16::from(status) != self.code {
            tracing::warn!(
                code = self.code,
                "JazzRequestError code is not an HTTP status; answering 500"
            );
            body["code"] = json!(status.as_u16());
        }
        let mut response = http::Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            JAZZ_REQUEST_ERROR_HEADER,
            http::HeaderValue::from_static("true"),
        );
        response
    }
}

/// Why sending a request failed on the client.
#[derive(Debug, Error)]
pub enum SendError {
    /// The server (or the client's own checks, as in jazz-tools) answered with a
    /// `JazzRequestError`: match on it as on `isJazzRequestError`.
    #[error(transparent)]
    Request(#[from] JazzRequestError),
    /// The request did not reach the server or the answer did not come back.
    #[error("transport error: {0}")]
    Transport(String),
    /// The client's node failed (e.g. its storage).
    #[error(transparent)]
    Node(#[from] crate::cojson::NodeError),
    /// The route's worker account is not known.
    #[error(transparent)]
    Worker(#[from] super::typed_route::WorkerIdError),
    /// The route's URL is a path and the client has no base URL to join it to.
    #[error(
        "the route's URL {0} is a path and the client has no base URL (RequestClient::with_base_url)"
    )]
    NoBaseUrl(&'static str),
    /// The response does not fit the route's response schema.
    #[error("the response does not fit its schema: {0}")]
    Schema(#[from] crate::schema::SchemaError),
    /// A CoValue the client read from its own node (to send it) could not be read: not
    /// loaded, not readable by its account, or not of the schema asked for.
    #[error(transparent)]
    Load(#[from] super::client_errors::ClientLoadError),
    /// Pieces given to the client could not all be imported.
    #[error(transparent)]
    Import(#[from] super::client_errors::ImportError),
    /// The response's body was not signed by the agent of the worker the request was sent
    /// to (someone else answered): nothing of it was imported.
    #[error(
        "the response was signed by {signer}, not by the worker {worker} the request was sent to"
    )]
    ResponseNotSignedByWorker {
        /// The worker the request was sent to.
        worker: crate::crypto::CoID,
        /// Who signed the response's body.
        signer: crate::crypto::SignerID,
    },
    /// The response's envelope was made by another account than the worker the request was
    /// sent to (a response of someone else, signed again with the worker's signer).
    #[error(
        "the response was made by {made_by}, not by the worker {expected} the request was sent to"
    )]
    ResponseNotFromWorker {
        /// The worker the request was sent to.
        expected: crate::crypto::CoID,
        /// The account that made the response's envelope.
        made_by: crate::crypto::CoID,
    },
}

impl SendError {
    /// The `JazzRequestError`, if that is what this is.
    pub fn as_jazz_request_error(&self) -> Option<&JazzRequestError> {
        match self {
            Self::Request(error) => Some(error),
            _ => None,
        }
    }
}
