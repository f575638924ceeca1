//! The signed body of a request or response: `{contentPieces, id, createdAt, authToken,
//! signerID}`, its shape check (jazz-tools' zod schema), and the token over it.

use serde_json::{Map, Number, Value, json};

use super::error::JazzRequestError;
use crate::crypto::{self, CoID, Hash, Signature, SignerID, SignerSecret};

/// A request (or response payload) body whose shape has been checked.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedBody {
    /// The content pieces, exactly as received (the token covers them as JSON values).
    pub content_pieces: Vec<Value>,
    /// The envelope's id.
    pub id: CoID,
    /// When the body was made, as the number received.
    pub created_at: Number,
    /// The signature over [`SignedBody::signing_hash`].
    pub auth_token: Signature,
    /// Who signed.
    pub signer_id: SignerID,
}

/// One problem found by the shape check, in the form zod reports it.
fn issue(path: &str, expected: &str, received: &Value) -> Value {
    let received_type = match received {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    json!({
        "code": "invalid_type",
        "expected": expected,
        "received": received_type,
        "path": [path],
        "message": format!("Invalid input: expected {expected}, received {received_type}"),
    })
}

fn prefix_issue(path: &str, prefix: &str) -> Value {
    json!({
        "code": "invalid_format",
        "format": "starts_with",
        "prefix": prefix,
        "path": [path],
        "message": format!("Invalid string: must start with \"{prefix}\""),
    })
}

/// The details of a 400 for a malformed body, shaped as jazz-tools' serialised `ZodError`.
fn zod_details(issues: &[Value]) -> Value {
    let message = serde_json::to_string_pretty(issues).unwrap_or_default();
    json!({"name": "ZodError", "message": message})
}

impl SignedBody {
    /// Checks the shape jazz-tools checks: `contentPieces` an array, `id` a string starting
    /// `co_z`, `createdAt` a number, `authToken` starting `signature_z`, `signerID` starting
    /// `signer_z` — and, more than jazz-tools, that the ids and signature decode.
    pub fn from_json(value: &Value) -> Result<Self, JazzRequestError> {
        Self::from_json_value(value.clone())
    }

    /// [`SignedBody::from_json`] of a body the caller no longer needs: its content pieces are
    /// moved, not copied (a worker's path for every request).
    pub fn from_json_value(value: Value) -> Result<Self, JazzRequestError> {
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return Err(JazzRequestError::invalid_payload(Some(zod_details(&[
                    issue("", "object", &other),
                ]))));
            }
        };
        let mut issues = Vec::new();
        let mut take = |name: &str| object.remove(name).unwrap_or(Value::Null);
        let pieces = match take("contentPieces") {
            Value::Array(items) => Some(items),
            other => {
                issues.push(issue("contentPieces", "array", &other));
                None
            }
        };
        let created_at = match take("createdAt") {
            Value::Number(n) => Some(n),
            other => {
                issues.push(issue("createdAt", "number", &other));
                None
            }
        };
        let mut string_field = |name: &str, prefix: &str| -> Option<String> {
            match take(name) {
                Value::String(s) if s.starts_with(prefix) => Some(s),
                Value::String(_) => {
                    issues.push(prefix_issue(name, prefix));
                    None
                }
                other => {
                    issues.push(issue(name, "string", &other));
                    None
                }
            }
        };
        let id = string_field("id", "co_z");
        let auth_token = string_field("authToken", "signature_z");
        let signer_id = string_field("signerID", "signer_z");
        let (Some(content_pieces), Some(created_at), Some(id), Some(auth_token), Some(signer_id)) =
            (pieces, created_at, id, auth_token, signer_id)
        else {
            return Err(JazzRequestError::invalid_payload(Some(zod_details(
                &issues,
            ))));
        };
        let bad = |field: &str, e: crypto::ParseError| {
            JazzRequestError::invalid_payload(Some(
                json!({"field": field, "reason": e.to_string()}),
            ))
        };
        Ok(Self {
            content_pieces,
            id: CoID::parse(&id).map_err(|e| bad("id", e))?,
            created_at,
            auth_token: Signature::parse(&auth_token).map_err(|e| bad("authToken", e))?,
            signer_id: SignerID::parse(&signer_id).map_err(|e| bad("signerID", e))?,
        })
    }

    /// `createdAt` in ms (a JS number: fractions and negatives are possible).
    pub fn created_at_ms(&self) -> f64 {
        self.created_at.as_f64().unwrap_or(f64::NAN)
    }

    /// `secureHash({contentPieces, id, createdAt, signerID})`: what the token signs.
    pub fn signing_hash(&self) -> Hash {
        signing_hash(
            &self.content_pieces,
            &self.id,
            &self.created_at,
            &self.signer_id,
        )
    }

    /// Whether the token is a signature of `signerID` over [`SignedBody::signing_hash`].
    pub fn verify_token(&self) -> Result<(), JazzRequestError> {
        crypto::verify_hash(&self.auth_token, &self.signing_hash(), &self.signer_id)
            .map_err(|_| JazzRequestError::new("Invalid signature", 401))
    }

    /// Signs a new body over `content_pieces` for envelope `id`, made at `created_at_ms`.
    pub fn sign(
        content_pieces: Vec<Value>,
        id: CoID,
        created_at_ms: u64,
        signer: &SignerSecret,
    ) -> Self {
        let created_at = Number::from(created_at_ms);
        let signer_id = signer.signer_id();
        let hash = signing_hash(&content_pieces, &id, &created_at, &signer_id);
        Self {
            auth_token: crypto::sign_hash(signer, &hash),
            content_pieces,
            id,
            created_at,
            signer_id,
        }
    }

    /// The body as jazz-tools writes it (`contentPieces, id, createdAt, authToken, signerID`).
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert(
            "contentPieces".into(),
            Value::Array(self.content_pieces.clone()),
        );
        body.insert("id".into(), json!(self.id.as_str()));
        body.insert("createdAt".into(), Value::Number(self.created_at.clone()));
        body.insert("authToken".into(), json!(self.auth_token.to_string()));
        body.insert("signerID".into(), json!(self.signer_id.to_string()));
        Value::Object(body)
    }
}

/// What the signing text starts with room for (it doubles as needed).
const INITIAL_SIGNING_TEXT: usize = 4096;

fn signing_hash(pieces: &[Value], id: &CoID, created_at: &Number, signer: &SignerID) -> Hash {
    // Built as text rather than as a JSON value, to avoid copying the pieces: stable JSON of
    // an object with these four keys, in sorted order. The text grows with what is written
    // (about the body's size): nothing is reserved per piece, so a body of many tiny pieces
    // cannot ask for more memory than its own text needs.
    let mut text = String::with_capacity(INITIAL_SIGNING_TEXT);
    text.push_str("{\"contentPieces\":[");
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        crypto::stable_json::write_stable(piece, &mut text);
    }
    text.push_str("],\"createdAt\":");
    crypto::stable_json::write_stable(&Value::Number(created_at.clone()), &mut text);
    text.push_str(",\"id\":");
    crypto::stable_json::write_escaped(id.as_str(), &mut text);
    text.push_str(",\"signerID\":");
    crypto::stable_json::write_escaped(&signer.to_string(), &mut text);
    text.push('}');
    crypto::hash::secure_hash_of_stable(&text)
}

/// A success response: `{"type":"success","payload": <SignedBody>}`.
pub fn success_body(payload: &SignedBody) -> Value {
    json!({"type": "success", "payload": payload.to_json()})
}
