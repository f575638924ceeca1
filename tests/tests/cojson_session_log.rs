//! Writing session logs, splitting them into content pieces at in-between signatures, and
//! importing them again: on a fresh `VerifiedCoValue`, and with the real cojson 0.20.19.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    CoValueHeader, CoValueType, ContentMessage, KnownState, Ruleset, SessionLog, SessionLogError,
    Transaction, TransactionError, VerifiedCoValue,
};
use jazz_req_core::crypto::{
    self, AgentSecret, SessionAuthor, SessionID, SignerSecret, VerifyingKey, random,
};
use jazz_req_tests::node::{js_dir, run_node_script};
use serde_json::{Value, json};

const KIB: usize = 1024;

fn agent(seed: u8) -> AgentSecret {
    crypto::agent_secret_from_seed(&[seed; 32]).unwrap()
}

fn agent_session(agent: &AgentSecret, suffix: u8) -> SessionID {
    SessionID::new_active(&SessionAuthor::Agent(agent.agent_id()), &[suffix; 8])
}

fn verifying_key(agent: &AgentSecret) -> VerifyingKey {
    VerifyingKey::new(&agent.agent_id().signer).unwrap()
}

/// A signer lookup for agent sessions only (no account is involved in these tests).
fn agents_only(
    author: &SessionAuthor,
) -> Result<VerifyingKey, jazz_req_core::cojson::SignerUnavailable> {
    match author {
        SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
        SessionAuthor::Account(id) => Err(
            jazz_req_core::cojson::SignerUnavailable::AccountNotLoaded(id.clone()),
        ),
    }
}

/// A CoMap `set` of `key` whose changes JSON is exactly `size` bytes long.
fn set_of_size(key: &str, size: usize) -> String {
    let empty = json!([{"op": "set", "key": key, "value": ""}]).to_string();
    let value = "x".repeat(size - empty.len());
    let changes = json!([{"op": "set", "key": key, "value": value}]).to_string();
    assert_eq!(changes.len(), size);
    changes
}

fn unsafe_map() -> VerifiedCoValue {
    let header =
        CoValueHeader::new_unique(CoValueType::CoMap, Ruleset::UnsafeAllowAll, None).unwrap();
    VerifiedCoValue::new(header)
}

/// A CoMap with one agent session of 7 trusting transactions of 40 KiB each.
fn seven_times_40_kib() -> (VerifiedCoValue, SessionID) {
    let writer = agent(1);
    let session = agent_session(&writer, 1);
    let mut map = unsafe_map();
    for i in 0..7u64 {
        let changes = set_of_size(&format!("k{i}"), 40 * KIB);
        map.append_own(
            &session,
            Transaction::new_trusting(changes, 1_700_000_000_000 + i, None),
            &writer.signer,
        )
        .unwrap();
    }
    (map, session)
}

fn shape(messages: &[ContentMessage], session: &SessionID) -> Vec<(usize, usize)> {
    messages
        .iter()
        .map(|m| {
            let content = m.session(session).unwrap();
            (content.after, content.new_transactions.len())
        })
        .collect()
}

#[test]
fn seven_40_kib_transactions_split_into_3_3_1_and_each_piece_verifies() {
    let (map, session) = seven_times_40_kib();
    let log = map.session(&session).unwrap();
    let checkpoints: Vec<usize> = log.checkpoints().map(|(i, _)| i).collect();
    assert_eq!(checkpoints, [2, 5]);

    let pieces: Vec<(usize, usize)> = log
        .pieces_since(0)
        .iter()
        .map(|p| (p.after, p.transactions.len()))
        .collect();
    assert_eq!(pieces, [(0, 3), (3, 3), (6, 1)]);

    let messages = map.new_content_since(None);
    assert_eq!(shape(&messages, &session), [(0, 3), (3, 3), (6, 1)]);
    assert!(messages[0].header.is_some());
    assert!(messages[1..].iter().all(|m| m.header.is_none()));
    let until = messages[0].expect_content_until.as_ref().unwrap();
    assert_eq!(until.get(&session), Some(&7));
    assert!(
        messages[1..]
            .iter()
            .all(|m| m.expect_content_until.is_none())
    );

    // Each piece verifies on a fresh receiver, in order, against the running hash.
    let (mut receiver, applied) = VerifiedCoValue::from_content(&messages[0], agents_only).unwrap();
    assert_eq!(applied.total(), 3);
    for message in &messages[1..] {
        let wire = ContentMessage::from_json_str(&message.to_json_string()).unwrap();
        let applied = receiver.apply_content(&wire, agents_only).unwrap();
        assert_eq!(applied.total(), message.new[0].1.new_transactions.len());
    }
    assert_eq!(receiver.known_state(), map.known_state());
    let received = receiver.session(&session).unwrap();
    assert_eq!(received.last_hash(), log.last_hash());
    // The receiver places the same checkpoints, so it re-sends the same pieces.
    assert_eq!(
        received.checkpoints().collect::<Vec<_>>(),
        log.checkpoints().collect::<Vec<_>>()
    );
    let resent: Vec<Value> = receiver
        .new_content_since(None)
        .iter()
        .map(ContentMessage::to_json)
        .collect();
    let sent: Vec<Value> = messages.iter().map(ContentMessage::to_json).collect();
    assert_eq!(resent, sent);
}

#[test]
fn checkpoints_count_utf8_bytes_as_the_cojson_core_does() {
    // 60,004 UTF-16 units but 120,004 bytes: the real library places a checkpoint after it.
    let writer = agent(7);
    let session = agent_session(&writer, 7);
    let mut map = unsafe_map();
    let changes = json!(["é".repeat(60_000)]).to_string();
    let tx = Transaction::new_trusting(changes, 1, None);
    assert_eq!((tx.size_utf16(), tx.size_bytes()), (60_004, 120_004));
    let signature = map.append_own(&session, tx, &writer.signer).unwrap();
    let log = map.session(&session).unwrap();
    assert_eq!(log.checkpoints().collect::<Vec<_>>(), [(0, &signature)]);
    assert_eq!(map.new_content_since(None).len(), 1);
}

#[test]
fn content_since_a_known_state_starts_where_the_peer_is() {
    let (map, session) = seven_times_40_kib();
    let mut known = KnownState::empty(map.id().clone());
    known.header = true;
    known.sessions.insert(session.clone(), 4);
    let messages = map.new_content_since(Some(&known));
    assert_eq!(shape(&messages, &session), [(4, 2), (6, 1)]);
    assert!(messages.iter().all(|m| m.header.is_none()));
    assert_eq!(
        messages[0]
            .expect_content_until
            .as_ref()
            .unwrap()
            .get(&session),
        Some(&7)
    );

    known.sessions.insert(session.clone(), 7);
    assert!(map.new_content_since(Some(&known)).is_empty());
    known.header = false;
    let only_header = map.new_content_since(Some(&known));
    assert_eq!(only_header.len(), 1);
    assert!(only_header[0].header.is_some() && only_header[0].new.is_empty());
}

#[test]
fn own_transactions_round_trip_through_a_fresh_verified_covalue() {
    let (alice, bob) = (agent(2), agent(3));
    let (alice_session, bob_session) = (agent_session(&alice, 2), agent_session(&bob, 3));
    let (key_id, key) = random::new_random_key().unwrap();
    let mut map = unsafe_map();
    let writes: [(&SessionID, &SignerSecret, &str, Option<&str>, bool); 5] = [
        (
            &alice_session,
            &alice.signer,
            r#"[{"op":"set","key":"a","value":1}]"#,
            None,
            false,
        ),
        (
            &bob_session,
            &bob.signer,
            r#"[{"op":"set","key":"b","value":"é ✓ \n"}]"#,
            Some(r#"{"fww":"b"}"#),
            false,
        ),
        (
            &alice_session,
            &alice.signer,
            r#"[{"op":"set","key":"c","value":[true,null]}]"#,
            None,
            true,
        ),
        (
            &alice_session,
            &alice.signer,
            r#"[{"op":"del","key":"a"}]"#,
            Some(r#"{"x":1}"#),
            true,
        ),
        (&bob_session, &bob.signer, r#"[]"#, None, false),
    ];
    for (i, (session, secret, changes, meta, private)) in writes.iter().enumerate() {
        let made_at = 1_700_000_000_000 + i as u64;
        let tx = if *private {
            map.new_private_transaction(session, changes, *meta, (&key_id, &key), made_at)
        } else {
            Transaction::new_trusting(*changes, made_at, meta.map(str::to_owned))
        };
        map.append_own(session, tx, secret).unwrap();
    }

    let messages = map.new_content_since(None);
    assert_eq!(messages.len(), 1);
    let wire = ContentMessage::from_json_str(&messages[0].to_json_string()).unwrap();
    let (mut copy, applied) = VerifiedCoValue::from_content(&wire, agents_only).unwrap();
    assert_eq!(applied.total(), writes.len());
    assert_eq!(copy.known_state(), map.known_state());
    let order: Vec<&SessionID> = copy.sessions().map(SessionLog::session_id).collect();
    assert_eq!(
        order,
        [&alice_session, &bob_session],
        "sessions keep first-seen order"
    );
    for (original, imported) in map.sessions().zip(copy.sessions()) {
        assert_eq!(original.transactions(), imported.transactions());
        assert_eq!(original.last_hash(), imported.last_hash());
        assert_eq!(original.last_signature(), imported.last_signature());
    }
    // Alice's private transactions (her 2nd and 3rd) decrypt on the receiver.
    let alice_log = copy.session(&alice_session).unwrap();
    for (index, write) in [(1, &writes[2]), (2, &writes[3])] {
        let tx = &alice_log.transactions()[index];
        let position = (copy.id(), &alice_session, index);
        assert_eq!(tx.changes_text(&key, position).unwrap(), write.2);
        assert_eq!(tx.meta_text(&key, position).unwrap().as_deref(), write.3);
    }

    // Importing the same content again adds nothing and checks no signature.
    let again = copy
        .apply_content(&wire, |_| panic!("no signer lookup for known content"))
        .unwrap();
    assert_eq!(again.total(), 0);
}

#[test]
fn known_transactions_are_skipped_and_the_rest_must_line_up() {
    let writer = agent(4);
    let session = agent_session(&writer, 4);
    let key = verifying_key(&writer);
    let mut source = SessionLog::new(session.clone());
    let mut signatures = Vec::new();
    let txs: Vec<Transaction> = (0..5)
        .map(|i| Transaction::new_trusting(format!("[{i}]"), 1_000 + i, None))
        .collect();
    for tx in &txs {
        signatures.push(source.append_own(tx.clone(), &writer.signer).unwrap());
    }

    let mut log = SessionLog::new(session.clone());
    assert_eq!(
        log.try_append(0, &txs[..3], &signatures[2], &key).unwrap(),
        3
    );
    // Fully known: nothing to do, and no signature check (this one is wrong).
    assert_eq!(
        log.try_append(0, &txs[..3], &signatures[0], &key).unwrap(),
        0
    );
    // Overlapping: the known part is dropped, the new part verifies on top of ours.
    assert_eq!(
        log.try_append(1, &txs[1..5], &signatures[4], &key).unwrap(),
        2
    );
    assert_eq!(log.last_hash(), source.last_hash());
    assert_eq!(log.len(), 5);

    // A gap is refused and changes nothing.
    let mut short = SessionLog::new(session.clone());
    let gap = short
        .try_append(2, &txs[2..], &signatures[4], &key)
        .unwrap_err();
    assert_eq!(
        gap,
        SessionLogError::Gap {
            session: Box::new(session.clone()),
            known: 0,
            after: 2
        }
    );
    assert!(short.is_empty());

    // A wrong signature is refused and changes nothing.
    let bad = short
        .try_append(0, &txs[..2], &signatures[0], &key)
        .unwrap_err();
    assert!(matches!(bad, SessionLogError::InvalidSignature { .. }));
    assert!(short.is_empty() && short.last_signature().is_none());

    // A verified append cannot be committed to a log that moved on.
    let pending = short
        .verify_append(0, &txs[..1], &signatures[0], &key)
        .unwrap()
        .unwrap();
    short
        .try_append(0, &txs[..2], &signatures[1], &key)
        .unwrap();
    assert!(matches!(
        short.commit(pending),
        Err(SessionLogError::Stale { .. })
    ));
    assert_eq!(short.len(), 2);
}

#[test]
fn transactions_over_1_mib_are_refused() {
    let writer = agent(5);
    let session = agent_session(&writer, 5);
    let mut map = unsafe_map();
    let changes = format!(r#"[{{"data":"{}"}}]"#, "x".repeat(KIB * KIB + 100));
    let error = map
        .append_own(
            &session,
            Transaction::new_trusting(changes, 1, None),
            &writer.signer,
        )
        .unwrap_err();
    assert_eq!(
        error,
        SessionLogError::Transaction(TransactionError::TooLarge {
            bytes: 1_048_689,
            limit: 1_048_576
        })
    );
    assert!(
        map.session(&session).is_none(),
        "no empty session is left behind"
    );
}

#[test]
fn cojson_reads_our_split_content() {
    // 7 transactions of 40 KiB that overwrite one key (so that read-pieces.mjs prints a small
    // result) and each set a small key of their own, then a small one with meta.
    let writer = agent(6);
    let session = agent_session(&writer, 6);
    let mut map = unsafe_map();
    for i in 0..7u64 {
        let small = json!({"op": "set", "key": format!("n{i}"), "value": i});
        let filler = "x".repeat(40 * KIB - 100);
        let changes = json!([{"op": "set", "key": "big", "value": filler}, small]).to_string();
        map.append_own(
            &session,
            Transaction::new_trusting(changes, 1_700_000_000_000 + i, None),
            &writer.signer,
        )
        .unwrap();
    }
    let last = r#"[{"op":"set","key":"big","value":"done ✓"}]"#;
    let meta = Some(r#"{"note":"meta"}"#.to_owned());
    map.append_own(
        &session,
        Transaction::new_trusting(last, 1_700_000_000_100, meta),
        &writer.signer,
    )
    .unwrap();
    let pieces: Vec<Value> = map
        .new_content_since(None)
        .iter()
        .map(ContentMessage::to_json)
        .collect();
    assert_eq!(pieces.len(), 3, "split at the in-between signatures");

    let input = json!({
        "agentSecret": agent(9).to_secret_string().as_str(),
        "pieces": pieces,
        "read": [map.id().as_str()],
    });
    let output = run_node_script(&js_dir().join("read-pieces.mjs"), &input.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let result: Value = serde_json::from_str(&output).unwrap();
    let read = &result[map.id().as_str()];
    assert!(
        read.get("importErrors").is_none(),
        "cojson rejected some content: {read}"
    );
    assert_eq!(read["type"], "comap", "{read}");
    let mut want = json!({"big": "done ✓"});
    for i in 0..7u64 {
        want[format!("n{i}")] = json!(i);
    }
    assert_eq!(read["value"], want);
}
