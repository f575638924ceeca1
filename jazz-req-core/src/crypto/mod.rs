//! Jazz's cryptography and identifiers, byte for byte as cojson 0.20.19 produces them.
//!
//! - [`stable_json`]: `stableStringify`, the text every hash and signature covers;
//! - [`hash`]: `secureHash`, `shortHash`, BLAKE3 with a context, header ids;
//! - [`sign`]: Ed25519 over stable JSON;
//! - [`encrypt`]: XSalsa20 (no MAC) for transactions and key-for-key revelations;
//! - [`seal`]: X25519 + XSalsa20-Poly1305 boxes between agents and for group sealers
//!   (the raw shared secret is the box key: this is not libsodium's `crypto_box`);
//! - [`agent`]: agents from secret seeds, account headers;
//! - typed ids ([`ids`]) and secrets ([`secrets`]) in their Jazz string forms.

#[macro_use]
mod macros;

pub mod agent;
pub mod encoding;
pub mod encrypt;
mod error;
pub mod hash;
pub mod ids;
pub mod random;
pub mod seal;
pub mod secrets;
pub mod sign;
mod signature;
pub mod stable_json;

pub use agent::{account_header_for_agent, account_id_for_agent, agent_secret_from_seed};
pub use encrypt::{
    KeyWithID, decrypt, decrypt_bytes, decrypt_key_secret, decrypt_text, encrypt, encrypt_bytes,
    encrypt_key_secret, nonce_from_material,
};
pub use error::{CryptoError, ParseError};
pub use hash::{
    blake3_hash_once, blake3_hash_with_context, id_for_header, secure_hash, short_hash,
};
pub use ids::{
    AgentID, CoID, Encrypted, Hash, KeyID, Sealed, SealedForGroup, SealerID, SessionAuthor,
    SessionID, ShortHash, Signature, SignerID, TransactionID,
};
pub use seal::{
    SharedKey, group_sealer_from_read_key, seal, seal_bytes, seal_for_group, seal_with, unseal,
    unseal_bytes, unseal_for_group, unseal_with,
};
pub use secrets::{AgentSecret, KeySecret, SealerSecret, SignerSecret};
pub use sign::{VerifyingKey, sign, sign_hash, verify, verify_hash};
pub use stable_json::stable_stringify;
