//! `LocalNode::take_unsaved`: what a worker stores and pushes after a request. A CoValue that
//! arrived in a request and was then written to (an envelope getting its `$handled` mark) is
//! in it once — every transaction exactly once, in an order a fresh node imports — with or
//! without a storage attached (a worker that is only a sync peer queues its imports and
//! pushes the same content), and in one message with the mark.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::collections::HashMap;
use std::sync::Arc;

use jazz_req_core::cojson::{
    ContentMessage, LocalNode, Privacy, ResolveQuery, permissions_role::Role,
};
use jazz_req_core::crypto::{CoID, random::new_random_agent_secret};
use jazz_req_core::storage::MemoryStorage;
use serde_json::json;

fn account(name: &str) -> (LocalNode, CoID) {
    LocalNode::create_account(new_random_agent_secret().unwrap(), name).unwrap()
}

/// How many times each transaction (CoValue, session, index) is in `content`.
fn transaction_counts(content: &[ContentMessage]) -> HashMap<(CoID, String, usize), usize> {
    let mut counts = HashMap::new();
    for message in content {
        for (session, new) in &message.new {
            for offset in 0..new.new_transactions.len() {
                let key = (message.id.clone(), session.to_string(), new.after + offset);
                *counts.entry(key).or_default() += 1;
            }
        }
    }
    counts
}

fn check_taken_once(with_storage: bool) {
    let (mut worker, worker_id) = account("Worker");
    if with_storage {
        worker.attach_storage(Arc::new(MemoryStorage::new()));
        worker.flush().unwrap();
    } else {
        worker.queue_imports(true);
    }
    let (mut sender, _) = account("Sender");
    for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
        sender.import(piece).unwrap();
    }
    // The sender's envelope: a group where the worker writes, a map in it.
    let envelope = sender
        .batch(|node| {
            let group = node.create_group()?;
            node.add_member(&group, worker_id.as_str(), Role::Writer)?;
            node.add_member(&group, "everyone", Role::Reader)?;
            node.create_map(&group, &[("text", json!("hi"))], Privacy::Private)
        })
        .unwrap();
    let pieces = sender.export(&envelope, &ResolveQuery::Value).unwrap();
    let _ = worker.take_unsaved().unwrap();

    for piece in pieces {
        worker.import(piece).unwrap();
    }
    worker
        .map_set(
            &envelope,
            "$handled",
            json!(worker_id.as_str()),
            Privacy::Private,
        )
        .unwrap();
    let taken = worker.take_unsaved().unwrap();

    let counts = transaction_counts(&taken);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "taken more than once: {twice:?}");
    let envelope_txs = counts.keys().filter(|(id, _, _)| *id == envelope).count();
    assert_eq!(envelope_txs, 2, "the sender's value and the worker's mark");
    let envelope_messages = taken.iter().filter(|m| m.id == envelope).count();
    assert_eq!(
        envelope_messages, 1,
        "the mark rides with the imported envelope"
    );

    // What was taken is complete and in order: a node that knows only the worker imports it.
    let (mut auditor, _) = account("Auditor");
    for piece in worker.export(&worker_id, &ResolveQuery::Value).unwrap() {
        auditor.import(piece).unwrap();
    }
    for message in taken {
        auditor.import(message).unwrap();
    }
    let read = auditor.read(&envelope).unwrap().value;
    assert_eq!(read.get("$handled"), Some(&json!(worker_id.as_str())));
    assert_eq!(read.get("text"), Some(&json!("hi")));

    // Nothing is left to take.
    assert!(worker.take_unsaved().unwrap().is_empty());
}

#[test]
fn an_imported_then_written_value_is_taken_once_with_a_storage() {
    check_taken_once(true);
}

#[test]
fn an_imported_then_written_value_is_taken_once_without_a_storage() {
    check_taken_once(false);
}
