//! Content verified (and decoded) without its node, then imported under the node's lock
//! (`cojson::prepared`): the node ends exactly as a plain import leaves it, whatever the
//! order of the pieces; what changed in the node between the two steps is verified again;
//! and content verified after other transactions, or with another key than its signer's,
//! never commits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use jazz_req_core::cojson::{
    CoValueHeader, CoValueType, ContentError, ContentMessage, ImportOutcome, LocalNode, Privacy,
    ResolveQuery, Ruleset, SessionLog, SessionLogError, SignerUnavailable, Transaction,
    VerifiedCoValue, VerifiedContent, permissions_role::Role,
};
use jazz_req_core::crypto::{
    self, AgentSecret, CoID, SessionAuthor, SessionID, VerifyingKey,
    random::new_random_agent_secret,
};
use serde_json::json;

fn account(name: &str) -> (LocalNode, CoID) {
    LocalNode::create_account(new_random_agent_secret().unwrap(), name).unwrap()
}

/// A worker and a client that knows it.
fn worker_and_client() -> ((LocalNode, CoID), (LocalNode, CoID)) {
    let (worker, worker_id) = account("Worker");
    let (mut client, client_id) = account("Client");
    for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
        client.import(piece).unwrap();
    }
    ((worker, worker_id), (client, client_id))
}

/// The pieces of a request envelope (with its group and the client's account): its values
/// and `pads` more transactions of 3,000 characters each, so that a large one is split into
/// several pieces, each after the one before.
fn request_pieces(client: &mut LocalNode, worker: &CoID, pads: usize) -> Vec<ContentMessage> {
    let envelope = client
        .batch(|node| {
            let group = node.create_group()?;
            node.add_member(&group, worker.as_str(), Role::Writer)?;
            let map = node.create_map(&group, &[("name", json!("Ada"))], Privacy::Private)?;
            for i in 0..pads {
                let pad = char::from(b'a' + u8::try_from(i % 26).unwrap())
                    .to_string()
                    .repeat(3_000);
                node.map_set(&map, "pad", json!(pad), Privacy::Private)?;
            }
            Ok(map)
        })
        .unwrap();
    client.export(&envelope, &ResolveQuery::Value).unwrap()
}

/// The pieces with their CoValues in reverse order (each CoValue's own pieces keep theirs):
/// dependencies come after what depends on them.
fn reversed_covalues(pieces: Vec<ContentMessage>) -> Vec<ContentMessage> {
    let mut order: Vec<CoID> = Vec::new();
    for piece in &pieces {
        if !order.contains(&piece.id) {
            order.push(piece.id.clone());
        }
    }
    order
        .iter()
        .rev()
        .flat_map(|id| pieces.iter().filter(move |p| &p.id == id).cloned())
        .collect()
}

/// Prepares `pieces` for `node` (basis with the node, the rest without), decoding ahead.
fn prepare(node: &LocalNode, pieces: Vec<ContentMessage>) -> jazz_req_core::cojson::PreparedImport {
    let mut prepared = node.import_basis(&pieces).prepare(pieces);
    prepared.decode_ahead();
    prepared
}

/// Both nodes hold the CoValues of `pieces` alike: same sessions, lengths and hashes, same
/// reads, same undecryptable transactions.
fn assert_same(a: &LocalNode, b: &LocalNode, pieces: &[ContentMessage]) {
    for piece in pieces {
        let (x, y) = (a.get(&piece.id).unwrap(), b.get(&piece.id).unwrap());
        assert_eq!(x.known_state(), y.known_state(), "{}", piece.id);
        for log in x.sessions() {
            let other = y.session(log.session_id()).unwrap();
            assert_eq!(log.last_hash(), other.last_hash());
            assert_eq!(log.last_signature(), other.last_signature());
            assert_eq!(
                log.checkpoints().collect::<Vec<_>>(),
                other.checkpoints().collect::<Vec<_>>()
            );
        }
        assert_eq!(a.read(&piece.id).ok(), b.read(&piece.id).ok());
        assert_eq!(
            a.undecryptable(&piece.id).ok(),
            b.undecryptable(&piece.id).ok()
        );
    }
    assert_eq!(a.pending().len(), b.pending().len());
}

/// The bodies the cases below import: small and large, the client's first request (its
/// account is new to the worker) and a later one, pieces in export order and reversed
/// (content waiting for its group, then taken when it arrives).
fn cases() -> Vec<(&'static str, usize, bool)> {
    vec![
        ("small", 0, false),
        ("small, reversed", 0, true),
        ("large", 200, false),
        ("large, reversed", 200, true),
    ]
}

#[test]
fn prepared_pieces_leave_the_node_as_a_plain_import_does() {
    for (name, pads, reversed) in cases() {
        let ((worker, worker_id), (mut client, _)) = worker_and_client();
        let mut plain = LocalNode::new(worker.reader().clone());
        let mut prepared_node = LocalNode::new(worker.reader().clone());
        let own = worker.export(&worker_id, &ResolveQuery::Value).unwrap();
        for piece in own {
            plain.import(piece.clone()).unwrap();
            prepared_node.import(piece).unwrap();
        }
        // First request (the account is new), then a second one (the account is known).
        for round in 0..2 {
            let mut pieces = request_pieces(&mut client, &worker_id, pads);
            if reversed {
                pieces = reversed_covalues(pieces);
            }
            if pads > 0 {
                assert!(pieces.len() > 3, "{name}: {} pieces", pieces.len());
            }
            let prepared = prepare(&prepared_node, pieces.clone());
            assert!(
                prepared.messages().iter().all(|m| m.is_verified()),
                "{name}, round {round}: every piece is verified beforehand"
            );
            let outcomes = prepared_node.import_all_prepared(prepared).unwrap();
            for piece in pieces.clone() {
                plain.import(piece).unwrap();
            }
            assert_eq!(outcomes.len(), pieces.len());
            if reversed {
                assert!(
                    outcomes
                        .iter()
                        .any(|o| matches!(o, ImportOutcome::Queued { .. })),
                    "{name}: the envelope waits for its group"
                );
            }
            assert_same(&prepared_node, &plain, &pieces);
            assert!(prepared_node.pending().is_empty(), "{name}");
        }
    }
}

#[test]
fn what_was_decoded_ahead_is_taken_by_the_node() {
    let ((worker, worker_id), (mut client, _)) = worker_and_client();
    let pieces = request_pieces(&mut client, &worker_id, 100);
    let envelope = pieces.last().unwrap().id.clone();
    for ahead in [false, true] {
        let mut node = LocalNode::new(worker.reader().clone());
        for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
            node.import(piece).unwrap();
        }
        let mut prepared = node.import_basis(&pieces).prepare(pieces.clone());
        assert!(
            prepared.private_bytes() > 100 * 3_000,
            "{}",
            prepared.private_bytes()
        );
        if ahead {
            prepared.decode_ahead();
        }
        node.import_all_prepared(prepared).unwrap();
        let value = node.get(&envelope).unwrap();
        let (decoded, total) = value.sessions().fold((0, 0), |(d, t), log| {
            (d + log.decoded_count(), t + log.len())
        });
        assert_eq!(total, 101);
        assert_eq!(
            decoded,
            if ahead { total } else { 0 },
            "decoded ahead: {ahead}"
        );
        assert!(node.undecryptable(&envelope).unwrap().is_empty());
        assert_eq!(node.read(&envelope).unwrap().value["name"], "Ada");
    }
}

#[test]
fn what_the_node_got_meanwhile_is_verified_again() {
    for (name, pads, reversed) in cases() {
        let ((worker, worker_id), (mut client, _)) = worker_and_client();
        let mut node = LocalNode::new(worker.reader().clone());
        for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
            node.import(piece).unwrap();
        }
        let mut pieces = request_pieces(&mut client, &worker_id, pads);
        if reversed {
            pieces = reversed_covalues(pieces);
        }
        let prepared = prepare(&node, pieces.clone());
        // Between the two steps, another copy of the same content got in.
        let mut reference = LocalNode::new(worker.reader().clone());
        for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
            reference.import(piece).unwrap();
        }
        for piece in pieces.clone() {
            node.import(piece.clone()).unwrap();
            reference.import(piece).unwrap();
        }
        let outcomes = node.import_all_prepared(prepared).unwrap();
        for outcome in outcomes {
            let ImportOutcome::Applied(applied) = outcome else {
                panic!("{name}: nothing waits any more");
            };
            assert_eq!(applied.total(), 0, "{name}: nothing is new");
        }
        assert_same(&node, &reference, &pieces);

        // And when only part of it got in meanwhile (the first piece of each CoValue), the
        // rest commits after it, exactly once.
        let mut pieces = request_pieces(&mut client, &worker_id, pads);
        if reversed {
            pieces = reversed_covalues(pieces);
        }
        let prepared = prepare(&node, pieces.clone());
        let mut seen = Vec::new();
        for piece in &pieces {
            if piece.header.is_some() && !seen.contains(&piece.id) {
                seen.push(piece.id.clone());
                node.import(piece.clone()).unwrap();
            }
        }
        node.import_all_prepared(prepared).unwrap();
        for piece in pieces.clone() {
            reference.import(piece).unwrap();
        }
        assert_same(&node, &reference, &pieces);
    }
}

#[test]
fn tampered_pieces_are_left_to_the_node_which_refuses_them_as_before() {
    let ((worker, worker_id), (mut client, _)) = worker_and_client();
    let pieces = request_pieces(&mut client, &worker_id, 40);
    for index in 0..pieces.len() {
        let mut tampered = pieces.clone();
        let Some((_, content)) = tampered[index].new.first_mut() else {
            continue;
        };
        let Some(Transaction::Private { made_at, .. }) = content.new_transactions.last_mut() else {
            continue;
        };
        *made_at += 1;
        let mut plain = LocalNode::new(worker.reader().clone());
        let mut node = LocalNode::new(worker.reader().clone());
        for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
            plain.import(piece.clone()).unwrap();
            node.import(piece).unwrap();
        }
        let prepared = prepare(&node, tampered.clone());
        assert!(!prepared.messages()[index].is_verified(), "piece {index}");
        let error = node.import_all_prepared(prepared).unwrap_err();
        let expected = tampered
            .into_iter()
            .enumerate()
            .find_map(|(i, piece)| plain.import(piece).err().map(|e| (i, e)))
            .unwrap();
        assert_eq!(error.0, expected.0);
        assert_eq!(error.1.to_string(), expected.1.to_string());
    }
}

fn agent(seed: u8) -> AgentSecret {
    crypto::agent_secret_from_seed(&[seed; 32]).unwrap()
}

fn agents_only(author: &SessionAuthor) -> Result<VerifyingKey, SignerUnavailable> {
    match author {
        SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
        SessionAuthor::Account(id) => Err(SignerUnavailable::AccountNotLoaded(id.clone())),
    }
}

#[test]
fn an_append_verified_after_other_transactions_does_not_commit() {
    // Two logs of one session with as many transactions but different ones (its signer
    // signed two histories): what was verified on one does not commit to the other.
    let writer = agent(7);
    let session = SessionID::new_active(&SessionAuthor::Agent(writer.agent_id()), &[7; 8]);
    let key = VerifyingKey::new(&writer.agent_id().signer).unwrap();
    let mut ours = SessionLog::new(session.clone());
    let mut theirs = SessionLog::new(session.clone());
    ours.append_own(Transaction::new_trusting("[1]", 1, None), &writer.signer)
        .unwrap();
    theirs
        .append_own(Transaction::new_trusting("[2]", 1, None), &writer.signer)
        .unwrap();
    let mut source = theirs.clone();
    let next = Transaction::new_trusting("[3]", 2, None);
    let signature = source.append_own(next.clone(), &writer.signer).unwrap();
    let base = theirs.base();
    let append = base
        .verify_append(1, &[next], &signature, &key)
        .unwrap()
        .unwrap();
    assert!(matches!(
        ours.commit(append.clone()),
        Err(SessionLogError::Forked { .. })
    ));
    assert_eq!(ours.len(), 1);
    assert_eq!(theirs.commit(append).unwrap(), 1);
    assert_eq!(theirs.last_hash(), source.last_hash());
}

#[test]
fn content_verified_with_another_key_than_its_signers_does_not_commit() {
    // Content of a session of account A, signed by B's agent: it "verifies" only with a
    // lookup that gives B's key for A, and then does not commit where A's key signs.
    let (node_a, account_a) = account("A");
    let signer_b = agent(9);
    let header =
        CoValueHeader::new_unique(CoValueType::CoMap, Ruleset::UnsafeAllowAll, None).unwrap();
    let mut source = VerifiedCoValue::new(header);
    let session = SessionID::new_active(&SessionAuthor::Account(account_a.clone()), &[9; 8]);
    source
        .append_own(
            &session,
            Transaction::new_trusting(r#"[{"op":"set","key":"a","value":1}]"#, 1, None),
            &signer_b.signer,
        )
        .unwrap();
    let message = source.new_content_since(None).remove(0);
    let key_b = VerifyingKey::new(&signer_b.agent_id().signer).unwrap();
    let lying = |_: &SessionAuthor| Ok(key_b.clone());
    let verified = VerifiedContent::verify_against(&message, |_| None, lying).unwrap();

    let key_a = node_a.account_signer(&account_a).unwrap().clone();
    let mut target =
        VerifiedCoValue::with_id(&message.id, message.header.clone().unwrap()).unwrap();
    let refused = target
        .commit_verified(&message, verified, |_| Ok(key_a.clone()))
        .unwrap_err();
    assert!(
        matches!(refused, ContentError::OtherSigner { .. }),
        "{refused}"
    );
    assert!(target.sessions().next().is_none(), "nothing committed");
    // Verified with the right key, it does not verify at all.
    let wrong = target
        .apply_content(&message, |_| Ok(key_a.clone()))
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            ContentError::Session(SessionLogError::InvalidSignature { .. })
        ),
        "{wrong}"
    );
    assert!(target.apply_content(&message, agents_only).is_err());
}
