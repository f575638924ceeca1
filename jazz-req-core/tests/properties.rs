//! Property tests of the crypto layer: round trips hold, and single flipped bytes are caught.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::crypto::{
    self, Encrypted, KeySecret, Sealed, SealedForGroup, SealerSecret, Signature, SignerSecret,
};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        // JS numbers hold integers exactly up to 2^53; larger ones round (as in JS).
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(|i| Value::Number(i.into())),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        any::<String>().prop_map(Value::String),
        "[a-zé😀ﬀ\"\\\\\n\u{1}]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn nonce_material() -> impl Strategy<Value = Value> {
    ("[a-zA-Z1-9]{1,20}", any::<u32>()).prop_map(
        |(id, tx)| json!({"in": format!("co_z{id}"), "tx": {"sessionID": "s", "txIndex": tx}}),
    )
}

/// Equality of JS values: `0.0` and `0` are one JS number, so compare the stable JSON.
fn js(value: &Value) -> String {
    crypto::stable_stringify(value)
}

fn flip(bytes: &mut [u8], index: usize, bit: u8) {
    let i = index % bytes.len();
    bytes[i] ^= 1 << (bit % 8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn stable_json_is_a_fixed_point_of_parse_then_stringify(value in json_value()) {
        let text = crypto::stable_stringify(&value);
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(crypto::stable_stringify(&reparsed), text);
    }

    #[test]
    fn integers_beyond_2_pow_53_print_as_js_prints_them(i in any::<i64>()) {
        let text = crypto::stable_stringify(&json!(i));
        #[allow(clippy::cast_precision_loss)] // the rounding is the point: JS holds an f64
        let as_js = i as f64;
        prop_assert_eq!(text.parse::<f64>().unwrap(), as_js);
    }

    #[test]
    fn stable_json_numbers_read_back_as_the_same_double(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let text = crypto::stable_stringify(&json!(f));
        let back: f64 = text.parse().unwrap();
        prop_assert!(back == f, "{} printed as {}", f, text);
    }

    #[test]
    fn sign_then_verify_holds_and_a_flipped_signature_byte_fails(
        seed in any::<[u8; 32]>(), message in json_value(), index in any::<usize>(), bit in any::<u8>(),
    ) {
        let secret = SignerSecret::from_bytes(seed);
        let signature = crypto::sign(&secret, &message);
        crypto::verify(&signature, &message, &secret.signer_id()).unwrap();
        let mut bytes = *signature.as_bytes();
        flip(&mut bytes, index, bit);
        let tampered = Signature::from_bytes(bytes);
        prop_assert!(crypto::verify(&tampered, &message, &secret.signer_id()).is_err());
    }

    #[test]
    fn encrypt_then_decrypt_holds_and_a_flipped_byte_changes_the_plaintext(
        key in any::<[u8; 32]>(), value in json_value(), nonce in nonce_material(),
        index in any::<usize>(), bit in any::<u8>(),
    ) {
        let key = KeySecret::from_bytes(key);
        let encrypted = crypto::encrypt(&value, &key, &nonce);
        prop_assert_eq!(js(&crypto::decrypt(&encrypted, &key, &nonce).unwrap()), js(&value));
        // XSalsa20 has no MAC: a flipped ciphertext byte flips the same plaintext byte, so the
        // same bytes never come back. (The decoded value may still read the same, e.g. a
        // changed digit far down a large number that rounds to the same JS number: integrity
        // of encrypted transactions comes from the session-log signature over the ciphertext.)
        let original = crypto::decrypt_bytes(&encrypted, &key, &nonce).unwrap();
        let mut bytes = encrypted.to_bytes().unwrap();
        if !bytes.is_empty() {
            flip(&mut bytes, index, bit);
            let tampered = Encrypted::from_bytes(&bytes);
            let garbled = crypto::decrypt_bytes(&tampered, &key, &nonce).unwrap();
            prop_assert_ne!(&garbled, &original);
        }
    }

    #[test]
    fn seal_then_unseal_holds_and_any_flipped_byte_is_rejected(
        from in any::<[u8; 32]>(), to in any::<[u8; 32]>(), message in json_value(),
        nonce in nonce_material(), index in any::<usize>(), bit in any::<u8>(),
    ) {
        let from = SealerSecret::from_bytes(from);
        let to = SealerSecret::from_bytes(to);
        let sealed = crypto::seal(&message, &from, &to.sealer_id(), &nonce);
        prop_assert_eq!(js(&crypto::unseal(&sealed, &to, &from.sealer_id(), &nonce).unwrap()), js(&message));
        let mut bytes = sealed.to_bytes().unwrap();
        flip(&mut bytes, index, bit);
        let tampered = Sealed::from_bytes(&bytes);
        prop_assert_eq!(
            crypto::unseal(&tampered, &to, &from.sealer_id(), &nonce).unwrap_err(),
            crypto::CryptoError::UnsealFailed
        );
    }

    #[test]
    fn seal_for_group_then_unseal_holds_and_any_flipped_byte_is_rejected(
        read_key in any::<[u8; 32]>(), message in json_value(), nonce in nonce_material(),
        index in any::<usize>(), bit in any::<u8>(),
    ) {
        let group_sealer = crypto::group_sealer_from_read_key(&KeySecret::from_bytes(read_key));
        let sealed = crypto::seal_for_group(&message, &group_sealer.sealer_id(), &nonce).unwrap();
        prop_assert_eq!(js(&crypto::unseal_for_group(&sealed, &group_sealer, &nonce).unwrap()), js(&message));
        let mut bytes = sealed.to_bytes().unwrap();
        flip(&mut bytes, index, bit);
        let tampered = SealedForGroup::from_bytes(&bytes);
        prop_assert!(crypto::unseal_for_group(&tampered, &group_sealer, &nonce).is_err());
    }

    #[test]
    fn ids_and_secrets_round_trip_through_their_strings(bytes in any::<[u8; 32]>(), short in any::<[u8; 12]>()) {
        let signer = SignerSecret::from_bytes(bytes);
        let text = signer.to_secret_string();
        prop_assert_eq!(SignerSecret::parse(&text).unwrap(), signer.clone());
        let id = signer.signer_id();
        prop_assert_eq!(id.to_string().parse::<crypto::SignerID>().unwrap(), id);
        let key_id = crypto::KeyID::from_bytes(&short);
        prop_assert_eq!(crypto::KeyID::parse(key_id.as_str()).unwrap(), key_id);
        let agent = crypto::agent_secret_from_seed(&bytes).unwrap();
        let agent_text = agent.to_secret_string();
        prop_assert_eq!(crypto::AgentSecret::parse(&agent_text).unwrap(), agent.clone());
        let agent_id = agent.agent_id();
        prop_assert_eq!(crypto::AgentID::parse(&agent_id.to_string()).unwrap(), agent_id);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(text in any::<String>(), prefix in prop::sample::select(vec![
        "", "signer_z", "sealer_z", "co_z", "key_z", "hash_z", "encrypted_U", "sealed_U",
        "sealedForGroup_U", "signature_z", "keySecret_z", "sealer_z1/signer_z",
    ])) {
        let input = format!("{prefix}{text}");
        let _ = crypto::SignerID::parse(&input);
        let _ = crypto::SealerID::parse(&input);
        let _ = crypto::CoID::parse(&input);
        let _ = crypto::KeyID::parse(&input);
        let _ = crypto::Hash::parse(&input);
        let _ = crypto::Signature::parse(&input);
        let _ = crypto::Encrypted::parse(&input);
        let _ = crypto::Sealed::parse(&input);
        let _ = crypto::SealedForGroup::parse(&input);
        let _ = crypto::KeySecret::parse(&input);
        let _ = crypto::AgentID::parse(&input);
        let _ = crypto::AgentSecret::parse(&input);
        let _ = crypto::SessionID::parse(&input);
    }
}

#[test]
fn js_stringify_prints_what_json_stringify_prints() {
    use jazz_req_core::crypto::stable_json::js_stringify;
    let cases = [
        (serde_json::json!(-0.0), "0"),
        (serde_json::json!(3.0), "3"),
        (serde_json::json!(1e21), "1e+21"),
        (serde_json::json!(0.1), "0.1"),
        (serde_json::json!(5e-324), "5e-324"),
        (
            serde_json::json!({"b": 1, "a": [true, null]}),
            r#"{"b":1,"a":[true,null]}"#,
        ),
        (serde_json::json!("encrypted_U\"x"), r#""encrypted_U\"x""#),
        (serde_json::json!("\u{2028}é\n"), "\"\u{2028}é\\n\""),
    ];
    for (value, expected) in cases {
        assert_eq!(js_stringify(&value), expected, "{value}");
    }
}

proptest! {
    /// An id's text is accepted exactly when `bs58` decodes it, and a fixed-length decode
    /// gives `bs58`'s bytes exactly when they have that length.
    #[test]
    fn base58_checks_agree_with_bs58(text in "[0-9A-Za-z_+/ ]{1,40}", bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        let decoded = bs58::decode(&text).into_vec();
        prop_assert_eq!(
            crypto::encoding::check_base58("Test", &text).is_ok(),
            decoded.is_ok()
        );
        let fixed = crypto::encoding::base58_decode_fixed::<19>("Test", &text);
        match &decoded {
            Ok(vec) if vec.len() == 19 => prop_assert_eq!(fixed.ok().map(|a| a.to_vec()), Some(vec.clone())),
            _ => prop_assert!(fixed.is_err()),
        }
        let encoded = bs58::encode(&bytes).into_string();
        let round = crypto::encoding::base58_decode_fixed::<19>("Test", &encoded);
        prop_assert_eq!(round.ok().map(|a| a.to_vec()), (bytes.len() == 19).then(|| bytes.clone()));
    }
}
