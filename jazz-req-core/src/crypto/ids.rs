//! Typed identifiers and public values in their Jazz string forms.

use serde::{Deserialize, Serialize};

use super::encoding::{check_base58, strip_prefix};
use super::error::ParseError;

fixed_base58_id!(
    /// An Ed25519 public key: `signer_z…`.
    SignerID, "signer_z", 32
);
fixed_base58_id!(
    /// An X25519 public key: `sealer_z…`.
    SealerID, "sealer_z", 32
);
pub use super::signature::Signature;
fixed_base58_id!(
    /// A BLAKE3 digest of stable JSON: `hash_z…`.
    Hash, "hash_z", 32
);
fixed_base58_id!(
    /// The first 19 bytes of a BLAKE3 digest of stable JSON: `shortHash_z…`.
    ShortHash, "shortHash_z", 19
);

base64_text!(
    /// XSalsa20 ciphertext without authentication: `encrypted_U…`.
    Encrypted, "encrypted_U"
);
base64_text!(
    /// A secretbox sealed from one agent to another: `sealed_U…` (`tag ‖ ciphertext`).
    Sealed, "sealed_U"
);
base64_text!(
    /// An anonymous box for a group sealer: `sealedForGroup_U…` (`ephemeral ‖ tag ‖ ciphertext`).
    SealedForGroup, "sealedForGroup_U"
);

/// Defines an identifier written as `prefix` + base58 of any length (cojson does not fix it).
macro_rules! open_base58_id {
    ($(#[$doc:meta])* $ty:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(String);

        impl $ty {
            /// The prefix of the Jazz string form.
            pub const PREFIX: &'static str = $prefix;

            /// Parses the Jazz string form, checking the prefix and that the rest is base58.
            pub fn parse(text: &str) -> Result<Self, ParseError> {
                let body = strip_prefix(stringify!($ty), $prefix, text)?;
                check_base58(stringify!($ty), body)?;
                Ok(Self(text.to_owned()))
            }

            /// Builds the id from raw bytes.
            pub fn from_bytes(bytes: &[u8]) -> Self {
                Self(format!("{}{}", $prefix, super::encoding::base58_encode(bytes)))
            }

            /// The Jazz string form.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            fn write_to(&self, out: &mut String) {
                out.push_str(&self.0);
            }
        }

        jazz_string_impls!($ty);
    };
}

open_base58_id!(
    /// The id of a CoValue: `co_z` + base58 of the first 19 bytes of its header's hash.
    CoID, "co_z"
);
open_base58_id!(
    /// The id of a symmetric read key: `key_z` + base58 of 12 random bytes.
    KeyID, "key_z"
);

impl CoID {
    /// The id of the CoValue whose header hashes to `hash` (`co_z` + the short-hash part).
    pub fn from_short_hash(hash: &ShortHash) -> Self {
        Self::from_bytes(hash.as_bytes())
    }
}

/// An agent's public identity: `sealer_z…/signer_z…` (sealer first).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentID {
    /// The agent's X25519 public key.
    pub sealer: SealerID,
    /// The agent's Ed25519 public key.
    pub signer: SignerID,
}

impl AgentID {
    /// Parses `sealer_z…/signer_z…`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let (sealer, signer) = text.split_once('/').ok_or(ParseError::Malformed {
            kind: "AgentID",
            reason: "expected `sealer_z…/signer_z…`",
        })?;
        Ok(Self {
            sealer: SealerID::parse(sealer)?,
            signer: SignerID::parse(signer)?,
        })
    }

    /// Whether `text` looks like an agent id (cojson's `isAgentID`).
    pub fn looks_like(text: &str) -> bool {
        text.starts_with("sealer_") && text.contains("/signer_")
    }

    fn write_to(&self, out: &mut String) {
        out.push_str(&self.sealer.to_string());
        out.push('/');
        out.push_str(&self.signer.to_string());
    }
}
jazz_string_impls!(AgentID);

/// Who writes in a session: an account (`co_z…`) or a bare agent (`sealer_z…/signer_z…`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum SessionAuthor {
    /// An account, whose signer is its header's `initialAdmin` agent.
    Account(CoID),
    /// An agent, which signs for itself.
    Agent(AgentID),
}

/// A session id: `<author>_session_z<base58>` (active) or `<author>_session_d<base58>$` (delete).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionID {
    text: String,
    author: SessionAuthor,
}

impl SessionID {
    const MARKER: &'static str = "_session_";

    /// Parses a session id, checking the author part and the suffix.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let malformed = |reason| ParseError::Malformed {
            kind: "SessionID",
            reason,
        };
        let (author, suffix) = text
            .split_once(Self::MARKER)
            .ok_or(malformed("missing `_session_`"))?;
        let author = if author.starts_with(CoID::PREFIX) {
            SessionAuthor::Account(CoID::parse(author)?)
        } else {
            SessionAuthor::Agent(AgentID::parse(author)?)
        };
        let body = if let Some(rest) = suffix.strip_prefix('z') {
            rest
        } else if let Some(rest) = suffix.strip_prefix('d') {
            rest.strip_suffix('$')
                .ok_or(malformed("a delete session must end with `$`"))?
        } else {
            return Err(malformed("expected `_session_z…` or `_session_d…$`"));
        };
        check_base58("SessionID", body)?;
        Ok(Self {
            text: text.to_owned(),
            author,
        })
    }

    /// A new active session for `author` with the given random suffix bytes (8 in cojson).
    pub fn new_active(author: &SessionAuthor, random: &[u8]) -> Self {
        let text = format!(
            "{author}{}z{}",
            Self::MARKER,
            super::encoding::base58_encode(random)
        );
        Self {
            text,
            author: author.clone(),
        }
    }

    /// The author of the session: the part before the first `_session`.
    pub fn author(&self) -> &SessionAuthor {
        &self.author
    }

    /// The author's text (an account or agent id), without encoding it again.
    pub fn author_str(&self) -> &str {
        self.text
            .split_once(Self::MARKER)
            .map_or(self.text.as_str(), |(author, _)| author)
    }

    /// Whether this is a delete session (ends with `$`).
    pub fn is_delete(&self) -> bool {
        self.text.ends_with('$')
    }

    /// The Jazz string form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn write_to(&self, out: &mut String) {
        out.push_str(&self.text);
    }
}
jazz_string_impls!(SessionID);

impl PartialOrd for SessionID {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SessionID {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl std::fmt::Display for SessionAuthor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Account(id) => id.fmt(f),
            Self::Agent(agent) => agent.fmt(f),
        }
    }
}

/// A transaction's position: its session and its index in that session's log.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TransactionID {
    /// The session the transaction belongs to.
    #[serde(rename = "sessionID")]
    pub session_id: SessionID,
    /// The 0-based index in that session's log.
    #[serde(rename = "txIndex")]
    pub tx_index: u32,
    /// The branch, for transactions of a branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<CoID>,
}
