//! Agents from secret seeds, and the account header an agent's account is defined by.

use serde_json::{Value, json};

use super::error::CryptoError;
use super::hash::{blake3_hash_with_context, id_for_header};
use super::ids::{AgentID, CoID};
use super::secrets::{AgentSecret, SealerSecret, SignerSecret};

/// Length of a secret seed in bytes.
pub const SECRET_SEED_LENGTH: usize = 32;

/// `agentSecretFromSecretSeed`: sealer = BLAKE3(`"seal"` ‖ seed), signer = BLAKE3(`"sign"` ‖ seed).
pub fn agent_secret_from_seed(seed: &[u8]) -> Result<AgentSecret, CryptoError> {
    if seed.len() != SECRET_SEED_LENGTH {
        return Err(CryptoError::SeedLength(seed.len()));
    }
    Ok(AgentSecret {
        sealer: SealerSecret::from_bytes(blake3_hash_with_context(seed, b"seal")),
        signer: SignerSecret::from_bytes(blake3_hash_with_context(seed, b"sign")),
    })
}

/// The header of the account whose initial admin is `agent`
/// (`accountHeaderForInitialAgentSecret` in cojson).
pub fn account_header_for_agent(agent: &AgentID) -> Value {
    json!({
        "type": "comap",
        "ruleset": { "type": "group", "initialAdmin": agent.to_string() },
        "meta": { "type": "account" },
        "createdAt": null,
        "uniqueness": null,
    })
}

/// The id of the account whose initial admin is `agent`: a pure function of the agent.
pub fn account_id_for_agent(agent: &AgentID) -> CoID {
    id_for_header(&account_header_for_agent(agent))
}
