//! Sealing: X25519 key agreement whose **raw** shared secret keys an XSalsa20-Poly1305
//! secretbox (NaCl layout `tag ‖ ciphertext`). libsodium's `crypto_box` hashes the shared
//! secret with HSalsa20 first and so would not interoperate with cojson.

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Tag, XSalsa20Poly1305};
use serde_json::Value;

use super::encrypt::{NONCE_LENGTH, nonce_from_material};
use super::error::CryptoError;
use super::hash::blake3_hash_with_context;
use super::ids::{Sealed, SealedForGroup, SealerID};
use super::random::random_bytes;
use super::secrets::{KeySecret, SealerSecret};
use super::stable_json::stable_stringify;

const TAG_LENGTH: usize = 16;
const PUBLIC_KEY_LENGTH: usize = 32;

/// The X25519 shared secret of two agents, used directly as their box key. Either side
/// computes the same one; it is worth caching per peer (an X25519 costs tens of µs).
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct SharedKey([u8; 32]);

impl SharedKey {
    /// The shared key of `secret` and `public`.
    pub fn new(secret: &SealerSecret, public: &SealerID) -> Self {
        let public = x25519_dalek::PublicKey::from(*public.as_bytes());
        Self(secret.static_secret().diffie_hellman(&public).to_bytes())
    }
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedKey(<redacted>)")
    }
}

fn shared_key(secret: &SealerSecret, public: &SealerID) -> zeroize::Zeroizing<[u8; 32]> {
    zeroize::Zeroizing::new(SharedKey::new(secret, public).0)
}

/// `seal` with a precomputed [`SharedKey`] of the two agents.
pub fn seal_with(message: &Value, key: &SharedKey, nonce_material: &Value) -> Sealed {
    let plaintext = zeroize::Zeroizing::new(stable_stringify(message));
    Sealed::from_bytes(&box_seal(
        &key.0,
        &nonce_from_material(nonce_material),
        plaintext.as_bytes(),
    ))
}

/// `unseal` with a precomputed [`SharedKey`] of the two agents.
pub fn unseal_with(
    sealed: &Sealed,
    key: &SharedKey,
    nonce_material: &Value,
) -> Result<Value, CryptoError> {
    let plaintext = box_open(
        "Sealed",
        &key.0,
        &nonce_from_material(nonce_material),
        &sealed.to_bytes()?,
    )?;
    parse_json(&plaintext)
}

fn box_seal(key: &[u8; 32], nonce: &[u8; NONCE_LENGTH], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XSalsa20Poly1305::new(key.into());
    let mut out = vec![0u8; TAG_LENGTH];
    out.extend_from_slice(plaintext);
    let (tag_slot, body) = out.split_at_mut(TAG_LENGTH);
    // Detached encryption fails only for messages over ~256 GiB (the Salsa20 counter).
    match cipher.encrypt_in_place_detached(nonce.into(), b"", body) {
        Ok(tag) => tag_slot.copy_from_slice(&tag),
        Err(_) => out.clear(),
    }
    out
}

fn box_open(
    kind: &'static str,
    key: &[u8; 32],
    nonce: &[u8; NONCE_LENGTH],
    sealed: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < TAG_LENGTH {
        return Err(CryptoError::Truncated {
            kind,
            actual: sealed.len(),
            minimum: TAG_LENGTH,
        });
    }
    let (tag, body) = sealed.split_at(TAG_LENGTH);
    let mut plaintext = zeroize::Zeroizing::new(body.to_vec());
    XSalsa20Poly1305::new(key.into())
        .decrypt_in_place_detached(
            nonce.into(),
            b"",
            plaintext.as_mut_slice(),
            Tag::from_slice(tag),
        )
        .map_err(|_| CryptoError::UnsealFailed)?;
    Ok(plaintext)
}

fn parse_json(bytes: &[u8]) -> Result<Value, CryptoError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CryptoError::NotUtf8)?;
    serde_json::from_str(text).map_err(|e| CryptoError::NotJson(e.to_string()))
}

/// `seal`: boxes the stable JSON of `message` from `from` to `to`.
pub fn seal(message: &Value, from: &SealerSecret, to: &SealerID, nonce_material: &Value) -> Sealed {
    let plaintext = zeroize::Zeroizing::new(stable_stringify(message));
    seal_bytes(plaintext.as_bytes(), from, to, nonce_material)
}

/// Boxes raw bytes from `from` to `to` (what [`seal`] does after serialising).
pub fn seal_bytes(
    plaintext: &[u8],
    from: &SealerSecret,
    to: &SealerID,
    nonce_material: &Value,
) -> Sealed {
    let key = shared_key(from, to);
    Sealed::from_bytes(&box_seal(
        &key,
        &nonce_from_material(nonce_material),
        plaintext,
    ))
}

/// `unseal`: opens a box sealed by `from` for `to` and parses its JSON.
pub fn unseal(
    sealed: &Sealed,
    to: &SealerSecret,
    from: &SealerID,
    nonce_material: &Value,
) -> Result<Value, CryptoError> {
    parse_json(&unseal_bytes(sealed, to, from, nonce_material)?)
}

/// Opens a box sealed by `from` for `to`, returning the raw plaintext bytes.
pub fn unseal_bytes(
    sealed: &Sealed,
    to: &SealerSecret,
    from: &SealerID,
    nonce_material: &Value,
) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
    let key = shared_key(to, from);
    box_open(
        "Sealed",
        &key,
        &nonce_from_material(nonce_material),
        &sealed.to_bytes()?,
    )
}

/// `groupSealerFromReadKey`: the X25519 secret BLAKE3(`"groupSealer"` ‖ the key's string form).
pub fn group_sealer_from_read_key(read_key: &KeySecret) -> SealerSecret {
    let text = read_key.to_secret_string();
    SealerSecret::from_bytes(blake3_hash_with_context(text.as_bytes(), b"groupSealer"))
}

/// `sealForGroup`: an anonymous box for a group sealer, from a fresh ephemeral key.
pub fn seal_for_group(
    message: &Value,
    to: &SealerID,
    nonce_material: &Value,
) -> Result<SealedForGroup, CryptoError> {
    let ephemeral = SealerSecret::from_bytes(random_bytes::<32>()?);
    let plaintext = zeroize::Zeroizing::new(stable_stringify(message));
    let key = shared_key(&ephemeral, to);
    let mut out = ephemeral.sealer_id().as_bytes().to_vec();
    out.extend(box_seal(
        &key,
        &nonce_from_material(nonce_material),
        plaintext.as_bytes(),
    ));
    Ok(SealedForGroup::from_bytes(&out))
}

/// `unsealForGroup`: opens an anonymous box with the group sealer's secret.
pub fn unseal_for_group(
    sealed: &SealedForGroup,
    group_sealer: &SealerSecret,
    nonce_material: &Value,
) -> Result<Value, CryptoError> {
    let bytes = sealed.to_bytes()?;
    let minimum = PUBLIC_KEY_LENGTH + TAG_LENGTH;
    if bytes.len() < minimum {
        return Err(CryptoError::Truncated {
            kind: "SealedForGroup",
            actual: bytes.len(),
            minimum,
        });
    }
    let (ephemeral, boxed) = bytes.split_at(PUBLIC_KEY_LENGTH);
    let mut ephemeral_bytes = [0u8; PUBLIC_KEY_LENGTH];
    ephemeral_bytes.copy_from_slice(ephemeral);
    // X25519 ignores the top bit of a public key, so a box whose ephemeral key had that bit
    // flipped would still open. Honest senders (cojson included) always leave it clear.
    if ephemeral_bytes[PUBLIC_KEY_LENGTH - 1] & 0x80 != 0 {
        return Err(CryptoError::InvalidPublicKey {
            kind: "SealedForGroup ephemeral key",
        });
    }
    let key = shared_key(group_sealer, &SealerID::from_bytes(ephemeral_bytes));
    let plaintext = box_open(
        "SealedForGroup",
        &key,
        &nonce_from_material(nonce_material),
        boxed,
    )?;
    parse_json(&plaintext)
}
