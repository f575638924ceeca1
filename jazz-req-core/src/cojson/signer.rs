//! Who signs a session: an agent signs for itself; an account's sessions are signed by the
//! agent named `initialAdmin` in the account's header (cojson `resolveAccountAgent`).

use std::collections::HashMap;

use super::error::SignerUnavailable;
use super::header::CoValueHeader;
use crate::crypto::{CoID, SessionAuthor, VerifyingKey};

/// The key that verifies sessions by `author`. For an account, `account_header` gives the
/// account's header if it is loaded.
pub fn session_signer<'a>(
    author: &SessionAuthor,
    account_header: impl FnOnce(&CoID) -> Option<&'a CoValueHeader>,
) -> Result<VerifyingKey, SignerUnavailable> {
    match author {
        SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
        SessionAuthor::Account(id) => {
            let header = account_header(id)
                .ok_or_else(|| SignerUnavailable::AccountNotLoaded(id.clone()))?;
            let agent = header
                .account_agent()
                .ok_or_else(|| SignerUnavailable::NotAnAccount(id.clone()))?;
            Ok(VerifyingKey::new(&agent.signer)?)
        }
    }
}

/// Decoded signer keys of known accounts, to resolve session signers without looking up and
/// decoding an account header each time.
#[derive(Clone, Debug, Default)]
pub struct AccountSigners {
    keys: HashMap<CoID, VerifyingKey>,
}

impl AccountSigners {
    /// No accounts known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers the account defined by `header` (which must be an account header) and
    /// returns its id.
    pub fn insert_account(&mut self, header: &CoValueHeader) -> Result<CoID, SignerUnavailable> {
        let id = header.id();
        let agent = header
            .account_agent()
            .ok_or_else(|| SignerUnavailable::NotAnAccount(id.clone()))?;
        self.keys
            .insert(id.clone(), VerifyingKey::new(&agent.signer)?);
        Ok(id)
    }

    /// Forgets the signing key of account `id` (its account left memory).
    pub fn remove(&mut self, id: &CoID) {
        self.keys.remove(id);
    }

    /// The signing key of account `id`, if known.
    pub fn key(&self, id: &CoID) -> Option<&VerifyingKey> {
        self.keys.get(id)
    }

    /// Whether the signing key of account `id` is known.
    pub fn contains(&self, id: &CoID) -> bool {
        self.keys.contains_key(id)
    }

    /// The key that verifies sessions by `author`.
    pub fn resolve(&self, author: &SessionAuthor) -> Result<VerifyingKey, SignerUnavailable> {
        match author {
            SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
            SessionAuthor::Account(id) => self
                .keys
                .get(id)
                .cloned()
                .ok_or_else(|| SignerUnavailable::AccountNotLoaded(id.clone())),
        }
    }
}
