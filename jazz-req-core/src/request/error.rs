//! `JazzRequestError`: the typed error a handler returns and a client receives (message, HTTP
//! code, details), answered as jazz-tools answers it; and the client's `SendError`.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use thiserror::Error;

/// The header that marks a response body as a `JazzRequestError`.
pub const JAZZ_REQUEST_ERROR_HEADER: &str = "x-jazz-request-error";

/// An error with a message, an HTTP status code and optional details, as jazz-tools'
/// `JazzRequestError`: the server answers it with that status, the header
/// `X-Jazz-Request-Error: true` and the body `{message, code, details}`; the client gets it
/// back typed (the Rust form of `isJazzRequestError`).
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{message} ({code})")]
pub struct JazzRequestError {
    /// What went wrong, for people.
    pub message: String,
    /// The HTTP status code.
    pub code: u16,
    /// Anything else the client should know (any JSON), omitted when `None`.
    pub details: Option<Value>,
}

impl JazzRequestError {
    /// An error with `message` and status `code`.
    pub fn new(message: impl Into<String>, code: u16) -> Self {
        Self {
            message: message.into(),
            code,
            details: None,
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
        }
    }

    /// 500 with a generic message: a failure of the worker itself, not of the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(message, 500)
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
        })
    }

    /// The HTTP status: `code` when it is one (100–599), else 500.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.code)
            .ok()
            .filter(|s| s.as_u16() >= 100 && s.as_u16() < 600)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response jazz-tools gives for this error.
    pub fn to_response(&self) -> http::Response<Bytes> {
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
