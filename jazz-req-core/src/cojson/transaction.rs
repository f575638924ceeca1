//! Transactions: the unit of a session log, private (encrypted) or trusting (plain text).
//!
//! `changes` and trusting `meta` are strings holding JSON; they are kept byte for byte. The
//! session hash covers each transaction's [canonical form](Transaction::write_canonical):
//! fields in alphabetical order, `meta` omitted when absent, strings escaped as `serde_json`
//! escapes them. cojson 0.20.19 writes transactions on the wire in that same form.

use serde_json::{Map, Value, json};

use super::error::TransactionError;
use crate::crypto::stable_json::write_escaped;
use crate::crypto::{CoID, CryptoError, Encrypted, KeyID, KeySecret, SessionID, encrypt_bytes};

/// Above this many bytes of changes since the last checkpoint a session log remembers an
/// in-between signature, and content is split there (`MAX_RECOMMENDED_TX_SIZE`).
pub const MAX_RECOMMENDED_TX_SIZE: usize = 100 * 1024;

/// The largest `changes` JSON (in bytes) cojson agrees to write in one transaction (1 MiB).
pub const MAX_TRANSACTION_BYTES: usize = 1024 * 1024;

/// One transaction of a session log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transaction {
    /// Changes encrypted with a group read key.
    Private {
        /// `encryptedChanges`: the XSalsa20 ciphertext of the changes JSON, text kept as received.
        encrypted_changes: Encrypted,
        /// `keyUsed`: the id of the read key.
        key_used: KeyID,
        /// `madeAt`: the writer's clock, in ms since the epoch.
        made_at: u64,
        /// `meta`: the encrypted meta JSON (same key and nonce as the changes), if any.
        meta: Option<Encrypted>,
    },
    /// Changes in plain text.
    Trusting {
        /// `changes`: the JSON text of the changes array.
        changes: String,
        /// `madeAt`: the writer's clock, in ms since the epoch.
        made_at: u64,
        /// `meta`: the JSON text of a meta object, if any.
        meta: Option<String>,
    },
}

fn bad(field: &'static str, reason: impl Into<String>) -> TransactionError {
    TransactionError::BadField {
        field,
        reason: reason.into(),
    }
}

fn text_field<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, TransactionError> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(bad(field, format!("expected a string, got {other}"))),
        None => Err(TransactionError::MissingField(field)),
    }
}

fn optional_text<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, TransactionError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad(field, format!("expected a string, got {other}"))),
    }
}

fn encrypted(text: &str, field: &'static str) -> Result<Encrypted, TransactionError> {
    Encrypted::parse(text).map_err(|e| bad(field, e.to_string()))
}

/// The nonce material of a transaction's encryption: `{in, tx: {sessionID, txIndex}}`.
fn nonce_material(co_id: &CoID, session: &SessionID, tx_index: usize) -> Value {
    json!({ "in": co_id.as_str(), "tx": { "sessionID": session.as_str(), "txIndex": tx_index } })
}

impl Transaction {
    /// A new trusting transaction.
    pub fn new_trusting(changes: impl Into<String>, made_at: u64, meta: Option<String>) -> Self {
        Self::Trusting {
            changes: changes.into(),
            made_at,
            meta,
        }
    }

    /// A new private transaction: `changes_json` (and `meta_json`) encrypted with `key` for
    /// transaction `tx_index` of `session` in CoValue `co_id`.
    pub fn new_private(
        changes_json: &str,
        meta_json: Option<&str>,
        key: (&KeyID, &KeySecret),
        position: (&CoID, &SessionID, usize),
        made_at: u64,
    ) -> Self {
        let nonce = nonce_material(position.0, position.1, position.2);
        Self::Private {
            encrypted_changes: encrypt_bytes(changes_json.as_bytes(), key.1, &nonce),
            key_used: key.0.clone(),
            made_at,
            meta: meta_json.map(|meta| encrypt_bytes(meta.as_bytes(), key.1, &nonce)),
        }
    }

    /// Parses a transaction from its wire JSON. Unknown fields are ignored; the variant
    /// follows `privacy`.
    pub fn from_json(value: &Value) -> Result<Self, TransactionError> {
        let object = value.as_object().ok_or(TransactionError::NotAnObject)?;
        let made_at = match object.get("madeAt") {
            Some(Value::Number(n)) => n
                .as_u64()
                .ok_or_else(|| TransactionError::MadeAtNotInteger(n.to_string()))?,
            Some(other) => return Err(bad("madeAt", format!("expected an integer, got {other}"))),
            None => return Err(TransactionError::MissingField("madeAt")),
        };
        match text_field(object, "privacy")? {
            "private" => Ok(Self::Private {
                encrypted_changes: encrypted(
                    text_field(object, "encryptedChanges")?,
                    "encryptedChanges",
                )?,
                key_used: KeyID::parse(text_field(object, "keyUsed")?)
                    .map_err(|e| bad("keyUsed", e.to_string()))?,
                made_at,
                meta: optional_text(object, "meta")?
                    .map(|m| encrypted(m, "meta"))
                    .transpose()?,
            }),
            "trusting" => Ok(Self::Trusting {
                changes: text_field(object, "changes")?.to_owned(),
                made_at,
                meta: optional_text(object, "meta")?.map(str::to_owned),
            }),
            other => Err(TransactionError::UnknownPrivacy(other.to_owned())),
        }
    }

    /// Appends the canonical JSON text (the bytes the session hash covers, and the wire form).
    pub fn write_canonical(&self, out: &mut String) {
        match self {
            Self::Private {
                encrypted_changes,
                key_used,
                made_at,
                meta,
            } => {
                out.push_str("{\"encryptedChanges\":");
                write_escaped(encrypted_changes.as_str(), out);
                out.push_str(",\"keyUsed\":");
                write_escaped(key_used.as_str(), out);
                write_made_at_and_meta(*made_at, meta.as_ref().map(Encrypted::as_str), out);
                out.push_str(",\"privacy\":\"private\"}");
            }
            Self::Trusting {
                changes,
                made_at,
                meta,
            } => {
                out.push_str("{\"changes\":");
                write_escaped(changes, out);
                write_made_at_and_meta(*made_at, meta.as_deref(), out);
                out.push_str(",\"privacy\":\"trusting\"}");
            }
        }
    }

    /// The canonical JSON text of this transaction.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(self.size_bytes() + 96);
        self.write_canonical(&mut out);
        out
    }

    /// The wire JSON (the canonical form, as cojson 0.20.19 writes it).
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        match self {
            Self::Private {
                encrypted_changes,
                key_used,
                made_at,
                meta,
            } => {
                object.insert("encryptedChanges".into(), encrypted_changes.as_str().into());
                object.insert("keyUsed".into(), key_used.as_str().into());
                object.insert("madeAt".into(), (*made_at).into());
                if let Some(meta) = meta {
                    object.insert("meta".into(), meta.as_str().into());
                }
                object.insert("privacy".into(), "private".into());
            }
            Self::Trusting {
                changes,
                made_at,
                meta,
            } => {
                object.insert("changes".into(), changes.as_str().into());
                object.insert("madeAt".into(), (*made_at).into());
                if let Some(meta) = meta {
                    object.insert("meta".into(), meta.as_str().into());
                }
                object.insert("privacy".into(), "trusting".into());
            }
        }
        Value::Object(object)
    }

    /// `madeAt`.
    pub fn made_at(&self) -> u64 {
        match self {
            Self::Private { made_at, .. } | Self::Trusting { made_at, .. } => *made_at,
        }
    }

    /// The text whose size counts towards checkpoints: `encryptedChanges` or `changes`.
    fn sized_text(&self) -> &str {
        match self {
            Self::Private {
                encrypted_changes, ..
            } => encrypted_changes.as_str(),
            Self::Trusting { changes, .. } => changes,
        }
    }

    /// Size in UTF-8 bytes of `encryptedChanges` / `changes`: what the cojson Rust core adds
    /// up to place in-between signatures.
    pub fn size_bytes(&self) -> usize {
        self.sized_text().len()
    }

    /// Size in UTF-16 units of `encryptedChanges` / `changes`: JS `getTransactionSize`, which
    /// `newContentSince` adds up to split pieces.
    pub fn size_utf16(&self) -> usize {
        let text = self.sized_text();
        if text.is_ascii() {
            text.len()
        } else {
            text.encode_utf16().count()
        }
    }

    /// Size in bytes of the plain changes JSON (a ciphertext is as long as its plaintext).
    pub fn changes_bytes(&self) -> usize {
        match self {
            Self::Private {
                encrypted_changes, ..
            } => {
                let body = encrypted_changes
                    .as_str()
                    .get(Encrypted::PREFIX.len()..)
                    .unwrap_or_default()
                    .trim_end_matches('=');
                body.len() * 3 / 4
            }
            Self::Trusting { changes, .. } => changes.len(),
        }
    }

    /// The changes JSON text: decrypted with `key` for a private transaction at position
    /// (`co_id`, `session`, `tx_index`), as is for a trusting one. A wrong key gives garbage
    /// or [`CryptoError::NotUtf8`]; XSalsa20 has no MAC.
    pub fn changes_text(
        &self,
        key: &KeySecret,
        position: (&CoID, &SessionID, usize),
    ) -> Result<String, CryptoError> {
        match self {
            Self::Private {
                encrypted_changes, ..
            } => crate::crypto::decrypt_text(
                encrypted_changes,
                key,
                &nonce_material(position.0, position.1, position.2),
            ),
            Self::Trusting { changes, .. } => Ok(changes.clone()),
        }
    }

    /// The meta JSON text, if any: decrypted as [`Self::changes_text`] for a private transaction.
    pub fn meta_text(
        &self,
        key: &KeySecret,
        position: (&CoID, &SessionID, usize),
    ) -> Result<Option<String>, CryptoError> {
        match self {
            Self::Private { meta: None, .. } => Ok(None),
            Self::Private {
                meta: Some(meta), ..
            } => crate::crypto::decrypt_text(
                meta,
                key,
                &nonce_material(position.0, position.1, position.2),
            )
            .map(Some),
            Self::Trusting { meta, .. } => Ok(meta.clone()),
        }
    }

    /// Fails when the changes are larger than cojson agrees to sync ([`MAX_TRANSACTION_BYTES`]).
    pub fn check_size(&self) -> Result<(), TransactionError> {
        let bytes = self.changes_bytes();
        if bytes > MAX_TRANSACTION_BYTES {
            return Err(TransactionError::TooLarge {
                bytes,
                limit: MAX_TRANSACTION_BYTES,
            });
        }
        Ok(())
    }
}

fn write_made_at_and_meta(made_at: u64, meta: Option<&str>, out: &mut String) {
    out.push_str(",\"madeAt\":");
    out.push_str(&made_at.to_string());
    if let Some(meta) = meta {
        out.push_str(",\"meta\":");
        write_escaped(meta, out);
    }
}
