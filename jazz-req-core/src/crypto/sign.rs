//! Ed25519 signatures over the stable JSON of a message.

use ed25519_dalek::{Signer as _, Verifier as _};
use serde_json::Value;

use super::error::CryptoError;
use super::ids::Signature;
use super::ids::{Hash, SignerID};
use super::secrets::SignerSecret;
use super::stable_json::{stable_stringify, stable_stringify_str};

/// Signs the UTF-8 bytes of the stable JSON of `message`.
pub fn sign(secret: &SignerSecret, message: &Value) -> Signature {
    sign_stable(secret, &stable_stringify(message))
}

/// Signs a `hash_z…` string, as session logs and request tokens do (quotes included).
pub fn sign_hash(secret: &SignerSecret, hash: &Hash) -> Signature {
    sign_stable(secret, &stable_stringify_str(&hash.to_string()))
}

/// Signs bytes that already are the stable JSON text of a message.
pub fn sign_stable(secret: &SignerSecret, stable_json: &str) -> Signature {
    let signature = secret.signing_key().sign(stable_json.as_bytes());
    Signature::from_bytes(signature.to_bytes())
}

/// Checks `signature` over the stable JSON of `message` by `signer`.
pub fn verify(
    signature: &Signature,
    message: &Value,
    signer: &SignerID,
) -> Result<(), CryptoError> {
    verify_stable(signature, &stable_stringify(message), signer)
}

/// Checks a signature over a `hash_z…` string (quotes included).
pub fn verify_hash(
    signature: &Signature,
    hash: &Hash,
    signer: &SignerID,
) -> Result<(), CryptoError> {
    verify_stable(signature, &stable_stringify_str(&hash.to_string()), signer)
}

/// Checks a signature over bytes that already are the stable JSON text of a message.
pub fn verify_stable(
    signature: &Signature,
    stable_json: &str,
    signer: &SignerID,
) -> Result<(), CryptoError> {
    VerifyingKey::new(signer)?.verify_stable(signature, stable_json)
}

/// A decoded signer public key, for verifying many signatures of one signer without
/// decompressing its curve point each time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey {
    /// Decodes the public key of `signer`.
    pub fn new(signer: &SignerID) -> Result<Self, CryptoError> {
        ed25519_dalek::VerifyingKey::from_bytes(signer.as_bytes())
            .map(Self)
            .map_err(|_| CryptoError::InvalidPublicKey { kind: "SignerID" })
    }

    /// Checks a signature over bytes that are the stable JSON text of a message.
    pub fn verify_stable(
        &self,
        signature: &Signature,
        stable_json: &str,
    ) -> Result<(), CryptoError> {
        let signature = ed25519_dalek::Signature::from_bytes(signature.as_bytes());
        self.0
            .verify(stable_json.as_bytes(), &signature)
            .map_err(|_| CryptoError::InvalidSignature)
    }

    /// Checks a signature over a `hash_z…` string (quotes included).
    pub fn verify_hash(&self, signature: &Signature, hash: &Hash) -> Result<(), CryptoError> {
        self.verify_stable(signature, &stable_stringify_str(&hash.to_string()))
    }
}
