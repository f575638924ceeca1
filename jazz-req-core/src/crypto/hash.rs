//! BLAKE3 hashes as cojson uses them: `secureHash`, `shortHash`, hashing with a context.

use serde_json::Value;

use super::ids::{CoID, Hash, ShortHash};
use super::stable_json::stable_stringify;

/// Length in bytes of a short hash (`shortHashLength` in cojson).
pub const SHORT_HASH_LENGTH: usize = 19;

/// Plain BLAKE3-256 of `data`.
pub fn blake3_hash_once(data: &[u8]) -> [u8; 32] {
    *blake3::hash(data).as_bytes()
}

/// cojson's `blake3HashOnceWithContext`: plain BLAKE3 of `context ‖ data`.
///
/// This is neither BLAKE3's `derive_key` nor its keyed mode.
pub fn blake3_hash_with_context(data: &[u8], context: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(context);
    hasher.update(data);
    *hasher.finalize().as_bytes()
}

/// `secureHash`: BLAKE3 of the stable JSON of `value`.
pub fn secure_hash(value: &Value) -> Hash {
    secure_hash_of_stable(&stable_stringify(value))
}

/// `secureHash` of a value whose stable JSON text is already known.
pub fn secure_hash_of_stable(stable_json: &str) -> Hash {
    Hash::from_bytes(blake3_hash_once(stable_json.as_bytes()))
}

/// `shortHash`: the first 19 bytes of BLAKE3 of the stable JSON of `value`.
pub fn short_hash(value: &Value) -> ShortHash {
    short_hash_of_stable(&stable_stringify(value))
}

/// `shortHash` of a value whose stable JSON text is already known.
pub fn short_hash_of_stable(stable_json: &str) -> ShortHash {
    let full = blake3_hash_once(stable_json.as_bytes());
    let mut short = [0u8; SHORT_HASH_LENGTH];
    short.copy_from_slice(&full[..SHORT_HASH_LENGTH]);
    ShortHash::from_bytes(short)
}

/// `idforHeader`: the `co_z…` id of a CoValue with this header (as JSON).
pub fn id_for_header(header: &Value) -> CoID {
    CoID::from_short_hash(&short_hash(header))
}
