//! Errors of the crypto layer: parsing Jazz strings and failing cryptographic checks.

use thiserror::Error;

/// Why a Jazz string form (an id, a secret, a signature, a ciphertext) could not be parsed.
///
/// `kind` names the type that was being parsed (e.g. `"SignerID"`), so a message such as
/// `SignerID: expected prefix "signer_z"` says both what and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The string does not start with the prefix of its type.
    #[error("{kind}: expected prefix {expected:?}")]
    WrongPrefix {
        /// The type being parsed.
        kind: &'static str,
        /// The prefix it must start with.
        expected: &'static str,
    },
    /// The part after the prefix is not valid base58 (Bitcoin alphabet).
    #[error("{kind}: invalid base58 ({reason})")]
    Base58 {
        /// The type being parsed.
        kind: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The part after the prefix is not valid base64url.
    #[error("{kind}: invalid base64url ({reason})")]
    Base64 {
        /// The type being parsed.
        kind: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The decoded bytes have the wrong length for the type.
    #[error("{kind}: expected {expected} bytes, got {actual}")]
    Length {
        /// The type being parsed.
        kind: &'static str,
        /// The length the type has.
        expected: usize,
        /// The length that was decoded.
        actual: usize,
    },
    /// The string has the right prefix but not the structure of the type.
    #[error("{kind}: {reason}")]
    Malformed {
        /// The type being parsed.
        kind: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A cryptographic operation failed: a check did not hold, or its input was unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// An input in Jazz string form did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The signature does not verify for this message and signer.
    #[error("invalid signature")]
    InvalidSignature,
    /// A public key's bytes are not a valid curve point.
    #[error("invalid public key for {kind}")]
    InvalidPublicKey {
        /// Which key kind (`"SignerID"`, …).
        kind: &'static str,
    },
    /// A sealed box could not be opened: wrong keys, wrong nonce material, or tampered bytes.
    #[error("sealed message could not be opened (wrong key, wrong nonce material or tampered)")]
    UnsealFailed,
    /// A sealed box is shorter than its fixed overhead.
    #[error("{kind} is truncated: {actual} bytes, at least {minimum} expected")]
    Truncated {
        /// Which box kind.
        kind: &'static str,
        /// Bytes received.
        actual: usize,
        /// The fixed overhead of that box.
        minimum: usize,
    },
    /// Decrypted or unsealed bytes are not UTF-8.
    #[error("decrypted bytes are not valid UTF-8")]
    NotUtf8,
    /// Decrypted or unsealed text is not JSON (usually: the wrong key was used).
    #[error("decrypted text is not valid JSON: {0}")]
    NotJson(String),
    /// Decrypted JSON has the wrong shape (e.g. a key secret that is not a string).
    #[error("decrypted value has the wrong shape: {0}")]
    WrongShape(&'static str),
    /// A secret seed has the wrong length.
    #[error("a secret seed must be 32 bytes, got {0}")]
    SeedLength(usize),
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}
