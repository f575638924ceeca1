//! Making a request's effects durable: what the node accepted and wrote goes to the worker's
//! store (with the replay claims) and to its sync server before the answer leaves.
//!
//! Two steps. [`RequestWorker::submit`] runs under the node's lock: it takes what is queued
//! and hands it to the store's writer and the sync connection, so both receive content in
//! the order it was taken (a later store never lands before an earlier one: no gaps). It also
//! takes every replay claim made since the previous submit: a request's claim is made (under
//! the same lock) before anything it writes, so whichever store first carries its writes —
//! its own, or a concurrent request's that took them along — carries its claim too, and a
//! restarted worker never finds a request's writes without its claim.
//! [`RequestWorker::settle`] then waits, without the lock, until the store committed and the
//! sync server acknowledged.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::error::JazzRequestError;
use super::worker::RequestWorker;
use crate::cojson::{ContentMessage, LocalNode};
use crate::storage::{Claim, PendingStore};
use crate::sync::PendingPush;

/// Stores between two purges of expired claims from the store.
const PURGE_EVERY: u64 = 4096;

/// What a request handed to the store and the sync server, not yet confirmed.
#[must_use = "a request answers only once what it submitted is settled"]
pub(crate) struct Submitted {
    /// What was taken (forgotten from memory again if the store fails).
    content: Arc<Vec<ContentMessage>>,
    /// The claims it carries (claimed again by the next submit if the store fails).
    claims: Vec<Claim>,
    stored: Option<PendingStore>,
    pushed: Option<Result<PendingPush, crate::sync::SyncError>>,
    /// How many stores had failed when the request was accepted.
    failures_seen: u64,
}

/// What a request in flight across a failed store wrote may have been in that store.
#[derive(Debug, thiserror::Error)]
#[error("a store failed while this request was in flight: what it wrote may not be stored")]
struct StoreFailedInFlight;

impl RequestWorker {
    /// Takes what is queued in `node` and the claims not yet submitted, and hands them to the
    /// store and the sync server (call it with the node's lock held; see the module docs).
    /// When even taking fails (the storage cannot say what it holds), everything queued is
    /// forgotten so that memory agrees with the store.
    pub(crate) fn submit(
        &self,
        node: &mut LocalNode,
        failures_seen: u64,
    ) -> Result<Submitted, JazzRequestError> {
        let shared = &self.shared;
        let content = node.take_unsaved().map_err(|error| {
            let forgotten = node.forget_unsaved();
            shared.store_failures.fetch_add(1, Ordering::SeqCst);
            tracing::error!(forgotten = forgotten.len(), "could not take what to store");
            JazzRequestError::internal_while("taking what to store", error)
        })?;
        let claims = std::mem::take(&mut *shared.unstored_claims());
        let stored = match &shared.storage {
            Some(storage) if !content.is_empty() || !claims.is_empty() => {
                Some(storage.submit_with_claims(content.clone(), claims.clone()))
            }
            _ => None,
        };
        let pushed = match shared.sync.get() {
            Some(sync) if !content.is_empty() => Some(sync.submit(content.clone())),
            _ => None,
        };
        Ok(Submitted {
            content: Arc::new(content),
            claims,
            stored,
            pushed,
            failures_seen,
        })
    }

    /// Waits, without the node's lock, until what was submitted is stored and acknowledged by
    /// the sync server. If the store fails, what it held leaves memory (see
    /// [`LocalNode::forget_unstored`]), its claims stay used (the handler ran and may have done
    /// what cannot be undone) and are recorded with the next store, and the request gets a
    /// 500. A request during which another store failed gets a 500 too: its writes may have
    /// been in that store.
    pub(crate) async fn settle(&self, submitted: Submitted) -> Result<(), JazzRequestError> {
        let Submitted {
            content,
            claims,
            stored,
            pushed,
            failures_seen,
        } = submitted;
        let local = async {
            let Some(pending) = stored else {
                return Ok(());
            };
            let outcome = tokio::task::spawn_blocking(move || pending.wait()).await;
            let error: Box<dyn std::error::Error + Send + Sync> = match outcome {
                Ok(Ok(_)) => {
                    self.purge_now_and_then();
                    return Ok(());
                }
                Ok(Err(error)) => Box::new(error),
                Err(error) => Box::new(error),
            };
            self.forget_unstored(&content, claims);
            Err(JazzRequestError::internal_while(
                "storing the request's changes",
                error,
            ))
        };
        let remote = async {
            let Some(pushed) = pushed else {
                return Ok(());
            };
            let acknowledged = match pushed {
                Ok(pending) => pending.acknowledged().await,
                Err(error) => Err(error),
            };
            acknowledged.map_err(|error| {
                tracing::error!(%error, "the sync server did not acknowledge the request's changes");
                JazzRequestError::new("The sync server did not acknowledge the changes", 503)
            })
        };
        let (local, remote) = tokio::join!(local, remote);
        local?;
        remote?;
        if self.shared.store_failures.load(Ordering::SeqCst) == failures_seen {
            Ok(())
        } else {
            Err(JazzRequestError::internal_while(
                "storing the request's changes",
                StoreFailedInFlight,
            ))
        }
    }

    /// After a failed store: what it held leaves memory, its claims go to the next store.
    fn forget_unstored(&self, content: &Arc<Vec<ContentMessage>>, claims: Vec<Claim>) {
        self.shared.unstored_claims().extend(claims);
        match self.shared.lock_node() {
            Ok(mut node) => {
                let forgotten = node.forget_unstored(content.as_ref().clone());
                self.shared.store_failures.fetch_add(1, Ordering::SeqCst);
                tracing::error!(
                    forgotten = forgotten.len(),
                    "storing failed: what was not stored left memory"
                );
            }
            Err(lock) => {
                tracing::error!(error = %lock, "storing failed and the node is unusable");
            }
        }
    }

    /// Every [`PURGE_EVERY`] stores, expired claims leave the store (amortised: the table
    /// holds about the last minute of requests, not every request ever).
    fn purge_now_and_then(&self) {
        let Some(storage) = self.shared.storage.clone() else {
            return;
        };
        let count = self.shared.stores.fetch_add(1, Ordering::Relaxed);
        if count.is_multiple_of(PURGE_EVERY) {
            tokio::task::spawn_blocking(move || {
                if let Err(error) = storage.purge_expired(crate::cojson::clock::now_ms()) {
                    tracing::warn!(%error, "could not purge expired claims");
                }
            });
        }
    }
}
