//! Refusing replays: every request id is claimed once, atomically, for as long as the request
//! could be accepted (its `createdAt` plus the expiry window).
//!
//! Claims are decided in memory (one mutex, no I/O), and recorded in the worker's store in the
//! same commit as the request's writes ([`Storage::store_with_claims`]) before its answer
//! leaves: one durable step per request, taken off the runtime's threads and shared with
//! concurrent requests by the store's group commit. A worker reads the live claims of its
//! store when it starts, so a restarted worker still refuses a replay inside the window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::crypto::CoID;
use crate::storage::{Claim, Storage, StorageError};

/// The storage namespace of request-id claims.
pub const REQUEST_CLAIMS: &str = "jazz-req/request-id";

/// Claims request ids once.
pub trait ReplayGuard: Send + Sync + std::fmt::Debug {
    /// Claims `id` for a request acceptable until `valid_until_ms` (by the worker's clock,
    /// which shows `now_ms`). `Ok(Some(claim))` for the first claim — the caller records
    /// `claim` durably with the request's writes; `Ok(None)` when `id` was claimed before and
    /// the claim has not expired, or when the request itself has expired (`valid_until_ms` is
    /// before `now_ms`). Of concurrent claims exactly one wins.
    fn claim(
        &self,
        id: &CoID,
        valid_until_ms: u64,
        now_ms: u64,
    ) -> Result<Option<Claim>, StorageError>;
}

/// Above this many remembered ids, expired ones are dropped on the next claim.
const PRUNE_ABOVE: usize = 4096;

/// The default guard: the recent ids in memory, seeded from the worker's store.
#[derive(Debug)]
pub struct StoredReplayGuard {
    /// Claimed ids with the (worker-clock) time after which they no longer matter.
    recent: Mutex<RecentIds>,
}

/// Recent ids, and the size at which expired ones are dropped next (it doubles with the
/// live ids, so dropping stays amortised constant time per claim).
#[derive(Debug)]
struct RecentIds {
    ids: HashMap<CoID, u64>,
    prune_at: usize,
}

impl StoredReplayGuard {
    /// A guard that starts from the live claims of `storage` (none without one); `now_ms`
    /// is the worker's clock.
    pub fn new(storage: Option<&Arc<dyn Storage>>, now_ms: u64) -> Result<Self, StorageError> {
        let mut ids = HashMap::new();
        if let Some(storage) = storage {
            // Stored expiries are by the system clock; memory keeps the worker's.
            let system_now = crate::cojson::clock::now_ms();
            for (key, expires_at) in storage.live_claims(REQUEST_CLAIMS, system_now)? {
                if let Ok(id) = CoID::parse(&key) {
                    ids.insert(id, now_ms.saturating_add(expires_at - system_now));
                }
            }
        }
        let prune_at = (ids.len() * 2).max(PRUNE_ABOVE);
        Ok(Self {
            recent: Mutex::new(RecentIds { ids, prune_at }),
        })
    }

    /// How many ids are remembered in memory.
    pub fn remembered(&self) -> usize {
        self.recent.lock().map_or(0, |r| r.ids.len())
    }
}

impl ReplayGuard for StoredReplayGuard {
    fn claim(
        &self,
        id: &CoID,
        valid_until_ms: u64,
        now_ms: u64,
    ) -> Result<Option<Claim>, StorageError> {
        if valid_until_ms < now_ms {
            // An expired request is never claimed: its claim would be expired on arrival, and
            // a later copy would take it as free.
            return Ok(None);
        }
        let mut recent = self.recent.lock().map_err(|_| StorageError::Poisoned)?;
        if recent.ids.len() > recent.prune_at {
            recent.ids.retain(|_, until| *until >= now_ms);
            recent.prune_at = (recent.ids.len() * 2).max(PRUNE_ABOVE);
        }
        if recent.ids.get(id).is_some_and(|until| *until >= now_ms) {
            return Ok(None);
        }
        recent.ids.insert(id.clone(), valid_until_ms);
        // The store compares expiries with the system clock: keep the claim for as long as
        // the request stays acceptable by the worker's clock.
        let remaining = valid_until_ms.saturating_sub(now_ms);
        Ok(Some(Claim {
            namespace: REQUEST_CLAIMS.to_owned(),
            key: id.as_str().to_owned(),
            expires_at_ms: crate::cojson::clock::now_ms().saturating_add(remaining),
        }))
    }
}
