//! Bad input gets a typed error naming what was wrong, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::crypto::{
    self, AgentID, AgentSecret, CoID, CryptoError, Encrypted, Hash, KeyID, KeySecret, ParseError,
    Sealed, SealedForGroup, SealerID, SealerSecret, SessionID, ShortHash, Signature, SignerID,
    SignerSecret,
};
use serde_json::json;

const SIGNER: &str = "signer_z6tnSjPCamPqDYEWmjtDumNn9uAyga65aPtHgHZNHRLLx";
const SEALER: &str = "sealer_zGbHRwztTtyU5L5PoFxATD3PWibfUaPnBWEou5bCTV2N9";

fn key() -> KeySecret {
    KeySecret::from_bytes([7; 32])
}

fn nonce() -> serde_json::Value {
    json!({"in": "co_zTest", "tx": {"sessionID": "x", "txIndex": 0}})
}

#[test]
fn wrong_prefix_names_the_expected_prefix() {
    let err = SignerID::parse(SEALER).unwrap_err();
    assert_eq!(
        err,
        ParseError::WrongPrefix {
            kind: "SignerID",
            expected: "signer_z"
        }
    );
    assert!(err.to_string().contains("signer_z"), "{err}");
    assert!(matches!(
        SealerID::parse(SIGNER),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        Hash::parse("hash_"),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        CoID::parse("co_abc"),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        KeyID::parse("key_abc"),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        Encrypted::parse("sealed_Uabc"),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        Sealed::parse("encrypted_Uabc"),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        SealedForGroup::parse("sealed_Uabc"),
        Err(ParseError::WrongPrefix { .. })
    ));
    assert!(matches!(
        KeySecret::parse("keySecret_abc"),
        Err(ParseError::WrongPrefix { .. })
    ));
}

#[test]
fn bad_base58_is_reported_as_base58() {
    // `0`, `O`, `I` and `l` are not in the Bitcoin alphabet.
    for bad in ["signer_z0OIl", "signer_z€"] {
        assert!(matches!(
            SignerID::parse(bad),
            Err(ParseError::Base58 {
                kind: "SignerID",
                ..
            })
        ));
    }
    assert!(matches!(
        CoID::parse("co_zIl0"),
        Err(ParseError::Base58 { .. })
    ));
    assert!(matches!(
        SignerSecret::parse("signerSecret_z0000"),
        Err(ParseError::Base58 { .. })
    ));
}

#[test]
fn wrong_length_reports_both_lengths() {
    let err = SignerID::parse("signer_z2").unwrap_err();
    assert_eq!(
        err,
        ParseError::Length {
            kind: "SignerID",
            expected: 32,
            actual: 1
        }
    );
    let sig = format!("signature_z{}", bs58::encode([1u8; 63]).into_string());
    assert!(matches!(
        Signature::parse(&sig),
        Err(ParseError::Length {
            expected: 64,
            actual: 63,
            ..
        })
    ));
    let short = format!("shortHash_z{}", bs58::encode([1u8; 32]).into_string());
    assert!(matches!(
        ShortHash::parse(&short),
        Err(ParseError::Length {
            expected: 19,
            actual: 32,
            ..
        })
    ));
    let secret = format!("sealerSecret_z{}", bs58::encode([1u8; 33]).into_string());
    assert!(matches!(
        SealerSecret::parse(&secret),
        Err(ParseError::Length { .. })
    ));
}

#[test]
fn empty_bodies_are_malformed() {
    assert!(matches!(
        CoID::parse("co_z"),
        Err(ParseError::Malformed { .. })
    ));
    assert!(matches!(
        KeyID::parse("key_z"),
        Err(ParseError::Malformed { .. })
    ));
}

#[test]
fn bad_base64_is_reported_as_base64() {
    for bad in ["encrypted_U!!!!", "encrypted_Ua", "encrypted_Uab+/"] {
        assert!(
            matches!(
                Encrypted::parse(bad),
                Err(ParseError::Base64 {
                    kind: "Encrypted",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        Sealed::parse("sealed_U*"),
        Err(ParseError::Base64 { .. })
    ));
}

#[test]
fn padded_and_unpadded_base64_are_both_read() {
    let padded = Encrypted::parse("encrypted_UYWI=").unwrap();
    let unpadded = Encrypted::parse("encrypted_UYWI").unwrap();
    assert_eq!(padded.to_bytes().unwrap(), b"ab");
    assert_eq!(unpadded.to_bytes().unwrap(), b"ab");
    // The text is kept as received: cojson hashes it that way.
    assert_eq!(unpadded.as_str(), "encrypted_UYWI");
    // Produced text is padded.
    assert_eq!(Encrypted::from_bytes(b"ab").as_str(), "encrypted_UYWI=");
}

#[test]
fn composite_ids_name_the_failing_part() {
    assert!(matches!(
        AgentID::parse(SEALER),
        Err(ParseError::Malformed {
            kind: "AgentID",
            ..
        })
    ));
    assert!(matches!(
        AgentID::parse(&format!("{SIGNER}/{SEALER}")),
        Err(ParseError::WrongPrefix {
            kind: "SealerID",
            ..
        })
    ));
    assert!(matches!(
        AgentSecret::parse("sealerSecret_z1/signerSecret_z1"),
        Err(ParseError::Length {
            kind: "SealerSecret",
            ..
        })
    ));
    let agent = format!("{SEALER}/{SIGNER}");
    assert!(matches!(
        SessionID::parse(&format!("{agent}_sess_zabc")),
        Err(ParseError::Malformed {
            kind: "SessionID",
            ..
        })
    ));
    assert!(matches!(
        SessionID::parse(&format!("{agent}_session_dabc")),
        Err(ParseError::Malformed { .. })
    ));
    assert!(matches!(
        SessionID::parse(&format!("{agent}_session_x")),
        Err(ParseError::Malformed { .. })
    ));
    assert!(matches!(
        SessionID::parse("nobody_session_zabc"),
        Err(ParseError::Malformed {
            kind: "AgentID",
            ..
        })
    ));
    assert!(
        SessionID::parse(&format!("{agent}_session_dabc$"))
            .unwrap()
            .is_delete()
    );
    assert!(
        !SessionID::parse("co_zabc_session_zabc")
            .unwrap()
            .is_delete()
    );
}

#[test]
fn a_seed_of_the_wrong_length_is_refused() {
    assert_eq!(
        crypto::agent_secret_from_seed(&[1; 31]).unwrap_err(),
        CryptoError::SeedLength(31)
    );
}

#[test]
fn truncated_sealed_boxes_are_refused() {
    let to = SealerSecret::from_bytes([2; 32]);
    let from = SealerSecret::from_bytes([3; 32]);
    let short = Sealed::from_bytes(&[0; 15]);
    assert!(matches!(
        crypto::unseal(&short, &to, &from.sealer_id(), &nonce()),
        Err(CryptoError::Truncated {
            kind: "Sealed",
            actual: 15,
            minimum: 16
        })
    ));
    let short_group = SealedForGroup::from_bytes(&[0; 47]);
    assert!(matches!(
        crypto::unseal_for_group(&short_group, &to, &nonce()),
        Err(CryptoError::Truncated {
            kind: "SealedForGroup",
            ..
        })
    ));
    let empty = Sealed::from_bytes(&[]);
    assert!(crypto::unseal(&empty, &to, &from.sealer_id(), &nonce()).is_err());
}

#[test]
fn tampered_or_misaddressed_sealed_boxes_are_refused() {
    let to = SealerSecret::from_bytes([2; 32]);
    let from = SealerSecret::from_bytes([3; 32]);
    let other = SealerSecret::from_bytes([4; 32]);
    let message = json!("keySecret_zsecret");
    let sealed = crypto::seal(&message, &from, &to.sealer_id(), &nonce());
    let mut bytes = sealed.to_bytes().unwrap();
    bytes[20] ^= 1;
    let tampered = Sealed::from_bytes(&bytes);
    assert_eq!(
        crypto::unseal(&tampered, &to, &from.sealer_id(), &nonce()).unwrap_err(),
        CryptoError::UnsealFailed
    );
    assert_eq!(
        crypto::unseal(&sealed, &other, &from.sealer_id(), &nonce()).unwrap_err(),
        CryptoError::UnsealFailed
    );
    let other_nonce = json!({"in": "co_zOther", "tx": {"sessionID": "x", "txIndex": 0}});
    assert_eq!(
        crypto::unseal(&sealed, &to, &from.sealer_id(), &other_nonce).unwrap_err(),
        CryptoError::UnsealFailed
    );
}

#[test]
fn non_utf8_plaintext_is_reported() {
    let encrypted = crypto::encrypt_bytes(&[0xff, 0xfe, 0x80], &key(), &nonce());
    assert_eq!(
        crypto::decrypt_text(&encrypted, &key(), &nonce()).unwrap_err(),
        CryptoError::NotUtf8
    );
    assert_eq!(
        crypto::decrypt(&encrypted, &key(), &nonce()).unwrap_err(),
        CryptoError::NotUtf8
    );
    let from = SealerSecret::from_bytes([3; 32]);
    let to = SealerSecret::from_bytes([2; 32]);
    let sealed = crypto::seal_bytes(&[0xc3, 0x28], &from, &to.sealer_id(), &nonce());
    assert_eq!(
        crypto::unseal(&sealed, &to, &from.sealer_id(), &nonce()).unwrap_err(),
        CryptoError::NotUtf8
    );
}

#[test]
fn plaintext_that_is_not_json_is_reported() {
    let encrypted = crypto::encrypt_bytes(b"{not json", &key(), &nonce());
    assert!(matches!(
        crypto::decrypt(&encrypted, &key(), &nonce()),
        Err(CryptoError::NotJson(_))
    ));
}

#[test]
fn decrypting_a_key_secret_checks_its_shape() {
    let outer_id = KeyID::from_bytes(&[1; 12]);
    let inner_id = KeyID::from_bytes(&[2; 12]);
    let outer = crypto::KeyWithID {
        id: &outer_id,
        secret: &key(),
    };
    let nonce = json!({"encryptedID": inner_id.as_str(), "encryptingID": outer_id.as_str()});
    let not_a_key = crypto::encrypt(&json!("hello"), &key(), &nonce);
    assert!(matches!(
        crypto::decrypt_key_secret(&not_a_key, &inner_id, &outer),
        Err(CryptoError::Parse(ParseError::WrongPrefix {
            kind: "KeySecret",
            ..
        }))
    ));
    let a_number = crypto::encrypt(&json!(5), &key(), &nonce);
    assert!(matches!(
        crypto::decrypt_key_secret(&a_number, &inner_id, &outer),
        Err(CryptoError::NotJson(_))
    ));
}

#[test]
fn an_invalid_signer_key_or_signature_is_an_error() {
    let secret = SignerSecret::from_bytes([9; 32]);
    let message = json!("hash_zabc");
    let signature = crypto::sign(&secret, &message);
    let other = SignerSecret::from_bytes([8; 32]).signer_id();
    assert_eq!(
        crypto::verify(&signature, &message, &other).unwrap_err(),
        CryptoError::InvalidSignature
    );
    assert_eq!(
        crypto::verify(&signature, &json!("hash_zabd"), &secret.signer_id()).unwrap_err(),
        CryptoError::InvalidSignature
    );
    // Not every 32-byte string is a point on the curve.
    let not_a_point = (0u8..=255)
        .map(|b| {
            let mut bytes = [0xffu8; 32];
            bytes[0] = b;
            SignerID::from_bytes(bytes)
        })
        .find(|id| crypto::VerifyingKey::new(id).is_err())
        .expect("some 32-byte strings are not Ed25519 points");
    assert_eq!(
        crypto::verify(&signature, &message, &not_a_point).unwrap_err(),
        CryptoError::InvalidPublicKey { kind: "SignerID" }
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let secret = crypto::agent_secret_from_seed(&[5; 32]).unwrap();
    let text = secret.to_secret_string();
    let debug = format!(
        "{secret:?} {:?} {:?} {:?}",
        secret.signer,
        secret.sealer,
        key()
    );
    assert!(debug.contains("<redacted>"), "{debug}");
    let signer_body = &text[text.find("signerSecret_z").unwrap() + 14..];
    assert!(!debug.contains(signer_body), "{debug}");
    assert!(!debug.contains("sealerSecret_z"), "{debug}");
}

#[test]
fn a_group_box_with_a_non_canonical_ephemeral_key_is_refused() {
    let group_sealer = crypto::group_sealer_from_read_key(&key());
    let sealed = crypto::seal_for_group(&json!("m"), &group_sealer.sealer_id(), &nonce()).unwrap();
    let mut bytes = sealed.to_bytes().unwrap();
    bytes[31] ^= 0x80;
    assert_eq!(
        crypto::unseal_for_group(&SealedForGroup::from_bytes(&bytes), &group_sealer, &nonce())
            .unwrap_err(),
        CryptoError::InvalidPublicKey {
            kind: "SealedForGroup ephemeral key"
        }
    );
}
