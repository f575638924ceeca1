//! Checks of every entry of every section of a cojson `crypto.json` vectors file.
//!
//! Each `check_*` function takes the parsed file, checks all entries of its section and
//! returns how many it checked, or the first mismatch with the entry's index.

use jazz_req_core::crypto::{
    self, AgentSecret, Encrypted, KeyID, KeySecret, KeyWithID, Sealed, SealedForGroup, SealerID,
    SealerSecret, Signature, SignerID, SignerSecret, encoding,
};
use serde_json::Value;

use crate::fixtures::section;

/// A check of one section: the number of entries checked, or the first mismatch.
pub type SectionCheck = fn(&Value) -> Result<usize, String>;

/// Every section of `crypto.json` with the function that checks it.
pub const SECTIONS: &[(&str, SectionCheck)] = &[
    ("stableStringify", check_stable_stringify),
    ("secureHash", check_secure_hash),
    ("shortHash", check_short_hash),
    ("agents", check_agents),
    ("signatures", check_signatures),
    ("encryption", check_encryption),
    ("keySecretEncryption", check_key_secret_encryption),
    ("seals", check_seals),
    ("groupSealers", check_group_sealers),
    ("sealedForGroup", check_sealed_for_group),
    ("blake3WithContext", check_blake3_with_context),
];

/// Top-level keys of `crypto.json` that hold no entries.
pub const METADATA_KEYS: &[&str] = &["generatedWith"];

fn text<'a>(entry: &'a Value, key: &str) -> Result<&'a str, String> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("field {key:?} missing or not a string"))
}

fn field<'a>(entry: &'a Value, key: &str) -> Result<&'a Value, String> {
    entry
        .get(key)
        .ok_or_else(|| format!("field {key:?} missing"))
}

fn parsed<T, E: std::fmt::Display>(
    entry: &Value,
    key: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, String> {
    parse(text(entry, key)?).map_err(|e| format!("field {key:?}: {e}"))
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Runs `check` on every entry of `name`, naming the failing entry.
fn each(
    file: &Value,
    name: &str,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Result<usize, String> {
    let entries = section(file, name)?;
    for (index, entry) in entries.iter().enumerate() {
        check(entry).map_err(|e| format!("{name}[{index}]: {e}"))?;
    }
    Ok(entries.len())
}

/// `stableStringify`: value → exact text.
pub fn check_stable_stringify(file: &Value) -> Result<usize, String> {
    each(file, "stableStringify", |entry| {
        let got = crypto::stable_stringify(field(entry, "value")?);
        expect_eq("stable string", got.as_str(), text(entry, "string")?)
    })
}

/// `secureHash`: value → `hash_z…`.
pub fn check_secure_hash(file: &Value) -> Result<usize, String> {
    each(file, "secureHash", |entry| {
        let got = crypto::secure_hash(field(entry, "value")?).to_string();
        expect_eq("secureHash", got.as_str(), text(entry, "hash")?)
    })
}

/// `shortHash`: value → `shortHash_z…`.
pub fn check_short_hash(file: &Value) -> Result<usize, String> {
    each(file, "shortHash", |entry| {
        let got = crypto::short_hash(field(entry, "value")?).to_string();
        expect_eq("shortHash", got.as_str(), text(entry, "hash")?)
    })
}

/// `agents`: secret seed → agent secret, ids, account header and account id.
pub fn check_agents(file: &Value) -> Result<usize, String> {
    each(file, "agents", |entry| {
        let seed = parsed(entry, "secretSeedBase58", |s| {
            encoding::base58_decode("seed", s)
        })?;
        let secret = crypto::agent_secret_from_seed(&seed).map_err(|e| e.to_string())?;
        expect_eq(
            "agent secret",
            secret.to_secret_string().as_str(),
            text(entry, "agentSecret")?,
        )?;
        let parsed_secret = parsed(entry, "agentSecret", AgentSecret::parse)?;
        expect_eq("parsed agent secret", &parsed_secret, &secret)?;
        let agent = secret.agent_id();
        expect_eq(
            "agent id",
            agent.to_string().as_str(),
            text(entry, "agentID")?,
        )?;
        expect_eq(
            "signer id",
            agent.signer.to_string().as_str(),
            text(entry, "signerID")?,
        )?;
        expect_eq(
            "sealer id",
            agent.sealer.to_string().as_str(),
            text(entry, "sealerID")?,
        )?;
        let header = crypto::account_header_for_agent(&agent);
        expect_eq("account header", &header, field(entry, "accountHeader")?)?;
        expect_eq(
            "account header stable",
            crypto::stable_stringify(&header).as_str(),
            text(entry, "accountHeaderStable")?,
        )?;
        expect_eq(
            "account id",
            crypto::account_id_for_agent(&agent).to_string().as_str(),
            text(entry, "accountID")?,
        )
    })
}

/// `signatures`: deterministic Ed25519 over stable JSON, and its verification.
pub fn check_signatures(file: &Value) -> Result<usize, String> {
    each(file, "signatures", |entry| {
        let secret = parsed(entry, "signerSecret", SignerSecret::parse)?;
        let signer = parsed(entry, "signerID", SignerID::parse)?;
        let message = field(entry, "message")?;
        let want = parsed(entry, "signature", Signature::parse)?;
        expect_eq("signer id", secret.signer_id(), signer)?;
        expect_eq(
            "message stable",
            crypto::stable_stringify(message).as_str(),
            text(entry, "messageStable")?,
        )?;
        expect_eq("signature", crypto::sign(&secret, message), want)?;
        crypto::verify(&want, message, &signer).map_err(|e| format!("verify: {e}"))
    })
}

/// `encryption`: XSalsa20 of stable JSON with a derived nonce, and back.
pub fn check_encryption(file: &Value) -> Result<usize, String> {
    each(file, "encryption", |entry| {
        let key = parsed(entry, "keySecret", KeySecret::parse)?;
        let nonce = field(entry, "nOnceMaterial")?;
        let value = field(entry, "value")?;
        expect_eq(
            "nonce material stable",
            crypto::stable_stringify(nonce).as_str(),
            text(entry, "nOnceMaterialStable")?,
        )?;
        expect_eq(
            "value stable",
            crypto::stable_stringify(value).as_str(),
            text(entry, "valueStable")?,
        )?;
        let want = parsed(entry, "encrypted", Encrypted::parse)?;
        expect_eq(
            "encrypted",
            crypto::encrypt(value, &key, nonce),
            want.clone(),
        )?;
        let back = crypto::decrypt(&want, &key, nonce).map_err(|e| format!("decrypt: {e}"))?;
        expect_eq("decrypted", &back, value)
    })
}

/// `keySecretEncryption`: a read key encrypted for another key, and back.
pub fn check_key_secret_encryption(file: &Value) -> Result<usize, String> {
    each(file, "keySecretEncryption", |entry| {
        let to_encrypt = field(entry, "toEncrypt")?;
        let encrypting = field(entry, "encrypting")?;
        let inner_secret = parsed(to_encrypt, "secret", KeySecret::parse)?;
        let inner_id = parsed(to_encrypt, "id", KeyID::parse)?;
        let outer_secret = parsed(encrypting, "secret", KeySecret::parse)?;
        let outer_id = parsed(encrypting, "id", KeyID::parse)?;
        expect_eq(
            "encryptedID",
            inner_id.as_str(),
            text(entry, "encryptedID")?,
        )?;
        expect_eq(
            "encryptingID",
            outer_id.as_str(),
            text(entry, "encryptingID")?,
        )?;
        let outer = KeyWithID {
            id: &outer_id,
            secret: &outer_secret,
        };
        let inner = KeyWithID {
            id: &inner_id,
            secret: &inner_secret,
        };
        let want = parsed(entry, "encrypted", Encrypted::parse)?;
        expect_eq(
            "encrypted key",
            crypto::encrypt_key_secret(&inner, &outer),
            want.clone(),
        )?;
        let back = crypto::decrypt_key_secret(&want, &inner_id, &outer)
            .map_err(|e| format!("decrypt: {e}"))?;
        expect_eq("decrypted key", &back, &inner_secret)
    })
}

/// `seals`: agent-to-agent boxes, deterministic for given nonce material, and back.
pub fn check_seals(file: &Value) -> Result<usize, String> {
    each(file, "seals", |entry| {
        let from_secret = parsed(entry, "fromSealerSecret", SealerSecret::parse)?;
        let from_id = parsed(entry, "fromSealerID", SealerID::parse)?;
        let to_secret = parsed(entry, "toSealerSecret", SealerSecret::parse)?;
        let to_id = parsed(entry, "toSealerID", SealerID::parse)?;
        expect_eq("from sealer id", from_secret.sealer_id(), from_id)?;
        expect_eq("to sealer id", to_secret.sealer_id(), to_id)?;
        let nonce = field(entry, "nOnceMaterial")?;
        let message = field(entry, "message")?;
        let want = parsed(entry, "sealed", Sealed::parse)?;
        expect_eq(
            "sealed",
            crypto::seal(message, &from_secret, &to_id, nonce),
            want.clone(),
        )?;
        let opened = crypto::unseal(&want, &to_secret, &from_id, nonce)
            .map_err(|e| format!("unseal: {e}"))?;
        expect_eq("unsealed", &opened, message)
    })
}

/// `groupSealers`: the sealer derived from a read key.
pub fn check_group_sealers(file: &Value) -> Result<usize, String> {
    each(file, "groupSealers", |entry| {
        let read_key = parsed(entry, "readKeySecret", KeySecret::parse)?;
        let derived = crypto::group_sealer_from_read_key(&read_key);
        expect_eq(
            "group sealer secret",
            derived.to_secret_string().as_str(),
            text(entry, "secret")?,
        )?;
        expect_eq(
            "group sealer id",
            derived.sealer_id().to_string().as_str(),
            text(entry, "publicKey")?,
        )
    })
}

/// `sealedForGroup`: JS-made anonymous boxes open; our own boxes of the same message open too.
pub fn check_sealed_for_group(file: &Value) -> Result<usize, String> {
    each(file, "sealedForGroup", |entry| {
        let secret = parsed(entry, "groupSealerSecret", SealerSecret::parse)?;
        let id = parsed(entry, "groupSealerID", SealerID::parse)?;
        expect_eq("group sealer id", secret.sealer_id(), id)?;
        let nonce = field(entry, "nOnceMaterial")?;
        let message = field(entry, "message")?;
        let sealed = parsed(entry, "sealed", SealedForGroup::parse)?;
        let opened = crypto::unseal_for_group(&sealed, &secret, nonce)
            .map_err(|e| format!("unseal JS box: {e}"))?;
        expect_eq("unsealed", &opened, message)?;
        let ours = crypto::seal_for_group(message, &id, nonce).map_err(|e| e.to_string())?;
        let reopened = crypto::unseal_for_group(&ours, &secret, nonce)
            .map_err(|e| format!("unseal own box: {e}"))?;
        expect_eq("own box unsealed", &reopened, message)
    })
}

/// `blake3WithContext`: BLAKE3 of `context ‖ data`.
pub fn check_blake3_with_context(file: &Value) -> Result<usize, String> {
    each(file, "blake3WithContext", |entry| {
        let data = parsed(entry, "dataBase58", |s| encoding::base58_decode("data", s))?;
        let context = text(entry, "context")?;
        let got = crypto::blake3_hash_with_context(&data, context.as_bytes());
        expect_eq(
            "hash",
            encoding::base58_encode(&got).as_str(),
            text(entry, "hashBase58")?,
        )
    })
}

/// Checks every section of the file, and that the file has no section this code does not
/// know (a new kind of vector must get a check, not be skipped). Returns `(section, count)`.
pub fn check_all(file: &Value) -> Result<Vec<(&'static str, usize)>, String> {
    let object = file.as_object().ok_or("crypto.json is not an object")?;
    for key in object.keys() {
        let known =
            METADATA_KEYS.contains(&key.as_str()) || SECTIONS.iter().any(|(name, _)| name == key);
        if !known {
            return Err(format!("crypto.json has a section no test checks: {key:?}"));
        }
    }
    SECTIONS
        .iter()
        .map(|(name, check)| check(file).map(|count| (*name, count)))
        .collect()
}
