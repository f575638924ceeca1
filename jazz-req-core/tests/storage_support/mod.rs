//! Helpers of the storage tests: the cojson vectors, temporary database files, and CoValues
//! built locally.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use jazz_req_core::cojson::{
    CoValueHeader, CoValueType, ContentMessage, ImportOutcome, LocalNode, Ruleset,
    SignerUnavailable, Transaction, VerifiedCoValue, keys::Reader,
};
use jazz_req_core::crypto::{
    self, AgentSecret, CoID, SessionAuthor, SessionID, VerifyingKey, stable_stringify,
};
use serde_json::{Value, json};

/// The vectors folder: `JAZZ_REQ_VECTORS_DIR`, or the workspace's committed fixtures.
pub fn vectors_dir() -> PathBuf {
    std::env::var_os("JAZZ_REQ_VECTORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cojson"))
}

/// Parses one vectors file.
pub fn vectors(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every content piece of `covalues.json`, in file order.
pub fn fixture_pieces(covalues: &Value) -> Vec<ContentMessage> {
    let pieces: Vec<ContentMessage> = covalues["pieces"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|list| list.as_array().unwrap().clone())
        .map(|piece| ContentMessage::from_json(&piece).unwrap())
        .collect();
    assert!(!pieces.is_empty(), "covalues.json has no pieces");
    pieces
}

/// A node reading as Alice (`ids.aliceAccount` with `crypto.json` `agents[0]`).
pub fn alice_node(covalues: &Value, crypto_vectors: &Value) -> LocalNode {
    let account = CoID::parse(covalues["ids"]["aliceAccount"].as_str().unwrap()).unwrap();
    let secret =
        AgentSecret::parse(crypto_vectors["agents"][0]["agentSecret"].as_str().unwrap()).unwrap();
    LocalNode::new(Reader::new(Some(account), secret))
}

/// Imports `messages` in order; everything must end up applied.
pub fn import_all(node: &mut LocalNode, messages: Vec<ContentMessage>) {
    for message in messages {
        match node.import(message).unwrap() {
            ImportOutcome::Applied(_) | ImportOutcome::Queued { .. } => {}
        }
    }
    assert!(
        node.pending().is_empty(),
        "content still waits: {:?}",
        node.pending().first().map(|m| &m.id)
    );
}

fn id_of(covalues: &Value, name: &str) -> CoID {
    CoID::parse(covalues["ids"][name].as_str().unwrap()).unwrap()
}

fn expect_eq(what: &str, got: &Value, want: &Value) {
    assert_eq!(stable_stringify(got), stable_stringify(want), "{what}");
}

/// Checks every `expected` entry of `covalues.json` on `node`; returns how many.
pub fn check_expected(node: &LocalNode, covalues: &Value) -> usize {
    let mut checked = 0;
    for (name, want) in covalues["expected"].as_object().unwrap() {
        match name.as_str() {
            "groupRoles" | "everyoneGroupRoles" => {
                let group = id_of(
                    covalues,
                    if name == "groupRoles" {
                        "group"
                    } else {
                        "everyoneGroup"
                    },
                );
                let state = node.group_state(&group).unwrap();
                let mut parents = HashMap::new();
                for parent in state.parent_ids() {
                    parents.insert(
                        parent.to_owned(),
                        node.group_state(&CoID::parse(parent).unwrap()).unwrap(),
                    );
                }
                for (member, role) in want.as_object().unwrap() {
                    let got = if member == "everyone" {
                        state
                            .map()
                            .get(member, None)
                            .cloned()
                            .unwrap_or(Value::Null)
                    } else {
                        state
                            .role_of(member, None, &parents)
                            .map_or(Value::Null, |r| Value::from(r.as_str()))
                    };
                    expect_eq(&format!("{name}.{member}"), &got, role);
                    checked += 1;
                }
            }
            value_name => {
                let got = node.read(&id_of(covalues, value_name)).unwrap().value;
                expect_eq(value_name, &got, want);
                checked += 1;
            }
        }
    }
    checked
}

/// A database file in the temporary folder, removed (with its WAL files) on drop.
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    /// A fresh path named after `name`.
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "jazz-req-storage-{}-{n}-{name}.db",
            std::process::id()
        ));
        let db = Self { path };
        db.remove();
        db
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A signer lookup for agent sessions only.
pub fn agents_only(author: &SessionAuthor) -> Result<VerifyingKey, SignerUnavailable> {
    match author {
        SessionAuthor::Agent(agent) => Ok(VerifyingKey::new(&agent.signer)?),
        SessionAuthor::Account(id) => Err(SignerUnavailable::AccountNotLoaded(id.clone())),
    }
}

/// A writer agent and one of its sessions.
pub fn writer(seed: u8) -> (AgentSecret, SessionID) {
    let agent = crypto::agent_secret_from_seed(&[seed; 32]).unwrap();
    let session = SessionID::new_active(&SessionAuthor::Agent(agent.agent_id()), &[seed; 8]);
    (agent, session)
}

/// A new `unsafeAllowAll` CoMap.
pub fn unsafe_map() -> VerifiedCoValue {
    let header =
        CoValueHeader::new_unique(CoValueType::CoMap, Ruleset::UnsafeAllowAll, None).unwrap();
    VerifiedCoValue::new(header)
}

/// A CoMap `set` of `key` whose changes JSON is exactly `size` bytes long.
pub fn set_of_size(key: &str, size: usize) -> String {
    let empty = json!([{"op": "set", "key": key, "value": ""}]).to_string();
    let changes =
        json!([{"op": "set", "key": key, "value": "x".repeat(size - empty.len())}]).to_string();
    assert_eq!(changes.len(), size);
    changes
}

/// A small CoMap with one signed trusting transaction, as content for a peer with nothing.
pub fn small_map(agent: &AgentSecret, session: &SessionID, n: u64) -> Vec<ContentMessage> {
    let mut map = unsafe_map();
    let changes = json!([{"op": "set", "key": "n", "value": n}]).to_string();
    map.append_own(
        session,
        Transaction::new_trusting(changes, 1_700_000_000_000 + n, None),
        &agent.signer,
    )
    .unwrap();
    map.new_content_since(None)
}
