//! Refusing replays: every request id is claimed once, atomically, for as long as the request
//! could be accepted (its `createdAt` plus the expiry window). Claims live in memory (bounded:
//! expired ones are dropped) and in the worker's storage, so a restarted worker still refuses
//! a replay inside the window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::crypto::CoID;
use crate::storage::{Storage, StorageError};

/// The storage namespace of request-id claims.
pub const REQUEST_CLAIMS: &str = "jazz-req/request-id";

/// Claims request ids once.
pub trait ReplayGuard: Send + Sync + std::fmt::Debug {
    /// Claims `id` for a request acceptable until `valid_until_ms` (by the worker's clock,
    /// which shows `now_ms`). `Ok(true)` for the first claim; `Ok(false)` when `id` was
    /// claimed before and the claim has not expired. Of concurrent claims exactly one wins.
    fn claim(&self, id: &CoID, valid_until_ms: u64, now_ms: u64) -> Result<bool, StorageError>;
}

/// Above this many remembered ids, expired ones are dropped on the next claim.
const PRUNE_ABOVE: usize = 4096;

/// The default guard: an in-memory set of recent ids in front of the worker's storage.
#[derive(Debug)]
pub struct StoredReplayGuard {
    storage: Option<Arc<dyn Storage>>,
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
    /// A guard persisting claims in `storage` (or only in memory with `None`).
    pub fn new(storage: Option<Arc<dyn Storage>>) -> Self {
        Self {
            storage,
            recent: Mutex::new(RecentIds {
                ids: HashMap::new(),
                prune_at: PRUNE_ABOVE,
            }),
        }
    }

    /// How many ids are remembered in memory.
    pub fn remembered(&self) -> usize {
        self.recent.lock().map_or(0, |r| r.ids.len())
    }
}

impl ReplayGuard for StoredReplayGuard {
    fn claim(&self, id: &CoID, valid_until_ms: u64, now_ms: u64) -> Result<bool, StorageError> {
        {
            let mut recent = self.recent.lock().map_err(|_| StorageError::Poisoned)?;
            if recent.ids.len() > recent.prune_at {
                recent.ids.retain(|_, until| *until >= now_ms);
                recent.prune_at = (recent.ids.len() * 2).max(PRUNE_ABOVE);
            }
            if recent.ids.get(id).is_some_and(|until| *until >= now_ms) {
                return Ok(false);
            }
            recent.ids.insert(id.clone(), valid_until_ms);
        }
        let Some(storage) = &self.storage else {
            return Ok(true);
        };
        // The storage compares expiries with the system clock: keep the claim for as long
        // as the request stays acceptable by the worker's clock.
        let remaining = valid_until_ms.saturating_sub(now_ms);
        let expires_at = crate::cojson::clock::now_ms().saturating_add(remaining);
        match storage.claim(REQUEST_CLAIMS, id.as_str(), expires_at) {
            Ok(first) => Ok(first),
            Err(error) => {
                if let Ok(mut recent) = self.recent.lock() {
                    recent.ids.remove(id);
                }
                Err(error)
            }
        }
    }
}
