//! [`PendingStore`]: a store handed to the storage whose outcome is awaited later.

use tokio::sync::oneshot;

use super::{StorageError, StoreSummary};

/// A store submitted with [`Storage::submit_with_claims`](super::Storage::submit_with_claims):
/// queued (or already done); [`PendingStore::finished`] resolves once it is durable or failed.
/// Awaiting it holds no thread: the storage answers it when its commit is done.
#[must_use = "a submitted store is durable only once `finished` says so"]
pub struct PendingStore {
    outcome: Outcome,
}

enum Outcome {
    Done(Result<StoreSummary, StorageError>),
    Awaiting(oneshot::Receiver<Result<StoreSummary, StorageError>>),
}

impl PendingStore {
    /// A store that is already done (or failed).
    pub fn done(outcome: Result<StoreSummary, StorageError>) -> Self {
        Self {
            outcome: Outcome::Done(outcome),
        }
    }

    /// A store whose outcome comes on `answer` (a storage that stops before answering
    /// fails it with [`StorageError::WriterStopped`]).
    pub fn awaiting(answer: oneshot::Receiver<Result<StoreSummary, StorageError>>) -> Self {
        Self {
            outcome: Outcome::Awaiting(answer),
        }
    }

    /// Resolves once the store is durable (what it added) or failed.
    pub async fn finished(self) -> Result<StoreSummary, StorageError> {
        match self.outcome {
            Outcome::Done(outcome) => outcome,
            Outcome::Awaiting(answer) => answer.await.map_err(|_| StorageError::WriterStopped)?,
        }
    }
}

impl std::fmt::Debug for PendingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.outcome {
            Outcome::Done(Ok(_)) => "stored",
            Outcome::Done(Err(_)) => "failed",
            Outcome::Awaiting(_) => "waiting",
        };
        f.debug_struct("PendingStore")
            .field("state", &state)
            .finish()
    }
}
