//! What loaded content depends on, read from the content messages themselves (cojson's
//! `getDependedOnCoValues`, as the server follows it when it sends a CoValue): the owner
//! group and branch source its header names, for groups and accounts the member accounts and
//! parent groups their changes name, and the accounts that author its sessions.
//!
//! The server sends each dependency once per connection; a load whose dependencies went to
//! an earlier load is completed by loading what the caller does not hold
//! ([`super::SyncClient::load`]).

use serde_json::Value;

use crate::cojson::{CoValueHeader, ContentMessage, Ruleset, Transaction};
use crate::crypto::{CoID, SessionAuthor};

/// The CoValues `message` depends on, in the order cojson lists them, without `message.id`
/// itself. `header` is the CoValue's header when the message has none (a later piece).
pub fn content_dependencies(message: &ContentMessage, header: Option<&CoValueHeader>) -> Vec<CoID> {
    let mut deps: Vec<CoID> = Vec::new();
    let mut push = |id: CoID| {
        if id != message.id && !deps.contains(&id) {
            deps.push(id);
        }
    };
    let header = message.header.as_ref().or(header);
    if let Some(header) = header {
        for named in header.named_dependencies() {
            push(named);
        }
    }
    if let Some(CoValueHeader {
        ruleset: Ruleset::Group { .. },
        ..
    }) = header
    {
        for (_, content) in &message.new {
            for tx in &content.new_transactions {
                let Transaction::Trusting { changes, .. } = tx else {
                    continue;
                };
                let Ok(Value::Array(changes)) = serde_json::from_str::<Value>(changes) else {
                    continue;
                };
                for key in changes.iter().filter_map(|c| c.get("key")?.as_str()) {
                    let named = key.strip_prefix("parent_").unwrap_or(key);
                    if named.starts_with(CoID::PREFIX)
                        && let Ok(id) = CoID::parse(named)
                    {
                        push(id);
                    }
                }
            }
        }
    }
    for (session, _) in &message.new {
        if let SessionAuthor::Account(account) = session.author() {
            push(account.clone());
        }
    }
    deps
}

/// The dependencies of `messages` that they do not bring themselves, in first-mention order.
pub fn missing_dependencies(messages: &[ContentMessage]) -> Vec<CoID> {
    let headers: std::collections::HashMap<&CoID, &CoValueHeader> = messages
        .iter()
        .filter_map(|m| Some((&m.id, m.header.as_ref()?)))
        .collect();
    let mut missing: Vec<CoID> = Vec::new();
    for message in messages {
        let header = headers.get(&message.id).copied();
        for dependency in content_dependencies(message, header) {
            if !headers.contains_key(&dependency) && !missing.contains(&dependency) {
                missing.push(dependency);
            }
        }
    }
    missing
}
