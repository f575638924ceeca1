//! Fresh random secrets and identifiers from the operating system's generator.

use super::encoding::base58_encode;
use super::error::CryptoError;
use super::ids::{KeyID, SessionAuthor, SessionID};
use super::secrets::{AgentSecret, KeySecret, SealerSecret, SignerSecret};

/// Fills an array with random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A new random read key and its random id (`newRandomKeySecret`).
pub fn new_random_key() -> Result<(KeyID, KeySecret), CryptoError> {
    let id = KeyID::from_bytes(&random_bytes::<12>()?);
    Ok((id, KeySecret::from_bytes(random_bytes::<32>()?)))
}

/// A new random agent (`newRandomAgentSecret`).
pub fn new_random_agent_secret() -> Result<AgentSecret, CryptoError> {
    Ok(AgentSecret {
        sealer: SealerSecret::from_bytes(random_bytes::<32>()?),
        signer: SignerSecret::from_bytes(random_bytes::<32>()?),
    })
}

/// A new random secret seed (32 bytes), from which an agent can be derived.
pub fn new_random_secret_seed() -> Result<zeroize::Zeroizing<[u8; 32]>, CryptoError> {
    random_bytes::<32>().map(zeroize::Zeroizing::new)
}

/// A new active session for `author` (`newRandomSessionID`: 8 random bytes).
pub fn new_random_session_id(author: &SessionAuthor) -> Result<SessionID, CryptoError> {
    Ok(SessionID::new_active(author, &random_bytes::<8>()?))
}

/// A new `uniqueness` value for a CoValue header (`"z"` + base58 of 12 random bytes).
pub fn new_uniqueness() -> Result<String, CryptoError> {
    Ok(format!("z{}", base58_encode(&random_bytes::<12>()?)))
}
