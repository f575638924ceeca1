//! [`PendingStore`]: a store handed to the storage whose outcome is waited for later.

use super::{StorageError, StoreSummary};

/// A store submitted with [`Storage::submit_with_claims`](super::Storage::submit_with_claims):
/// queued (or already done); [`PendingStore::wait`] blocks until it is durable or failed.
#[must_use = "a submitted store is durable only once `wait` says so"]
pub struct PendingStore {
    outcome: Outcome,
}

enum Outcome {
    Done(Result<StoreSummary, StorageError>),
    Waiting(Box<dyn FnOnce() -> Result<StoreSummary, StorageError> + Send>),
}

impl PendingStore {
    /// A store that is already done (or failed).
    pub fn done(outcome: Result<StoreSummary, StorageError>) -> Self {
        Self {
            outcome: Outcome::Done(outcome),
        }
    }

    /// A store whose outcome `wait` blocks for.
    pub fn waiting(
        wait: impl FnOnce() -> Result<StoreSummary, StorageError> + Send + 'static,
    ) -> Self {
        Self {
            outcome: Outcome::Waiting(Box::new(wait)),
        }
    }

    /// Blocks until the store is durable (what it added) or failed.
    pub fn wait(self) -> Result<StoreSummary, StorageError> {
        match self.outcome {
            Outcome::Done(outcome) => outcome,
            Outcome::Waiting(wait) => wait(),
        }
    }
}

impl std::fmt::Debug for PendingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.outcome {
            Outcome::Done(Ok(_)) => "stored",
            Outcome::Done(Err(_)) => "failed",
            Outcome::Waiting(_) => "waiting",
        };
        f.debug_struct("PendingStore")
            .field("state", &state)
            .finish()
    }
}
