//! Secret keys in their Jazz string forms: zeroized on drop, redacted in `Debug`.

use super::error::ParseError;
use super::ids::{AgentID, SealerID, SignerID};

secret_base58!(
    /// An Ed25519 secret seed: `signerSecret_z…`.
    SignerSecret, "signerSecret_z"
);
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

    pub(crate) fn signing_key(&self) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(self.as_bytes())
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
