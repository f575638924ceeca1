//! Base58 with the Bitcoin alphabet, as the `bs58` crate and cojson write it, five digits at a
//! time: the number is held in 32-bit limbs and divided (or multiplied) by 58⁵ per step,
//! instead of carrying every digit through every output byte. Every id, key, hash and
//! signature a request carries is base58 text: the byte-at-a-time form was about a sixth of a
//! worker's CPU per echo. The working buffers are zeroed when done (secrets are base58 too).

use std::fmt;

use zeroize::Zeroize as _;

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// 58⁵: the most digits a step takes (below 2³², so a step fits in 64-bit arithmetic).
const STEP: u64 = 656_356_768;
const STEP_DIGITS: usize = 5;

/// The value of each ASCII character, or `0xFF`.
const DIGITS: [u8; 128] = {
    let mut table = [0xFF; 128];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why text is not base58; the messages are those of the `bs58` crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A character outside the alphabet.
    InvalidCharacter {
        /// The character.
        character: char,
        /// Its byte offset.
        index: usize,
    },
    /// A byte that is not ASCII.
    NonAsciiCharacter {
        /// Its byte offset.
        index: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCharacter { character, index } => write!(
                f,
                "provided string contained invalid character {character:?} at byte {index}"
            ),
            Self::NonAsciiCharacter { index } => write!(
                f,
                "provided string contained non-ascii character starting at byte {index}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Appends the base58 of `bytes` to `out`: one `1` per leading zero byte, then the digits of
/// the rest read as a big-endian number.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    let rest = bytes.get(zeros..).unwrap_or_default();
    // Big-endian limbs; the first one takes the bytes that do not fill a whole limb.
    let mut limbs: Vec<u32> = Vec::with_capacity(rest.len().div_ceil(4));
    let head = rest.len() % 4;
    let (first, whole) = rest.split_at(head);
    if !first.is_empty() {
        limbs.push(first.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b)));
    }
    limbs.extend(
        whole
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
    );
    // Digits, least significant first: 256ⁿ < 58^(1.37n).
    let mut digits: Vec<u8> = Vec::with_capacity(rest.len() * 138 / 100 + STEP_DIGITS);
    let mut start = 0;
    while start < limbs.len() {
        let mut remainder: u64 = 0;
        for limb in limbs.iter_mut().skip(start) {
            let current = (remainder << 32) | u64::from(*limb);
            // current < STEP · 2³², so the quotient fits in 32 bits.
            *limb = u32::try_from(current / STEP).unwrap_or(u32::MAX);
            remainder = current % STEP;
        }
        while limbs.get(start) == Some(&0) {
            start += 1;
        }
        for _ in 0..STEP_DIGITS {
            digits.push((remainder % 58) as u8);
            remainder /= 58;
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    out.reserve(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|d| char::from(ALPHABET[usize::from(*d)])),
    );
    limbs.zeroize();
    digits.zeroize();
}

/// The base58 of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    encode_into(bytes, &mut out);
    out
}

/// Decodes base58 text: one zero byte per leading `1`, then the bytes of the number the
/// rest spells (empty text is no bytes).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let input = text.as_bytes();
    let mut values = Vec::with_capacity(input.len());
    for (index, &c) in input.iter().enumerate() {
        if c > 127 {
            values.zeroize();
            return Err(DecodeError::NonAsciiCharacter { index });
        }
        let value = DIGITS[usize::from(c)];
        if value == 0xFF {
            values.zeroize();
            return Err(DecodeError::InvalidCharacter {
                character: char::from(c),
                index,
            });
        }
        values.push(value);
    }
    let zeros = values.iter().take_while(|v| **v == 0).count();
    let rest = values.get(zeros..).unwrap_or_default();
    // Little-endian limbs of the number; each step multiplies by 58^k and adds k digits.
    let mut limbs: Vec<u32> = Vec::with_capacity(rest.len() * 3 / 16 + 1);
    for chunk in rest.chunks(STEP_DIGITS) {
        let mut multiplier: u64 = 1;
        let mut carry: u64 = 0;
        for &digit in chunk {
            multiplier *= 58;
            carry = carry * 58 + u64::from(digit);
        }
        for limb in &mut limbs {
            // < 2³² · 58⁵ + 58⁵: fits in 64 bits.
            let current = u64::from(*limb) * multiplier + carry;
            *limb = current as u32;
            carry = current >> 32;
        }
        while carry > 0 {
            limbs.push(carry as u32);
            carry >>= 32;
        }
    }
    let mut bytes = Vec::with_capacity(zeros + limbs.len() * 4);
    bytes.resize(zeros, 0);
    let mut leading = true;
    for limb in limbs.iter().rev() {
        for byte in limb.to_be_bytes() {
            if leading && byte == 0 {
                continue;
            }
            leading = false;
            bytes.push(byte);
        }
    }
    values.zeroize();
    limbs.zeroize();
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_cases_match_the_reference_encoding() {
        let cases: &[&[u8]] = &[
            &[],
            &[0],
            &[0, 0, 0],
            &[1],
            &[0, 1],
            &[57],
            &[58],
            &[255],
            &[0, 0, 255, 255, 255, 255],
            &[255; 64],
            &[0; 64],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0],
        ];
        for bytes in cases {
            let text = encode(bytes);
            assert_eq!(text, bs58::encode(bytes).into_string(), "{bytes:?}");
            assert_eq!(decode(&text).ok().as_deref(), Some(*bytes), "{text}");
        }
        assert_eq!(decode("").ok(), Some(Vec::new()));
        assert_eq!(decode("1").ok(), Some(vec![0]));
    }

    #[test]
    fn bad_characters_are_reported_as_the_reference_decoder_does() {
        for text in ["0", "abc0", "I", "zzO", "ab l", "é", "aé", "1\u{7f}"] {
            let ours = decode(text).map_err(|e| e.to_string());
            let reference = bs58::decode(text).into_vec().map_err(|e| e.to_string());
            assert_eq!(ours, reference, "{text:?}");
        }
    }
}
