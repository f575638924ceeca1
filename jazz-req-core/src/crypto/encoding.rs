//! The two text encodings of Jazz strings: base58 (Bitcoin alphabet) after a `…_z` prefix,
//! and base64url after a `…_U` prefix (always written padded, read padded or not).

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use super::error::ParseError;

/// Encodes bytes as base58 (Bitcoin alphabet, leading zero bytes as `1`).
pub fn base58_encode(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

/// Decodes base58 text into bytes.
pub fn base58_decode(kind: &'static str, text: &str) -> Result<Vec<u8>, ParseError> {
    bs58::decode(text)
        .into_vec()
        .map_err(|e| ParseError::Base58 {
            kind,
            reason: e.to_string(),
        })
}

/// Decodes base58 text that must hold exactly `N` bytes.
pub fn base58_decode_fixed<const N: usize>(
    kind: &'static str,
    text: &str,
) -> Result<[u8; N], ParseError> {
    let mut bytes = [0u8; N];
    match bs58::decode(text).onto(&mut bytes[..]) {
        Ok(len) if len == N => Ok(bytes),
        // Too short or too long (or not base58): what it holds, decoded again to say so.
        _ => {
            let decoded = base58_decode(kind, text)?;
            Err(ParseError::Length {
                kind,
                expected: N,
                actual: decoded.len(),
            })
        }
    }
}

/// Checks that `text` is non-empty base58 without decoding it to a fixed length.
pub fn check_base58(kind: &'static str, text: &str) -> Result<(), ParseError> {
    if text.is_empty() {
        return Err(ParseError::Malformed {
            kind,
            reason: "nothing after the prefix",
        });
    }
    // Any text of the alphabet decodes: checking the alphabet is checking that it decodes
    // (and only a text that does not is decoded, for the error that says where).
    if text.bytes().all(|byte| BASE58_ALPHABET.contains(&byte)) {
        return Ok(());
    }
    base58_decode(kind, text).map(|_| ())
}

/// The Bitcoin base58 alphabet, as `bs58` decodes it.
const BASE58_ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Encodes bytes as base64url with `=` padding, as cojson writes it.
pub fn base64url_encode(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

/// Decodes base64url, padded or not (cojson's JS decoder accepts both).
pub fn base64url_decode(kind: &'static str, text: &str) -> Result<Vec<u8>, ParseError> {
    let unpadded = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(unpadded)
        .map_err(|e| ParseError::Base64 {
            kind,
            reason: e.to_string(),
        })
}

/// Strips `prefix` from `text`, or says which prefix was expected.
pub fn strip_prefix<'a>(
    kind: &'static str,
    prefix: &'static str,
    text: &'a str,
) -> Result<&'a str, ParseError> {
    text.strip_prefix(prefix).ok_or(ParseError::WrongPrefix {
        kind,
        expected: prefix,
    })
}
