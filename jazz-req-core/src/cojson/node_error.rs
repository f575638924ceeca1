//! Errors of the local node: importing content and reading CoValues.

use std::sync::Arc;

use thiserror::Error;

use super::error::{ContentError, SignerUnavailable};
use crate::crypto::{CoID, CryptoError};
use crate::storage::StorageError;

/// A storage error inside a [`NodeError`], shared so that node errors stay cheap to clone.
/// Two are equal when they are the same failure or read the same.
#[derive(Debug, Clone, Error)]
#[error(transparent)]
pub struct StorageFailure(Arc<StorageError>);

impl StorageFailure {
    /// The storage error.
    pub fn error(&self) -> &StorageError {
        &self.0
    }
}

impl PartialEq for StorageFailure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for StorageFailure {}

impl From<StorageError> for NodeError {
    fn from(error: StorageError) -> Self {
        Self::Storage(StorageFailure(Arc::new(error)))
    }
}

/// Importing content or reading a CoValue failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NodeError {
    /// The content did not verify or does not fit the CoValue; nothing of it was applied.
    #[error("content for {id} rejected: {source}")]
    Content {
        /// The CoValue the content was for.
        id: CoID,
        /// Why it was rejected.
        #[source]
        source: ContentError,
    },
    /// Content for a CoValue we have no header for arrived without one.
    #[error("content for unknown CoValue {0} has no header")]
    UnknownCoValue(CoID),
    /// The CoValue is not loaded.
    #[error("CoValue {0} is not loaded")]
    NotLoaded(CoID),
    /// A CoValue this one needs (owner group, parent group, author account) is not loaded.
    #[error("CoValue {id} needs {missing}, which is not loaded")]
    MissingDependency {
        /// The CoValue being read.
        id: CoID,
        /// The dependency that is missing.
        missing: CoID,
    },
    /// The CoValue is not of the kind asked for (e.g. not a group).
    #[error("CoValue {id} is not a {expected}")]
    WrongKind {
        /// The CoValue.
        id: CoID,
        /// What it was expected to be.
        expected: &'static str,
    },
    /// The reader cannot find the key a transaction or value needs.
    #[error("no read key {key} for {id}")]
    NoReadKey {
        /// The CoValue (or group) the key belongs to.
        id: CoID,
        /// The key id.
        key: String,
    },
    /// A session signer could not be resolved.
    #[error(transparent)]
    Signer(#[from] SignerUnavailable),
    /// A cryptographic step failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The storage failed.
    #[error("storage failed")]
    Storage(#[source] StorageFailure),
    /// This node's account may not write to `id`: its role in the group that owns it does not
    /// allow it (every peer would find the transaction invalid and ignore it).
    #[error("this account may not write to {id}: its role in group {group} is {role}")]
    NotPermitted {
        /// The CoValue written to.
        id: CoID,
        /// The group that owns it.
        group: CoID,
        /// This account's role there (`none` when it is no member).
        role: &'static str,
    },
    /// A write could not be made.
    #[error("cannot write to {id}: {reason}")]
    CannotWrite {
        /// The CoValue.
        id: CoID,
        /// Why.
        reason: String,
    },
}
