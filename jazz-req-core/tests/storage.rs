//! The storage layer: fixtures stored and loaded back into a node on both backends, restarts,
//! long sessions with checkpoints, group commit under concurrency, claims, corrupt rows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod storage_support;

use std::sync::{Arc, Barrier};
use std::time::Instant;

use jazz_req_core::cojson::clock::now_ms;
use jazz_req_core::cojson::{ContentMessage, KnownState, Transaction, VerifiedCoValue};
use jazz_req_core::storage::{MemoryStorage, SqliteStorage, Storage, StorageError};
use storage_support::*;

const KIB: usize = 1024;

fn store_fixtures(storage: &dyn Storage) -> Vec<ContentMessage> {
    let covalues = vectors("covalues.json");
    let pieces = fixture_pieces(&covalues);
    for piece in &pieces {
        storage.store(std::slice::from_ref(piece)).unwrap();
    }
    pieces
}

/// Loads every stored CoValue into a fresh node as Alice and checks the expected values.
fn check_loaded_fixtures(storage: &dyn Storage, pieces: &[ContentMessage]) {
    let covalues = vectors("covalues.json");
    let crypto_vectors = vectors("crypto.json");
    let ids = storage.ids().unwrap();
    assert_eq!(ids, pieces.iter().map(|p| p.id.clone()).collect::<Vec<_>>());
    let mut node = alice_node(&covalues, &crypto_vectors);
    let mut all = Vec::new();
    for id in &ids {
        let loaded = storage.load(id).unwrap().unwrap();
        assert!(loaded[0].header.is_some());
        // A one-piece CoValue comes back as the very message that was stored, byte for byte
        // (private transactions included).
        let original = pieces.iter().find(|p| &p.id == id).unwrap();
        if loaded.len() == 1 {
            assert_eq!(loaded[0].to_json_string(), original.to_json_string());
        }
        assert_eq!(
            storage.known_state(id).unwrap().unwrap(),
            original.known_state()
        );
        all.extend(loaded);
    }
    // Content whose dependencies come later waits for them, as in cojson.
    import_all(&mut node, all);
    let checked = check_expected(&node, &covalues);
    assert!(checked >= 5, "only {checked} expectations checked");
}

#[test]
fn fixtures_round_trip_through_memory_storage() {
    let storage = MemoryStorage::new();
    let pieces = store_fixtures(&storage);
    check_loaded_fixtures(&storage, &pieces);
    // Storing the same content again adds nothing.
    let again = storage.store(&pieces).unwrap();
    assert_eq!((again.covalues_created, again.transactions_added), (0, 0));
}

#[test]
fn fixtures_round_trip_through_sqlite_and_survive_a_restart() {
    let db = TempDb::new("fixtures");
    let pieces;
    let before: Vec<(KnownState, String)>;
    {
        let storage = SqliteStorage::open(db.path()).unwrap();
        pieces = store_fixtures(&storage);
        check_loaded_fixtures(&storage, &pieces);
        let again = storage.store(&pieces).unwrap();
        assert_eq!((again.covalues_created, again.transactions_added), (0, 0));
        before = snapshot(&storage);
    }
    let reopened = SqliteStorage::open(db.path()).unwrap();
    assert_eq!(snapshot(&reopened), before);
    check_loaded_fixtures(&reopened, &pieces);
}

/// Every stored CoValue's known state and loaded content text.
fn snapshot(storage: &dyn Storage) -> Vec<(KnownState, String)> {
    storage
        .ids()
        .unwrap()
        .iter()
        .map(|id| {
            let text: Vec<String> = storage
                .load(id)
                .unwrap()
                .unwrap()
                .iter()
                .map(ContentMessage::to_json_string)
                .collect();
            (storage.known_state(id).unwrap().unwrap(), text.join("\n"))
        })
        .collect()
}

fn seven_times_40_kib(store_each: Option<&dyn Storage>) -> VerifiedCoValue {
    let (agent, session) = writer(1);
    let mut map = unsafe_map();
    for i in 0..7u64 {
        let changes = set_of_size(&format!("k{i}"), 40 * KIB);
        map.append_own(
            &session,
            Transaction::new_trusting(changes, 1_700_000_000_000 + i, None),
            &agent.signer,
        )
        .unwrap();
        if let Some(storage) = store_each {
            storage.store_value(&map).unwrap();
        }
    }
    map
}

/// Loads `map` back from `storage`: split as `newContentSince` splits it, and every piece
/// verifies on a fresh receiver.
fn check_long_session(storage: &dyn Storage, map: &VerifiedCoValue) {
    let (_, session) = writer(1);
    let loaded = storage.load(map.id()).unwrap().unwrap();
    let shape: Vec<(usize, usize)> = loaded
        .iter()
        .map(|m| {
            let content = m.session(&session).unwrap();
            (content.after, content.new_transactions.len())
        })
        .collect();
    assert_eq!(shape, [(0, 3), (3, 3), (6, 1)]);
    assert_eq!(
        loaded[0]
            .expect_content_until
            .as_ref()
            .unwrap()
            .get(&session),
        Some(&7)
    );
    let wire = |m: &ContentMessage| ContentMessage::from_json_str(&m.to_json_string()).unwrap();
    let (mut receiver, applied) =
        VerifiedCoValue::from_content(&wire(&loaded[0]), agents_only).unwrap();
    assert_eq!(applied.total(), 3);
    for message in &loaded[1..] {
        let applied = receiver.apply_content(&wire(message), agents_only).unwrap();
        assert_eq!(applied.total(), message.new[0].1.new_transactions.len());
    }
    assert_eq!(receiver.known_state(), map.known_state());
    assert_eq!(
        receiver.session(&session).unwrap().last_hash(),
        map.session(&session).unwrap().last_hash()
    );
    // The same pieces the writer itself would send.
    let sent: Vec<String> = map
        .new_content_since(None)
        .iter()
        .map(ContentMessage::to_json_string)
        .collect();
    let loaded: Vec<String> = loaded.iter().map(ContentMessage::to_json_string).collect();
    assert_eq!(loaded, sent);
}

#[test]
fn a_long_session_with_checkpoints_round_trips_on_both_storages() {
    let db = TempDb::new("long");
    let sqlite = SqliteStorage::open(db.path()).unwrap();
    let memory = MemoryStorage::new();
    let map = seven_times_40_kib(None);
    for storage in [&sqlite as &dyn Storage, &memory] {
        let summary = storage.store_value(&map).unwrap();
        assert_eq!(
            (summary.covalues_created, summary.transactions_added),
            (1, 7)
        );
        check_long_session(storage, &map);
    }
    // Stored one transaction at a time, as a node persists its own writes.
    let db_each = TempDb::new("long-each");
    let sqlite_each = SqliteStorage::open(db_each.path()).unwrap();
    let memory_each = MemoryStorage::new();
    for storage in [&sqlite_each as &dyn Storage, &memory_each] {
        let map = seven_times_40_kib(Some(storage));
        check_long_session(storage, &map);
    }
    drop(sqlite_each);
    let reopened = SqliteStorage::open(db_each.path()).unwrap();
    let id = reopened.ids().unwrap().remove(0);
    assert_eq!(
        reopened
            .known_state(&id)
            .unwrap()
            .unwrap()
            .sessions
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [7]
    );
}

#[test]
fn content_that_cannot_be_stored_is_refused_and_changes_nothing() {
    let db = TempDb::new("refused");
    let sqlite = SqliteStorage::open(db.path()).unwrap();
    let memory = MemoryStorage::new();
    let map = seven_times_40_kib(None);
    let pieces = map.new_content_since(None);
    for storage in [&sqlite as &dyn Storage, &memory] {
        // No header for a CoValue that is not stored.
        let error = storage.store(&pieces[1..2]).unwrap_err();
        assert!(matches!(error, StorageError::MissingHeader(_)), "{error}");
        // A gap: the first piece, then the third; all or nothing.
        let error = storage
            .store(&[pieces[0].clone(), pieces[2].clone()])
            .unwrap_err();
        assert!(
            matches!(
                error,
                StorageError::Gap {
                    stored: 3,
                    after: 6,
                    ..
                }
            ),
            "{error}"
        );
        assert!(storage.ids().unwrap().is_empty());
        // The storage still takes good content afterwards.
        storage.store(&pieces).unwrap();
        check_long_session(storage, &map);
    }
}

#[test]
fn concurrent_stores_from_8_threads_all_land_with_fewer_commits() {
    let db = TempDb::new("concurrent");
    let storage = Arc::new(SqliteStorage::open(db.path()).unwrap());
    let per_thread = 50;
    let content: Vec<Vec<Vec<ContentMessage>>> = (0..8u8)
        .map(|t| {
            let (agent, session) = writer(10 + t);
            (0..per_thread)
                .map(|n| small_map(&agent, &session, n))
                .collect()
        })
        .collect();
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = content
        .clone()
        .into_iter()
        .map(|values| {
            let (storage, barrier) = (Arc::clone(&storage), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                for value in values {
                    storage.store(&value).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = storage.writer_stats();
    println!(
        "8 threads x {per_thread} stores: {} writes in {} commits",
        stats.writes, stats.commits
    );
    assert_eq!(stats.writes, 8 * per_thread);
    assert!(stats.commits <= stats.writes);
    let ids = storage.ids().unwrap();
    assert_eq!(ids.len(), 8 * per_thread as usize);
    for value in content.iter().flatten() {
        let known = storage.known_state(&value[0].id).unwrap().unwrap();
        assert_eq!(known, value[0].known_state());
    }
}

fn check_claims(storage: &dyn Storage) {
    let now = now_ms();
    assert!(storage.claim("replay", "co_zA", now + 60_000).unwrap());
    assert!(!storage.claim("replay", "co_zA", now + 60_000).unwrap());
    // Namespaces are separate.
    assert!(storage.claim("other", "co_zA", now + 60_000).unwrap());
    assert!(storage.claim("replay", "co_zB", now + 120_000).unwrap());
    // Past the first expiry only that claim is purged, and the key can be claimed again.
    assert_eq!(storage.purge_expired(now + 90_000).unwrap(), 2);
    assert!(storage.claim("replay", "co_zA", now + 60_000).unwrap());
    assert!(!storage.claim("replay", "co_zB", now + 60_000).unwrap());
    // An expired claim that was not purged yet counts as absent.
    assert!(
        storage
            .claim("replay", "co_zC", now.saturating_sub(1))
            .unwrap()
    );
    assert!(storage.claim("replay", "co_zC", now + 60_000).unwrap());
    assert!(!storage.claim("replay", "co_zC", now + 60_000).unwrap());
}

fn concurrent_claims(storage: Arc<dyn Storage>) -> usize {
    let barrier = Arc::new(Barrier::new(16));
    let expires = now_ms() + 60_000;
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (storage, barrier) = (Arc::clone(&storage), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                storage.claim("replay", "co_zSame", expires).unwrap()
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&won| won)
        .count()
}

#[test]
fn claims_are_once_until_expiry_on_both_storages() {
    let memory = MemoryStorage::new();
    check_claims(&memory);
    assert_eq!(concurrent_claims(Arc::new(MemoryStorage::new())), 1);

    let db = TempDb::new("claims");
    {
        let sqlite = SqliteStorage::open(db.path()).unwrap();
        check_claims(&sqlite);
    }
    let reopened = SqliteStorage::open(db.path()).unwrap();
    assert!(
        !reopened
            .claim("replay", "co_zA", now_ms() + 60_000)
            .unwrap()
    );
    assert!(
        !reopened
            .claim("replay", "co_zB", now_ms() + 60_000)
            .unwrap()
    );
    // Purged before the restart.
    assert!(reopened.claim("other", "co_zA", now_ms() + 60_000).unwrap());
    drop(reopened);
    let shared: Arc<dyn Storage> = Arc::new(SqliteStorage::open(db.path()).unwrap());
    assert_eq!(concurrent_claims(shared), 1);
}

/// Stores the fixtures in a fresh database, runs `sql` (with `?1` the first session's row
/// and `?2` its CoValue's id) behind the storage's back, and loads that CoValue.
fn load_after(sql: &str) -> StorageError {
    let db = TempDb::new("corrupt");
    let storage = SqliteStorage::open(db.path()).unwrap();
    store_fixtures(&storage);
    let raw = rusqlite::Connection::open(db.path()).unwrap();
    let (session_row, id): (i64, String) = raw
        .query_row(
            "SELECT s.row_id, c.id FROM sessions s JOIN covalues c ON c.row_id = s.covalue
             ORDER BY s.row_id LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        raw.execute(sql, rusqlite::params![session_row, id])
            .unwrap(),
        1,
        "{sql}"
    );
    let id = jazz_req_core::crypto::CoID::parse(&id).unwrap();
    let error = storage.load(&id).unwrap_err();
    // The other CoValues still load.
    for other in storage.ids().unwrap().iter().filter(|other| *other != &id) {
        assert!(storage.load(other).unwrap().is_some());
    }
    error
}

#[test]
fn corrupt_rows_give_typed_errors() {
    let cases = [
        (
            "transactions",
            "UPDATE transactions SET tx = '{\"changes\": [garbage' WHERE session = ?1 AND idx = 0 AND ?2 != ''",
        ),
        (
            "transactions",
            "UPDATE transactions SET tx = '{\"privacy\":\"secret\",\"madeAt\":1}' WHERE session = ?1 AND idx = 0 AND ?2 != ''",
        ),
        (
            "transactions",
            "UPDATE transactions SET tx = '[]' WHERE session = ?1 AND idx = 1 AND ?2 != ''",
        ),
        (
            "transactions",
            "UPDATE transactions SET idx = 7 WHERE session = ?1 AND idx = 0 AND ?2 != ''",
        ),
        (
            "sessions",
            "DELETE FROM transactions WHERE session = ?1 AND idx = (SELECT MAX(idx) FROM transactions WHERE session = ?1) AND ?2 != ''",
        ),
        (
            "sessions",
            "UPDATE sessions SET last_signature = 'signature_zNot!' WHERE row_id = ?1 AND ?2 != ''",
        ),
        (
            "sessions",
            "UPDATE sessions SET session_id = 'nonsense' WHERE row_id = ?1 AND ?2 != ''",
        ),
        (
            "sessions",
            "UPDATE sessions SET tx_count = -1 WHERE row_id = ?1 AND ?2 != ''",
        ),
        (
            "covalues",
            "UPDATE covalues SET header = '{\"type\":\"comap\"}' WHERE id = ?2 AND ?1 > 0",
        ),
        (
            "covalues",
            "UPDATE covalues SET header = 'not json' WHERE id = ?2 AND ?1 > 0",
        ),
    ];
    for (table, sql) in cases {
        let error = load_after(sql);
        assert!(
            matches!(&error, StorageError::Corrupt { table: t, .. } if *t == table),
            "{sql}: {error}"
        );
    }
    // A database from a newer schema is refused.
    let db = TempDb::new("newer");
    drop(SqliteStorage::open(db.path()).unwrap());
    let raw = rusqlite::Connection::open(db.path()).unwrap();
    raw.execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    let error = SqliteStorage::open(db.path()).unwrap_err();
    assert!(
        matches!(error, StorageError::UnsupportedSchema { found: 99, .. }),
        "{error}"
    );
}

/// Not an assertion: the time to store 1,000 small CoValues one by one, and from 8 threads
/// (`cargo test -p jazz-req-core --test storage -- --nocapture timing`).
#[test]
fn timing_of_1000_small_covalues() {
    let (agent, session) = writer(42);
    let values: Vec<Vec<ContentMessage>> =
        (0..1000).map(|n| small_map(&agent, &session, n)).collect();

    let db = TempDb::new("timing-serial");
    let storage = SqliteStorage::open(db.path()).unwrap();
    let started = Instant::now();
    for value in &values {
        storage.store(value).unwrap();
    }
    let serial = started.elapsed();
    let serial_stats = storage.writer_stats();
    drop(storage);

    let db = TempDb::new("timing-threads");
    let storage = Arc::new(SqliteStorage::open(db.path()).unwrap());
    let chunks: Vec<Vec<Vec<ContentMessage>>> = values.chunks(125).map(<[_]>::to_vec).collect();
    let started = Instant::now();
    let threads: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let storage = Arc::clone(&storage);
            std::thread::spawn(move || {
                chunk
                    .iter()
                    .for_each(|value| storage.store(value).map(drop).unwrap())
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let threaded = started.elapsed();
    let threaded_stats = storage.writer_stats();

    let memory = MemoryStorage::new();
    let started = Instant::now();
    values
        .iter()
        .for_each(|value| memory.store(value).map(drop).unwrap());
    let in_memory = started.elapsed();

    println!(
        "1000 small CoValues: SQLite one by one {serial:?} ({} commits), from 8 threads {threaded:?} ({} commits); memory {in_memory:?}",
        serial_stats.commits, threaded_stats.commits
    );
    assert_eq!(storage.ids().unwrap().len(), 1000);
}
