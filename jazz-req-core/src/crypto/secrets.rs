//! Secret keys in their Jazz string forms: zeroized on drop, redacted in `Debug`.

use super::error::ParseError;
use super::ids::{AgentID, SealerID, SignerID};

/// An Ed25519 secret seed: `signerSecret_z…`. It keeps the expanded signing key (and its
/// public key), so signing does not derive them again each time; zeroized on drop (by
/// ed25519-dalek), redacted in `Debug`.
#[derive(Clone)]
pub struct SignerSecret(ed25519_dalek::SigningKey);

impl SignerSecret {
    /// The prefix of the Jazz string form.
    pub const PREFIX: &'static str = "signerSecret_z";

    /// The secret for a 32-byte seed.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        // The copy in `bytes` is wiped when it drops.
        let bytes = zeroize::Zeroizing::new(bytes);
        Self(ed25519_dalek::SigningKey::from_bytes(&bytes))
    }

    /// The 32-byte seed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Parses the Jazz string form, checking prefix, base58 and length.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let body = super::encoding::strip_prefix("SignerSecret", Self::PREFIX, text)?;
        let bytes = super::encoding::base58_decode_fixed::<32>("SignerSecret", body)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The Jazz string form. It is the secret itself: keep it out of logs.
    pub fn to_secret_string(&self) -> zeroize::Zeroizing<String> {
        let mut s = zeroize::Zeroizing::new(String::with_capacity(64));
        s.push_str(Self::PREFIX);
        s.push_str(&super::encoding::base58_encode(self.as_bytes()));
        s
    }
}

impl PartialEq for SignerSecret {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SignerSecret {}

impl std::fmt::Debug for SignerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignerSecret(<redacted>)")
    }
}

impl std::str::FromStr for SignerSecret {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
secret_base58!(
    /// An X25519 secret scalar (unclamped; clamped at use): `sealerSecret_z…`.
    SealerSecret, "sealerSecret_z"
);
secret_base58!(
    /// A 32-byte XSalsa20 read key: `keySecret_z…`.
    KeySecret, "keySecret_z"
);

impl SignerSecret {
    /// The Ed25519 public key of this secret.
    pub fn signer_id(&self) -> SignerID {
        SignerID::from_bytes(self.signing_key().verifying_key().to_bytes())
    }

    pub(crate) fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

impl SealerSecret {
    /// The X25519 public key of this secret.
    pub fn sealer_id(&self) -> SealerID {
        let public = x25519_dalek::PublicKey::from(&self.static_secret());
        SealerID::from_bytes(public.to_bytes())
    }

    pub(crate) fn static_secret(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(*self.as_bytes())
    }
}

/// An agent's secrets: `sealerSecret_z…/signerSecret_z…` (sealer first).
#[derive(Clone, PartialEq, Eq)]
pub struct AgentSecret {
    /// The X25519 secret used to seal and unseal key revelations.
    pub sealer: SealerSecret,
    /// The Ed25519 secret that signs session logs and requests.
    pub signer: SignerSecret,
}

impl AgentSecret {
    /// Parses `sealerSecret_z…/signerSecret_z…`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let (sealer, signer) = text.split_once('/').ok_or(ParseError::Malformed {
            kind: "AgentSecret",
            reason: "expected `sealerSecret_z…/signerSecret_z…`",
        })?;
        Ok(Self {
            sealer: SealerSecret::parse(sealer)?,
            signer: SignerSecret::parse(signer)?,
        })
    }

    /// The public identity of this agent.
    pub fn agent_id(&self) -> AgentID {
        AgentID {
            sealer: self.sealer.sealer_id(),
            signer: self.signer.signer_id(),
        }
    }

    /// The Jazz string form. It is the secret itself: keep it out of logs.
    pub fn to_secret_string(&self) -> zeroize::Zeroizing<String> {
        let mut s = zeroize::Zeroizing::new(String::with_capacity(128));
        s.push_str(&self.sealer.to_secret_string());
        s.push('/');
        s.push_str(&self.signer.to_secret_string());
        s
    }
}

impl std::fmt::Debug for AgentSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentSecret(<redacted>)")
    }
}

impl std::str::FromStr for AgentSecret {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
