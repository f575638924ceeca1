//! Claims recorded with content in one durable step, and read back when a worker starts:
//! both stores, and a worker restarted on its store refusing a replay it answered before.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;

use jazz_req_core::cojson::LocalNode;
use jazz_req_core::cojson::clock::now_ms;
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::request::{ReplayGuard, StoredReplayGuard};
use jazz_req_core::storage::{Claim, MemoryStorage, SqliteStorage, Storage};

fn claim(key: &str, expires_at_ms: u64) -> Claim {
    Claim {
        namespace: "test".into(),
        key: key.into(),
        expires_at_ms,
    }
}

fn check(storage: &dyn Storage) {
    let (mut node, _) = LocalNode::create_account(new_random_agent_secret().unwrap(), "A").unwrap();
    let group = node.create_group().unwrap();
    node.flush().unwrap();
    let content = node.get(&group).unwrap().new_content_since(None);
    let now = now_ms();
    let summary = storage
        .store_with_claims(
            &content,
            &[claim("live", now + 60_000), claim("old", now - 1)],
        )
        .unwrap();
    assert!(summary.covalues_created >= 1);
    assert!(
        storage.known_state(&group).unwrap().is_some(),
        "content stored"
    );
    let live = storage.live_claims("test", now).unwrap();
    assert_eq!(live, vec![("live".to_owned(), now + 60_000)]);
    // A claim recorded again keeps its first expiry; claims alone are fine.
    storage
        .store_with_claims(&[], &[claim("live", now + 120_000)])
        .unwrap();
    assert_eq!(storage.live_claims("test", now).unwrap()[0].1, now + 60_000);
    assert!(!storage.claim("test", "live", now + 1).unwrap());
    assert!(storage.live_claims("other", now).unwrap().is_empty());
}

#[test]
fn memory_store_records_claims_with_content() {
    check(&MemoryStorage::new());
}

#[test]
fn sqlite_store_records_claims_with_content_in_one_commit() {
    let dir = std::env::temp_dir().join(format!("jazz-req-claims-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let storage = SqliteStorage::open(dir.join("claims.sqlite")).unwrap();
    let before = storage.writer_stats();
    check(&storage);
    let after = storage.writer_stats();
    // Three writes (two store_with_claims, one claim) took at most three commits.
    assert!(
        after.commits - before.commits <= 3,
        "{before:?} → {after:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_guard_starts_from_the_live_claims_of_its_store() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let id = jazz_req_core::crypto::CoID::from_bytes(b"a request");
    let now = 1_000;
    let first = StoredReplayGuard::new(Some(&storage), now).unwrap();
    let recorded = first
        .claim(&id, now + 60_000, now)
        .unwrap()
        .expect("first claim");
    assert!(
        first.claim(&id, now + 60_000, now).unwrap().is_none(),
        "claimed in memory"
    );
    storage.store_with_claims(&[], &[recorded]).unwrap();
    // A new guard (a restarted worker) on the same store refuses the id.
    let restarted = StoredReplayGuard::new(Some(&storage), now + 5).unwrap();
    assert!(
        restarted
            .claim(&id, now + 60_000, now + 5)
            .unwrap()
            .is_none()
    );
    // ... until the window has passed.
    assert!(
        restarted
            .claim(&id, now + 200_000, now + 61_000)
            .unwrap()
            .is_some()
    );
}

/// A release nobody waits for costs no commit of its own: it rides with the next write, is
/// committed alone only after a quiet second, and is not lost when the store closes first.
#[test]
fn sqlite_background_releases_ride_with_the_next_commit() {
    let dir = std::env::temp_dir().join(format!("jazz-req-release-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("release.sqlite");
    let now = now_ms();
    let live = |storage: &SqliteStorage| -> Vec<String> {
        let mut keys: Vec<String> = storage
            .live_claims("test", now)
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        keys.sort();
        keys
    };
    {
        let storage = SqliteStorage::open(&path).unwrap();
        let claims: Vec<Claim> = ["a", "b", "c", "d"]
            .iter()
            .map(|key| claim(key, now + 60_000))
            .collect();
        storage.store_with_claims(&[], &claims).unwrap();
        let before = storage.writer_stats();

        // With the next write: one commit for both.
        storage.release_in_background("test", vec!["a".into()]);
        storage
            .store_with_claims(&[], &[claim("e", now + 60_000)])
            .unwrap();
        let after = storage.writer_stats();
        assert_eq!(after.commits - before.commits, 1, "{before:?} → {after:?}");
        assert_eq!(live(&storage), ["b", "c", "d", "e"]);

        // With no write after it: alone, after a quiet second.
        storage.release_in_background("test", vec!["b".into()]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while live(&storage).contains(&"b".to_owned()) {
            assert!(std::time::Instant::now() < deadline, "never released");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }

        // Closed before the writer got to it: committed on the way out.
        storage.release_in_background("test", vec!["c".into()]);
    }
    let reopened = SqliteStorage::open(&path).unwrap();
    assert_eq!(live(&reopened), ["d", "e"]);
    drop(reopened);
    std::fs::remove_dir_all(&dir).ok();
}
