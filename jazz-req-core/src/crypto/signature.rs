//! Ed25519 signatures in their Jazz string form, `signature_z…`, with that text kept beside
//! the bytes: a signature is written out several times (stored, pushed to the sync server,
//! exported in a response) and base58 of 64 bytes is quadratic work each time, about 5 % of a
//! worker's CPU before it was kept. A parsed signature keeps the text it was parsed from,
//! which is the one text its bytes encode to.

use std::hash::{Hash as StdHash, Hasher};

use super::encoding::{base58_decode_fixed, strip_prefix};
use super::error::ParseError;

/// The longest base58 text of 64 bytes.
const BASE58_MAX: usize = 88;

/// An Ed25519 signature: `signature_z…`. Compared, ordered and hashed by its bytes.
#[derive(Clone, Copy)]
pub struct Signature {
    bytes: [u8; 64],
    /// The base58 of `bytes`, `base58_len` long; empty if it could not be kept (then it is
    /// encoded when written).
    base58: [u8; BASE58_MAX],
    base58_len: u8,
}

impl Signature {
    /// The prefix of the Jazz string form.
    pub const PREFIX: &'static str = "signature_z";
    /// The number of bytes the string form encodes.
    pub const LEN: usize = 64;

    /// Wraps raw bytes (and encodes their text once).
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        let mut base58 = [0; BASE58_MAX];
        let len = bs58::encode(&bytes).onto(&mut base58[..]).unwrap_or(0);
        Self::with_text(bytes, base58, len)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 64] {
        &self.bytes
    }

    /// Parses the Jazz string form, checking prefix, base58 and length.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let body = strip_prefix("Signature", Self::PREFIX, text)?;
        let bytes = base58_decode_fixed::<64>("Signature", body)?;
        let mut base58 = [0; BASE58_MAX];
        match base58.get_mut(..body.len()) {
            Some(kept) => {
                kept.copy_from_slice(body.as_bytes());
                Ok(Self::with_text(bytes, base58, body.len()))
            }
            None => Ok(Self::from_bytes(bytes)),
        }
    }

    /// Writes the Jazz string form: the kept text, encoded afresh only if none was kept.
    fn write_to(&self, out: &mut String) {
        out.push_str(Self::PREFIX);
        let kept = self
            .base58
            .get(..usize::from(self.base58_len))
            .and_then(|text| std::str::from_utf8(text).ok())
            .filter(|text| !text.is_empty());
        match kept {
            Some(text) => out.push_str(text),
            None => out.push_str(&super::encoding::base58_encode(&self.bytes)),
        }
    }

    fn with_text(bytes: [u8; 64], base58: [u8; BASE58_MAX], len: usize) -> Self {
        let base58_len = u8::try_from(len).unwrap_or(0);
        Self {
            bytes,
            base58,
            base58_len,
        }
    }
}

impl PartialEq for Signature {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Signature {}

impl StdHash for Signature {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl PartialOrd for Signature {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Signature {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

jazz_string_impls!(Signature);

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8; 64]) -> String {
        format!("signature_z{}", bs58::encode(bytes).into_string())
    }

    #[test]
    fn the_kept_text_is_the_encoding_of_the_bytes() -> Result<(), ParseError> {
        // Leading zero bytes (written as '1's), all zeros, all 0xff (the longest text).
        let mut leading_zeros = [7u8; 64];
        leading_zeros[..3].fill(0);
        for bytes in [leading_zeros, [0; 64], [0xff; 64], [42; 64]] {
            let made = Signature::from_bytes(bytes);
            assert_eq!(made.to_string(), text_of(&bytes));
            let parsed = Signature::parse(&text_of(&bytes))?;
            assert_eq!(parsed.to_string(), text_of(&bytes));
            assert_eq!(parsed, made);
            assert_eq!(parsed.as_bytes(), &bytes);
        }
        Ok(())
    }

    #[test]
    fn wrong_prefix_base58_or_length_is_refused() {
        let ok = text_of(&[9; 64]);
        for bad in [
            ok.replacen("signature_z", "signer_z", 1),
            format!("{ok}0"),
            format!("signature_z{}", bs58::encode([9u8; 63]).into_string()),
            format!("signature_z{}", bs58::encode([9u8; 65]).into_string()),
            "signature_z".to_owned(),
        ] {
            assert!(Signature::parse(&bad).is_err(), "{bad} parsed");
        }
    }
}
