//! Symmetric encryption of transactions and key secrets: plain XSalsa20 (no MAC), with a
//! 24-byte nonce derived from JSON nonce material.

use salsa20::XSalsa20;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use serde_json::{Value, json};

use super::error::CryptoError;
use super::hash::blake3_hash_once;
use super::ids::{Encrypted, KeyID};
use super::secrets::KeySecret;
use super::stable_json::{stable_stringify, write_stable};

/// Length of an XSalsa20 nonce.
pub const NONCE_LENGTH: usize = 24;

/// The nonce for `material`: the first 24 bytes of BLAKE3 of its stable JSON.
pub fn nonce_from_material(material: &Value) -> [u8; NONCE_LENGTH] {
    let mut text = String::with_capacity(160);
    write_stable(material, &mut text);
    let digest = blake3_hash_once(text.as_bytes());
    let mut nonce = [0u8; NONCE_LENGTH];
    nonce.copy_from_slice(&digest[..NONCE_LENGTH]);
    nonce
}

fn apply_keystream(key: &KeySecret, nonce: &[u8; NONCE_LENGTH], data: &mut [u8]) {
    let mut cipher = XSalsa20::new(key.as_bytes().into(), nonce.into());
    cipher.apply_keystream(data);
}

/// Encrypts raw bytes (the session log encrypts the exact `changes` text this way).
pub fn encrypt_bytes(plaintext: &[u8], key: &KeySecret, nonce_material: &Value) -> Encrypted {
    let mut data = plaintext.to_vec();
    apply_keystream(key, &nonce_from_material(nonce_material), &mut data);
    Encrypted::from_bytes(&data)
}

/// Decrypts to raw bytes. A wrong key gives garbage, not an error: XSalsa20 has no MAC.
pub fn decrypt_bytes(
    encrypted: &Encrypted,
    key: &KeySecret,
    nonce_material: &Value,
) -> Result<Vec<u8>, CryptoError> {
    let mut data = encrypted.to_bytes()?;
    apply_keystream(key, &nonce_from_material(nonce_material), &mut data);
    Ok(data)
}

/// Decrypts to UTF-8 text (e.g. a transaction's `changes` JSON).
pub fn decrypt_text(
    encrypted: &Encrypted,
    key: &KeySecret,
    nonce_material: &Value,
) -> Result<String, CryptoError> {
    String::from_utf8(decrypt_bytes(encrypted, key, nonce_material)?)
        .map_err(|_| CryptoError::NotUtf8)
}

/// cojson's `encrypt`: encrypts the stable JSON of `value`.
pub fn encrypt(value: &Value, key: &KeySecret, nonce_material: &Value) -> Encrypted {
    encrypt_bytes(stable_stringify(value).as_bytes(), key, nonce_material)
}

/// cojson's `decrypt`: decrypts and parses the JSON value.
pub fn decrypt(
    encrypted: &Encrypted,
    key: &KeySecret,
    nonce_material: &Value,
) -> Result<Value, CryptoError> {
    let text = decrypt_text(encrypted, key, nonce_material)?;
    serde_json::from_str(&text).map_err(|e| CryptoError::NotJson(e.to_string()))
}

/// A key secret with the id it is known by.
#[derive(Clone, Debug)]
pub struct KeyWithID<'a> {
    /// The key's id (`key_z…`).
    pub id: &'a KeyID,
    /// The key's secret.
    pub secret: &'a KeySecret,
}

fn key_for_key_nonce(encrypted_id: &KeyID, encrypting_id: &KeyID) -> Value {
    json!({ "encryptedID": encrypted_id.as_str(), "encryptingID": encrypting_id.as_str() })
}

/// `encryptKeySecret`: encrypts the string form of `to_encrypt` with `encrypting`.
pub fn encrypt_key_secret(to_encrypt: &KeyWithID<'_>, encrypting: &KeyWithID<'_>) -> Encrypted {
    let secret = to_encrypt.secret.to_secret_string();
    let plaintext = zeroize::Zeroizing::new(super::stable_json::stable_stringify_str(&secret));
    encrypt_bytes(
        plaintext.as_bytes(),
        encrypting.secret,
        &key_for_key_nonce(to_encrypt.id, encrypting.id),
    )
}

/// `decryptKeySecret`: recovers the key `encrypted_id` encrypted with `encrypting`.
pub fn decrypt_key_secret(
    encrypted: &Encrypted,
    encrypted_id: &KeyID,
    encrypting: &KeyWithID<'_>,
) -> Result<KeySecret, CryptoError> {
    let text = zeroize::Zeroizing::new(decrypt_text(
        encrypted,
        encrypting.secret,
        &key_for_key_nonce(encrypted_id, encrypting.id),
    )?);
    parse_quoted_key_secret(&text)
}

/// Parses the JSON string `"keySecret_z…"` that key revelations carry.
pub(crate) fn parse_quoted_key_secret(json_text: &str) -> Result<KeySecret, CryptoError> {
    let value: zeroize::Zeroizing<String> = serde_json::from_str::<String>(json_text)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| CryptoError::NotJson(e.to_string()))?;
    Ok(KeySecret::parse(&value)?)
}
