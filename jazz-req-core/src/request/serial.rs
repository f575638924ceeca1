//! Per-CoValue serialisation of handlers: requests of routes declared `serialize = field`
//! that name the same CoValue run their handlers one at a time (in arrival order), so a
//! handler that reads, checks and then writes sees no other handler's writes in between.
//! Requests for other CoValues, and the checks before the handler, still run in parallel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// One async lock per CoValue that has a request in flight.
#[derive(Debug, Default)]
pub(crate) struct SerialLocks {
    locks: Mutex<LockTable>,
}

#[derive(Debug, Default)]
struct LockTable {
    by_key: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    /// Size after the last sweep: the table is swept of dead entries when it has doubled,
    /// so the work per request stays constant on average.
    swept_at: usize,
}

impl SerialLocks {
    /// Waits until no other request holds `key`, and holds it until the guard is dropped.
    pub(crate) async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = self.lock_for(key);
        lock.lock_owned().await
    }

    /// Holds every one of `keys` (each once), taking them in one order — the keys sorted — so
    /// that two requests holding overlapping sets can never wait for each other.
    pub(crate) async fn lock_all(&self, mut keys: Vec<&str>) -> Vec<OwnedMutexGuard<()>> {
        keys.sort_unstable();
        keys.dedup();
        let mut held = Vec::with_capacity(keys.len());
        for key in keys {
            held.push(self.lock(key).await);
        }
        held
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        // A poisoned table only means another thread panicked while holding it: the table is
        // still consistent (each operation is a single insert or retain), so keep using it.
        let mut table = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lock) = table.by_key.get(key).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        table.by_key.insert(key.to_owned(), Arc::downgrade(&lock));
        if table.by_key.len() > 2 * table.swept_at.max(64) {
            table.by_key.retain(|_, weak| weak.strong_count() > 0);
            table.swept_at = table.by_key.len();
        }
        lock
    }

    /// How many CoValues the table tracks (live or not yet swept).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.locks
            .lock()
            .map(|t| t.by_key.len())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::SerialLocks;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_holder_per_key_and_keys_do_not_block_each_other() {
        let locks = Arc::new(SerialLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let _held = locks.lock("co_zSame").await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(if i % 2 == 0 { 2 } else { 0 })).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        // Another key is not blocked by the queue above.
        let other = locks.lock("co_zOther").await;
        drop(other);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_key_sets_are_held_one_at_a_time_without_deadlock() {
        let locks = Arc::new(SerialLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                // Each holds the shared list and one event of its own, named in either order.
                let own = format!("co_zEvent{i}");
                let keys = if i % 2 == 0 {
                    vec![own.as_str(), "co_zList"]
                } else {
                    vec!["co_zList", own.as_str()]
                };
                let _held = locks.lock_all(keys).await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn released_keys_are_swept() {
        let locks = SerialLocks::default();
        for i in 0..1_000 {
            drop(locks.lock(&format!("co_z{i}")).await);
        }
        assert!(locks.tracked() <= 200, "{}", locks.tracked());
    }
}
