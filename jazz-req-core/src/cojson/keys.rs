//! Finding a group's read keys as a given reader (`RawGroup.getReadKey`): revealed to
//! everyone, sealed for the reader, encrypted for another readable key, revealed to a parent
//! group's key, or sealed for a parent group's sealer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::group::{GroupLookup, GroupState};
use crate::crypto::{
    self, AgentID, AgentSecret, CoID, Encrypted, KeyID, KeySecret, KeyWithID, Sealed,
    SealedForGroup, SealerID, SharedKey, TransactionID,
};

/// Who is reading: an agent, acting for an account (or as itself).
#[derive(Clone, Debug)]
pub struct Reader {
    /// The reader's account, if it reads as an account.
    pub account: Option<CoID>,
    /// The reader's agent secret.
    pub agent: AgentSecret,
    /// The agent's public id (kept to avoid recomputing it).
    pub agent_id: AgentID,
    /// Box keys shared with other agents, by their sealer id (X25519 is the costly part of
    /// sealing; a worker meets the same clients again and again).
    shared_keys: Arc<Mutex<HashMap<SealerID, SharedKey>>>,
}

/// Above this many cached peers the cache starts over (it only saves work).
const MAX_SHARED_KEYS: usize = 16_384;

impl Reader {
    /// A reader acting for `account` with `agent`.
    pub fn new(account: Option<CoID>, agent: AgentSecret) -> Self {
        let agent_id = agent.agent_id();
        Self {
            account,
            agent,
            agent_id,
            shared_keys: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The box key this agent shares with the agent whose sealer is `peer` (cached).
    pub fn shared_key(&self, peer: &SealerID) -> SharedKey {
        if let Ok(cache) = self.shared_keys.lock()
            && let Some(key) = cache.get(peer)
        {
            return key.clone();
        }
        let key = SharedKey::new(&self.agent.sealer, peer);
        if let Ok(mut cache) = self.shared_keys.lock() {
            if cache.len() >= MAX_SHARED_KEYS {
                cache.clear();
            }
            cache.insert(*peer, key.clone());
        }
        key
    }

    /// The member key revelations are made for in `group`: the account id, or the agent
    /// id in the reader's own account (or when reading as a bare agent).
    fn revelation_target(&self, group: &GroupState) -> String {
        match &self.account {
            Some(account) if account != group.id() => account.to_string(),
            _ => self.agent_id.to_string(),
        }
    }
}

/// Resolves who made an edit to the agent that signs for them.
pub trait AgentResolver {
    /// The agent of an account id (its header's initial admin) or of an agent id (itself).
    fn agent_of(&self, account_or_agent: &str) -> Option<AgentID>;
}

/// Looks up groups and agents: what finding a read key needs from the node.
pub trait KeyContext: GroupLookup + AgentResolver {}
impl<T: GroupLookup + AgentResolver> KeyContext for T {}

fn nonce(group: &CoID, tx: &TransactionID) -> Value {
    json!({"in": group.as_str(), "tx": {"sessionID": tx.session_id.as_str(), "txIndex": tx.tx_index}})
}

/// The secret of `key_id` in `group`, if `reader` can find it. A key found is kept with the
/// group's state for the next lookup by the same reader.
pub fn read_key(
    group: &GroupState,
    key_id: &str,
    reader: &Reader,
    context: &dyn KeyContext,
) -> Option<KeySecret> {
    if let Some(found) = group.found_keys().get(&reader.agent_id, key_id) {
        return Some(found);
    }
    let mut visiting = HashSet::new();
    let found = find_key(group, key_id, reader, context, &mut visiting)?;
    group.found_keys().insert(&reader.agent_id, key_id, &found);
    Some(found)
}

fn find_key(
    group: &GroupState,
    key_id: &str,
    reader: &Reader,
    context: &dyn KeyContext,
    visiting: &mut HashSet<(String, String)>,
) -> Option<KeySecret> {
    // Key-for-key revelations may form cycles; each (group, key) is tried once per lookup.
    if !visiting.insert((group.id().to_string(), key_id.to_owned())) {
        return None;
    }
    let map = group.map();
    if let Some(text) = map.get_str(&format!("{key_id}_for_everyone"), None)
        && let Ok(secret) = KeySecret::parse(text)
    {
        return Some(secret);
    }
    if let Some(secret) = sealed_for_reader(group, key_id, reader, context) {
        return Some(secret);
    }
    let parsed_id = KeyID::parse(key_id).ok()?;
    for encrypting in group.key_revelations(key_id) {
        let Some(outer) = find_key(group, encrypting, reader, context, visiting) else {
            continue;
        };
        if let Some(secret) = key_for_key(group, &parsed_id, encrypting, &outer) {
            return Some(secret);
        }
    }
    for parent_id in group.parent_ids() {
        let Some(parent) = context.group(parent_id) else {
            continue;
        };
        for encrypting in group.key_revelations(key_id) {
            let Some(outer) = find_key(parent, encrypting, reader, context, visiting) else {
                continue;
            };
            if let Some(secret) = key_for_key(group, &parsed_id, encrypting, &outer) {
                return Some(secret);
            }
        }
        if let Some(secret) = sealed_for_parent(group, key_id, parent, reader, context, visiting) {
            return Some(secret);
        }
    }
    None
}

fn sealed_for_reader(
    group: &GroupState,
    key_id: &str,
    reader: &Reader,
    context: &dyn KeyContext,
) -> Option<KeySecret> {
    let target = reader.revelation_target(group);
    let edit = group
        .map()
        .last_edit(&format!("{key_id}_for_{target}"), None)?;
    let sealed = Sealed::parse(edit.value.as_ref()?.as_str()?).ok()?;
    let revealer = context.agent_of(&edit.by)?;
    let opened = crypto::unseal_with(
        &sealed,
        &reader.shared_key(&revealer.sealer),
        &nonce(group.id(), &edit.tx),
    )
    .ok()?;
    KeySecret::parse(opened.as_str()?).ok()
}

fn key_for_key(
    group: &GroupState,
    key_id: &KeyID,
    encrypting: &str,
    outer: &KeySecret,
) -> Option<KeySecret> {
    let text = group
        .map()
        .get_str(&format!("{key_id}_for_{encrypting}"), None)?;
    let encrypted = Encrypted::parse(text).ok()?;
    let encrypting_id = KeyID::parse(encrypting).ok()?;
    let outer = KeyWithID {
        id: &encrypting_id,
        secret: outer,
    };
    match crypto::decrypt_key_secret(&encrypted, key_id, &outer) {
        Ok(secret) => Some(secret),
        Err(error) => {
            tracing::warn!(group = %group.id(), %key_id, encrypting, %error, "key revelation did not decrypt");
            None
        }
    }
}

/// `tryDecryptWithGroupSealer`: the parent's group sealers, newest first.
fn sealed_for_parent(
    group: &GroupState,
    key_id: &str,
    parent: &GroupState,
    reader: &Reader,
    context: &dyn KeyContext,
    visiting: &mut HashSet<(String, String)>,
) -> Option<KeySecret> {
    for entry in parent.map().edits("groupSealer").iter().rev() {
        let Some(value) = entry.value.as_ref().and_then(Value::as_str) else {
            continue;
        };
        let (read_key_id, sealer_id) = match value.find('@') {
            Some(at) if at > 0 => (Some(&value[..at]), &value[at + 1..]),
            _ => (None, value),
        };
        let Some(edit) = group
            .map()
            .last_edit(&format!("{key_id}_sealedFor_{sealer_id}"), None)
        else {
            continue;
        };
        let Some(sealed) = edit
            .value
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|s| SealedForGroup::parse(s).ok())
        else {
            continue;
        };
        let Some(read_key_id) = read_key_id else {
            continue;
        };
        let Some(parent_key) = find_key(parent, read_key_id, reader, context, visiting) else {
            continue;
        };
        let sealer = crypto::group_sealer_from_read_key(&parent_key);
        if let Ok(opened) = crypto::unseal_for_group(&sealed, &sealer, &nonce(group.id(), &edit.tx))
            && let Some(secret) = opened.as_str().and_then(|s| KeySecret::parse(s).ok())
        {
            return Some(secret);
        }
    }
    None
}
