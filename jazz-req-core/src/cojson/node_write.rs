//! Writing from the local node as cojson 0.20.19 writes: accounts with profiles, groups with
//! their keys, members, `everyone`, parent groups, key rotation, and CoMap / CoList edits.
//!
//! Every write is a transaction in this node's session, signed by its agent: account edits
//! go in the agent session, everything else in `<accountID>_session_…`.

use serde_json::{Value, json};

use super::colist::{ListOp, ListPosition, OpID};
use super::comap::MapOp;
use super::group::{EVERYONE, GroupState};
use super::header::{CoValueHeader, CoValueType, Ruleset};
use super::keys::{Reader, read_key};
use super::node::{GroupCache, LocalNode};
use super::node_error::NodeError;
use super::permissions_role::Role;
use super::transaction::Transaction;
use super::verified_state::VerifiedCoValue;
use crate::cojson::clock::now_ms;
use crate::crypto::{
    self, AgentSecret, CoID, KeyID, KeySecret, KeyWithID, SessionAuthor, SessionID, TransactionID,
};

/// How a transaction's changes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privacy {
    /// Encrypted with the owner group's key (cojson's default for values).
    Private,
    /// In plain text (groups, accounts, and values that choose it).
    Trusting,
}

/// The sessions a node writes in: one for its agent (account edits) and one for its
/// account (everything else), sharing a random suffix as cojson's do.
#[derive(Clone, Debug)]
pub struct WriteSessions {
    agent: SessionID,
    account: SessionID,
}

fn cannot(id: &CoID, reason: impl Into<String>) -> NodeError {
    NodeError::CannotWrite {
        id: id.clone(),
        reason: reason.into(),
    }
}

/// The changes of a new map's init: a `set` of each key, in order.
pub(super) fn map_init_changes(init: &[(&str, Value)]) -> Vec<Value> {
    init.iter()
        .map(|(key, value)| {
            MapOp::Set {
                key: (*key).to_owned(),
                value: value.clone(),
            }
            .to_change()
        })
        .collect()
}

/// The changes of a new list's init, as cojson's `appendItems` on an empty list writes
/// them: every item `after: "start"`, in order.
pub(super) fn list_init_changes(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .map(|item| {
            ListOp::Insert {
                value: item.clone(),
                position: ListPosition::AfterStart,
            }
            .to_change()
        })
        .collect()
}

fn changes_text(changes: &[Value]) -> String {
    // JS writes `JSON.stringify(changes)`: insertion order, JS numbers (`-0` as `0`, `3.0` as
    // `3`), JS escapes.
    crypto::stable_json::js_stringify(&Value::Array(changes.to_vec()))
}

impl LocalNode {
    /// Creates an account for `agent` with a profile named `name`, as cojson's
    /// `LocalNode.withNewlyCreatedAccount` does, and a node acting as that account.
    pub fn create_account(agent: AgentSecret, name: &str) -> Result<(Self, CoID), NodeError> {
        let agent_id = agent.agent_id();
        let header = CoValueHeader::account(&agent_id);
        let account_id = header.id();
        let mut node = Self::new(Reader::new(Some(account_id.clone()), agent));
        let mut account = VerifiedCoValue::new(header);
        let sessions = node.write_sessions()?.clone();
        let agent_text = agent_id.to_string();
        let (key_id, key_secret) = crypto::random::new_random_key()?;
        // 1. the agent makes itself admin; 2. reveals the key to itself; 3. sets readKey.
        let signer = node.reader().agent.signer.clone();
        let set = |key: &str, value: Value| {
            changes_text(&[MapOp::Set {
                key: key.to_owned(),
                value,
            }
            .to_change()])
        };
        account
            .append_own(
                &sessions.agent,
                Transaction::new_trusting(set(&agent_text, json!("admin")), now_ms(), None),
                &signer,
            )
            .map_err(|e| cannot(&account_id, e.to_string()))?;
        let sealed = crypto::seal(
            &json!(key_secret.to_secret_string().as_str()),
            &node.reader().agent.sealer,
            &agent_id.sealer,
            &nonce(&account_id, &sessions.agent, 1),
        );
        account
            .append_own(
                &sessions.agent,
                Transaction::new_trusting(
                    set(
                        &format!("{key_id}_for_{agent_text}"),
                        json!(sealed.as_str()),
                    ),
                    now_ms(),
                    None,
                ),
                &signer,
            )
            .map_err(|e| cannot(&account_id, e.to_string()))?;
        account
            .append_own(
                &sessions.agent,
                Transaction::new_trusting(set("readKey", json!(key_id.as_str())), now_ms(), None),
                &signer,
            )
            .map_err(|e| cannot(&account_id, e.to_string()))?;
        node.insert_local(account)?;
        // The profile: a group everyone may read, and a map in it holding the name.
        let profile_group = node.create_group()?;
        node.add_member(&profile_group, EVERYONE, Role::Reader)?;
        let profile =
            node.create_map(&profile_group, &[("name", json!(name))], Privacy::Private)?;
        node.set_account_field("profile", &profile)?;
        Ok((node, account_id))
    }

    /// Runs `writes` with signing deferred: every session this node writes in gets one
    /// signature at the end instead of one per transaction (the wire carries only a piece's
    /// last signature, so the content sent is the same). The signatures are made even when
    /// `writes` fails part way, so nothing unsigned is left behind.
    pub fn batch<T>(
        &mut self,
        writes: impl FnOnce(&mut Self) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        let outer = self.deferring;
        self.deferring = true;
        let result = writes(self);
        self.deferring = outer;
        if !outer {
            self.sign_pending();
        }
        result
    }

    /// Signs whatever own transactions wait for a signature.
    pub(crate) fn sign_pending(&mut self) {
        let signer = self.reader().agent.signer.clone();
        for id in std::mem::take(&mut self.unsigned) {
            if let Some(value) = self.get_mut(&id) {
                value.sign_pending(&signer);
            }
        }
    }

    /// This node's write sessions, made on first use.
    pub(crate) fn write_sessions(&mut self) -> Result<&WriteSessions, NodeError> {
        if self.sessions.is_none() {
            let suffix = crypto::random::random_bytes::<8>()?;
            let agent =
                SessionID::new_active(&SessionAuthor::Agent(self.reader().agent_id), &suffix);
            let account = match &self.reader().account {
                Some(account) => {
                    SessionID::new_active(&SessionAuthor::Account(account.clone()), &suffix)
                }
                None => agent.clone(),
            };
            self.sessions = Some(WriteSessions { agent, account });
        }
        self.sessions
            .as_ref()
            .ok_or_else(|| cannot(&CoID::from_bytes(&[0]), "no write session"))
    }

    fn my_account(&self) -> Result<CoID, NodeError> {
        self.reader()
            .account
            .clone()
            .ok_or_else(|| cannot(&CoID::from_bytes(&[0]), "this node has no account"))
    }

    /// The session this node writes `id` in: the agent session for its own account.
    fn session_for(&mut self, id: &CoID) -> Result<SessionID, NodeError> {
        let own_account = self.reader().account.as_ref() == Some(id);
        let sessions = self.write_sessions()?;
        Ok(if own_account {
            sessions.agent.clone()
        } else {
            sessions.account.clone()
        })
    }

    /// The id the next transaction of this node in `id` will have.
    pub fn next_transaction_id(&mut self, id: &CoID) -> Result<TransactionID, NodeError> {
        let session = self.session_for(id)?;
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        let next = value
            .session(&session)
            .map_or(0, super::session_log::SessionLog::len);
        Ok(TransactionID {
            session_id: session,
            tx_index: u32::try_from(next).map_err(|_| cannot(id, "session too long"))?,
            branch: None,
        })
    }

    /// Appends a transaction made by this node to `id`.
    fn append(&mut self, id: &CoID, tx: Transaction) -> Result<(), NodeError> {
        let session = self.session_for(id)?;
        self.before_own_write(id, &session);
        if !self.dirty.contains(id)
            && !self.created.contains(id)
            && let Some(value) = self.get(id)
        {
            let before = value.known_state();
            self.queued_from.insert(id.clone(), before);
        }
        let signer = self.reader().agent.signer.clone();
        let deferring = self.deferring;
        let value = self
            .get_mut(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        if deferring {
            value.append_own_deferred(&session, tx, &signer)
        } else {
            value.append_own(&session, tx, &signer).map(|_| ())
        }
        .map_err(|e| cannot(id, e.to_string()))?;
        if deferring && !self.unsigned.contains(id) {
            self.unsigned.push(id.clone());
        }
        self.changed(id);
        if !self.dirty.contains(id) {
            self.dirty.push(id.clone());
        }
        Ok(())
    }

    /// Writes `changes` to `id` in plain text.
    pub fn write_trusting(&mut self, id: &CoID, changes: &[Value]) -> Result<(), NodeError> {
        self.write_trusting_with_meta(id, changes, None)
    }

    /// Writes `changes` (and the meta JSON text `meta`) to `id` in plain text.
    pub(super) fn write_trusting_with_meta(
        &mut self,
        id: &CoID,
        changes: &[Value],
        meta: Option<String>,
    ) -> Result<(), NodeError> {
        self.append(
            id,
            Transaction::new_trusting(changes_text(changes), now_ms(), meta),
        )
    }

    /// Writes `changes` to `id`, encrypted with the key its owner group gives this node.
    pub fn write_private(&mut self, id: &CoID, changes: &[Value]) -> Result<(), NodeError> {
        self.write_private_with_meta(id, changes, None)
    }

    /// Writes `changes` (and the meta JSON text `meta`) to `id`, encrypted with the key its
    /// owner group gives this node.
    pub(super) fn write_private_with_meta(
        &mut self,
        id: &CoID,
        changes: &[Value],
        meta: Option<&str>,
    ) -> Result<(), NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        let owner = match &value.header().ruleset {
            Ruleset::OwnedByGroup { group, .. } => group.clone(),
            Ruleset::Group { .. } if self.reader().account.as_ref() == Some(id) => id.clone(),
            _ => {
                return Err(cannot(
                    id,
                    "only values owned by a group are written privately",
                ));
            }
        };
        let (key_id, key_secret) = self.write_key(&owner)?;
        let session = self.session_for(id)?;
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        let tx = value.new_private_transaction(
            &session,
            &changes_text(changes),
            meta,
            (&key_id, &key_secret),
            now_ms(),
        );
        self.append(id, tx)
    }

    fn write(&mut self, id: &CoID, changes: &[Value], privacy: Privacy) -> Result<(), NodeError> {
        self.write_with(id, changes, privacy, None)
    }

    /// Writes `changes` with the meta JSON text `meta`, after checking this node may write.
    pub(super) fn write_with(
        &mut self,
        id: &CoID,
        changes: &[Value],
        privacy: Privacy,
        meta: Option<String>,
    ) -> Result<(), NodeError> {
        let owner = match &self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?
            .header()
            .ruleset
        {
            Ruleset::OwnedByGroup { group, .. } => Some(group.clone()),
            _ => None,
        };
        if let Some(group) = owner {
            self.ensure_may_write_in(&group, id)?;
        }
        match privacy {
            Privacy::Private => self.write_private_with_meta(id, changes, meta.as_deref()),
            Privacy::Trusting => self.write_trusting_with_meta(id, changes, meta),
        }
    }

    fn set_trusting(&mut self, id: &CoID, key: &str, value: Value) -> Result<(), NodeError> {
        self.write_trusting(
            id,
            &[MapOp::Set {
                key: key.to_owned(),
                value,
            }
            .to_change()],
        )
    }

    /// Sets `profile` or `root` on this node's account (trusting, as jazz-tools does).
    pub fn set_account_field(&mut self, key: &str, value: &CoID) -> Result<(), NodeError> {
        let account = self.my_account()?;
        self.set_trusting(&account, key, json!(value.as_str()))
    }

    /// The key this node writes `group`'s values with: its `writeKeyFor_<me>` when it is
    /// write-only (or has no role), else the group's `readKey`.
    pub fn write_key(&self, group: &CoID) -> Result<(KeyID, KeySecret), NodeError> {
        let mut cache = GroupCache::new(self);
        cache.ensure_group(group, 0)?;
        let state = cache.group_state(group)?;
        let me = self.member_key(state);
        let role = state.role_of(&me, None, &cache);
        let write_key = state.map().get_str(&format!("writeKeyFor_{me}"), None);
        let key_id = match (role, write_key) {
            (Some(Role::WriteOnly) | None, Some(key)) => key,
            _ => state
                .map()
                .get_str("readKey", None)
                .ok_or_else(|| cannot(group, "the group has no readKey"))?,
        };
        let secret =
            read_key(state, key_id, self.reader(), &cache).ok_or_else(|| NodeError::NoReadKey {
                id: group.clone(),
                key: key_id.to_owned(),
            })?;
        let key_id = KeyID::parse(key_id).map_err(crypto::CryptoError::from)?;
        Ok((key_id, secret))
    }

    /// Lets this node write where its role does not allow it: the transactions are invalid
    /// and every peer ignores them. Only for tests that craft such content.
    #[doc(hidden)]
    pub fn allow_writes_without_role(&mut self, allow: bool) {
        self.writes_without_role = allow;
    }

    /// Whether this node's account may write to `id` now: `Ok` for a CoValue owned by a
    /// group where its role lets it write (or one not owned by a group: an account, a group,
    /// whose own rules decide each change); [`NodeError::NotPermitted`] otherwise.
    pub fn may_write(&self, id: &CoID) -> Result<(), NodeError> {
        let value = self
            .get(id)
            .ok_or_else(|| NodeError::NotLoaded(id.clone()))?;
        match &value.header().ruleset {
            Ruleset::OwnedByGroup { group, .. } => {
                let group = group.clone();
                self.ensure_may_write_in(&group, id)
            }
            _ => Ok(()),
        }
    }

    /// Refuses a write to `id` (owned by `group`) unless this node's role in `group` lets it
    /// write: every peer would find such a transaction invalid and ignore it, silently (as
    /// cojson does); here the writer learns it at once.
    fn ensure_may_write_in(&self, group: &CoID, id: &CoID) -> Result<(), NodeError> {
        if self.writes_without_role {
            return Ok(());
        }
        let mut cache = GroupCache::new(self);
        cache.ensure_group(group, 0)?;
        let state = cache.group_state(group)?;
        let me = self.member_key(state);
        match state.role_of(&me, None, &cache) {
            Some(role) if role.can_write() => Ok(()),
            role => Err(NodeError::NotPermitted {
                id: id.clone(),
                group: group.clone(),
                role: role.map_or("none", Role::as_str),
            }),
        }
    }

    fn member_key(&self, group: &GroupState) -> String {
        match &self.reader().account {
            Some(account) if account != group.id() => account.to_string(),
            _ => self.reader().agent_id.to_string(),
        }
    }

    fn current_read_key(&self, group: &CoID) -> Result<(KeyID, KeySecret), NodeError> {
        let mut cache = GroupCache::new(self);
        cache.ensure_group(group, 0)?;
        let state = cache.group_state(group)?;
        let key_id = state
            .map()
            .get_str("readKey", None)
            .ok_or_else(|| cannot(group, "the group has no readKey"))?;
        let secret =
            read_key(state, key_id, self.reader(), &cache).ok_or_else(|| NodeError::NoReadKey {
                id: group.clone(),
                key: key_id.to_owned(),
            })?;
        Ok((
            KeyID::parse(key_id).map_err(crypto::CryptoError::from)?,
            secret,
        ))
    }

    /// Creates a group with this node's account as admin (`createGroup`): the admin role,
    /// a new read key revealed to itself, `readKey` and `groupSealer`.
    pub fn create_group(&mut self) -> Result<CoID, NodeError> {
        let account = self.my_account()?;
        let header = CoValueHeader::new_unique(
            CoValueType::CoMap,
            Ruleset::Group {
                initial_admin: SessionAuthor::Account(account.clone()),
            },
            None,
        )?;
        let id = header.id();
        self.insert_local(VerifiedCoValue::new(header))?;
        self.set_trusting(&id, account.as_str(), json!("admin"))?;
        let (key_id, key_secret) = crypto::random::new_random_key()?;
        let me = self.reader().agent_id;
        self.reveal_key_to(&id, account.as_str(), &me, &key_id, &key_secret)?;
        self.set_trusting(&id, "readKey", json!(key_id.as_str()))?;
        self.set_group_sealer(&id, &key_id, &key_secret)?;
        Ok(id)
    }

    fn set_group_sealer(
        &mut self,
        group: &CoID,
        key_id: &KeyID,
        secret: &KeySecret,
    ) -> Result<(), NodeError> {
        let sealer = crypto::group_sealer_from_read_key(secret).sealer_id();
        self.set_trusting(group, "groupSealer", json!(format!("{key_id}@{sealer}")))
    }

    /// Writes `<key>_for_<member>`: the key sealed from this node's agent to `agent`.
    fn reveal_key_to(
        &mut self,
        group: &CoID,
        member: &str,
        agent: &crypto::AgentID,
        key_id: &KeyID,
        secret: &KeySecret,
    ) -> Result<(), NodeError> {
        let tx = self.next_transaction_id(group)?;
        let sealed = crypto::seal_with(
            &json!(secret.to_secret_string().as_str()),
            &self.reader().shared_key(&agent.sealer),
            &nonce(group, &tx.session_id, tx.tx_index),
        );
        self.set_trusting(
            group,
            &format!("{key_id}_for_{member}"),
            json!(sealed.as_str()),
        )
    }

    /// Gives `member` (an account id, or `everyone`) `role` in `group`, revealing the current
    /// read key to it (`addMember`). Write-only roles are not supported yet.
    pub fn add_member(&mut self, group: &CoID, member: &str, role: Role) -> Result<(), NodeError> {
        if matches!(role, Role::WriteOnly | Role::WriteOnlyInvite) {
            return Err(cannot(group, "write-only members are not supported yet"));
        }
        let (key_id, key_secret) = self.current_read_key(group)?;
        if member == EVERYONE {
            if !matches!(role, Role::Reader | Role::Writer) {
                return Err(cannot(group, "everyone can only be reader or writer"));
            }
            self.set_trusting(group, EVERYONE, json!(role.as_str()))?;
            let secret = key_secret.to_secret_string();
            return self.set_trusting(
                group,
                &format!("{key_id}_for_everyone"),
                json!(secret.as_str()),
            );
        }
        let agent = self
            .agent_of_member(member)
            .ok_or_else(|| cannot(group, format!("member {member} is not loaded")))?;
        self.set_trusting(group, member, json!(role.as_str()))?;
        self.reveal_key_to(group, member, &agent, &key_id, &key_secret)
    }

    fn agent_of_member(&self, member: &str) -> Option<crypto::AgentID> {
        super::keys::AgentResolver::agent_of(self, member)
    }

    /// Revokes `member` and rotates the read key so it cannot read what comes next
    /// (`removeMember`): the new key is revealed to every remaining reader, the old key is
    /// encrypted for the new one, `readKey` and `groupSealer` move to the new key, and the new
    /// key is revealed to parent groups.
    pub fn remove_member(&mut self, group: &CoID, member: &str) -> Result<(), NodeError> {
        let state = self.group_state(group)?;
        let everyone_reads = state
            .map()
            .get_str(EVERYONE, None)
            .and_then(Role::parse)
            .is_some_and(Role::can_read);
        if member == EVERYONE || !everyone_reads {
            self.rotate_read_key(group, &state, member)?;
        }
        self.set_trusting(group, member, json!("revoked"))
    }

    fn rotate_read_key(
        &mut self,
        group: &CoID,
        state: &GroupState,
        removed: &str,
    ) -> Result<(), NodeError> {
        let (old_id, old_secret) = self.current_read_key(group)?;
        let (new_id, new_secret) = crypto::random::new_random_key()?;
        let readers: Vec<String> = state
            .member_keys()
            .filter(|m| *m != removed)
            .filter(|m| {
                state
                    .map()
                    .get_str(m, None)
                    .and_then(Role::parse)
                    .is_some_and(|r| {
                        r.can_read()
                            || matches!(
                                r,
                                Role::AdminInvite | Role::WriterInvite | Role::ReaderInvite
                            )
                    })
            })
            .map(str::to_owned)
            .collect();
        for reader in readers {
            let agent = self
                .agent_of_member(&reader)
                .ok_or_else(|| cannot(group, format!("reader {reader} is not loaded")))?;
            self.reveal_key_to(group, &reader, &agent, &new_id, &new_secret)?;
        }
        let old_for_new = crypto::encrypt_key_secret(
            &KeyWithID {
                id: &old_id,
                secret: &old_secret,
            },
            &KeyWithID {
                id: &new_id,
                secret: &new_secret,
            },
        );
        self.set_trusting(
            group,
            &format!("{old_id}_for_{new_id}"),
            json!(old_for_new.as_str()),
        )?;
        self.set_trusting(group, "readKey", json!(new_id.as_str()))?;
        self.set_group_sealer(group, &new_id, &new_secret)?;
        let parents: Vec<CoID> = state
            .parents_at(None)
            .filter_map(|(id, _)| CoID::parse(id).ok())
            .collect();
        for parent in parents {
            match self.current_read_key(&parent) {
                Ok((parent_id, parent_secret)) => {
                    self.reveal_key_to_parent_key(
                        group,
                        &new_id,
                        &new_secret,
                        &parent_id,
                        &parent_secret,
                    )?;
                }
                Err(error) => {
                    tracing::warn!(%group, %parent, %error, "cannot reveal the new key to a parent group");
                }
            }
        }
        Ok(())
    }

    fn reveal_key_to_parent_key(
        &mut self,
        group: &CoID,
        key_id: &KeyID,
        secret: &KeySecret,
        parent_key_id: &KeyID,
        parent_secret: &KeySecret,
    ) -> Result<(), NodeError> {
        let encrypted = crypto::encrypt_key_secret(
            &KeyWithID { id: key_id, secret },
            &KeyWithID {
                id: parent_key_id,
                secret: parent_secret,
            },
        );
        self.set_trusting(
            group,
            &format!("{key_id}_for_{parent_key_id}"),
            json!(encrypted.as_str()),
        )
    }

    /// Makes `child` extend `parent` (`extend`): `parent_<id>` is set to `role` (or `extend`
    /// to inherit roles as they are) and the child's key is revealed to the parent's key.
    /// This node must be able to read the parent.
    pub fn extend(
        &mut self,
        child: &CoID,
        parent: &CoID,
        role: Option<Role>,
    ) -> Result<(), NodeError> {
        let mapping = match role {
            None => "extend",
            Some(r @ (Role::Reader | Role::Writer | Role::Manager | Role::Admin)) => r.as_str(),
            Some(other) => {
                return Err(cannot(
                    child,
                    format!("a parent cannot give the role {other}"),
                ));
            }
        };
        let parent_state = self.group_state(parent)?;
        if parent_state.extends(child.as_str(), &GroupCache::new(self)) {
            return Err(cannot(child, "extending that parent would make a cycle"));
        }
        self.set_trusting(child, &format!("parent_{parent}"), json!(mapping))?;
        let (child_key_id, child_secret) = self.current_read_key(child)?;
        let (parent_key_id, parent_secret) = self.current_read_key(parent)?;
        self.reveal_key_to_parent_key(
            child,
            &child_key_id,
            &child_secret,
            &parent_key_id,
            &parent_secret,
        )
    }

    /// Creates a CoMap owned by `group` with `init` set in one transaction.
    pub fn create_map(
        &mut self,
        group: &CoID,
        init: &[(&str, Value)],
        privacy: Privacy,
    ) -> Result<CoID, NodeError> {
        let id = self.create_owned(CoValueType::CoMap, group)?;
        if !init.is_empty() {
            self.write(&id, &map_init_changes(init), privacy)?;
        }
        Ok(id)
    }

    fn create_owned(&mut self, co_type: CoValueType, group: &CoID) -> Result<CoID, NodeError> {
        let header = CoValueHeader::new_unique(
            co_type,
            Ruleset::OwnedByGroup {
                group: group.clone(),
                restrict_deletion: None,
            },
            None,
        )?;
        self.create_with_header(group, header)
    }

    /// Creates the value of `header`, owned by `group` (which this node must be able to
    /// write in); a value this node already holds is left as it is.
    pub(super) fn create_with_header(
        &mut self,
        group: &CoID,
        header: CoValueHeader,
    ) -> Result<CoID, NodeError> {
        self.group_state(group)?;
        self.ensure_may_write_in(group, group)?;
        let id = header.id();
        if self.get(&id).is_none() {
            self.insert_local(VerifiedCoValue::new(header))?;
        }
        Ok(id)
    }

    /// Sets `key` of the CoMap `id`.
    pub fn map_set(
        &mut self,
        id: &CoID,
        key: &str,
        value: Value,
        privacy: Privacy,
    ) -> Result<(), NodeError> {
        self.write(
            id,
            &[MapOp::Set {
                key: key.to_owned(),
                value,
            }
            .to_change()],
            privacy,
        )
    }

    /// Deletes `key` of the CoMap `id`.
    pub fn map_delete(&mut self, id: &CoID, key: &str, privacy: Privacy) -> Result<(), NodeError> {
        self.write(
            id,
            &[MapOp::Del {
                key: key.to_owned(),
            }
            .to_change()],
            privacy,
        )
    }

    /// Creates a CoList owned by `group` holding `items`, in one transaction.
    pub fn create_list(
        &mut self,
        group: &CoID,
        items: &[Value],
        privacy: Privacy,
    ) -> Result<CoID, NodeError> {
        let id = self.create_owned(CoValueType::CoList, group)?;
        if !items.is_empty() {
            self.write(&id, &list_init_changes(items), privacy)?;
        }
        Ok(id)
    }

    /// The op id of the visible item at `index` of list `id`.
    fn list_item(&self, id: &CoID, index: usize) -> Result<OpID, NodeError> {
        self.owned_transactions(id)?
            .list_state()
            .entries
            .get(index)
            .map(|(op, _)| op.clone())
            .ok_or_else(|| cannot(id, format!("no item at index {index}")))
    }

    fn list_insert(
        &mut self,
        id: &CoID,
        position: ListPosition,
        value: Value,
        privacy: Privacy,
    ) -> Result<(), NodeError> {
        self.write(
            id,
            &[ListOp::Insert { value, position }.to_change()],
            privacy,
        )
    }

    /// Inserts `value` into list `id` after the item at `index` (at the start when `None`).
    pub fn list_insert_after(
        &mut self,
        id: &CoID,
        index: Option<usize>,
        value: Value,
        privacy: Privacy,
    ) -> Result<(), NodeError> {
        let position = match index {
            None => ListPosition::AfterStart,
            Some(i) => ListPosition::After(self.list_item(id, i)?),
        };
        self.list_insert(id, position, value, privacy)
    }

    /// Appends `value` at the end of list `id`.
    pub fn list_append(
        &mut self,
        id: &CoID,
        value: Value,
        privacy: Privacy,
    ) -> Result<(), NodeError> {
        let last = self
            .owned_transactions(id)?
            .list_state()
            .entries
            .last()
            .map(|(op, _)| op.clone());
        let position = match last {
            Some(op) => ListPosition::After(op),
            None => ListPosition::AfterStart,
        };
        self.list_insert(id, position, value, privacy)
    }

    /// Inserts `value` into list `id` before the item at `index` (at the end when `None`).
    pub fn list_insert_before(
        &mut self,
        id: &CoID,
        index: Option<usize>,
        value: Value,
        privacy: Privacy,
    ) -> Result<(), NodeError> {
        let position = match index {
            None => ListPosition::BeforeEnd,
            Some(i) => ListPosition::Before(self.list_item(id, i)?),
        };
        self.list_insert(id, position, value, privacy)
    }

    /// Deletes the item at `index` of list `id`.
    pub fn list_delete(
        &mut self,
        id: &CoID,
        index: usize,
        privacy: Privacy,
    ) -> Result<(), NodeError> {
        let insertion = self.list_item(id, index)?;
        self.write(id, &[ListOp::Delete { insertion }.to_change()], privacy)
    }
}

fn nonce(id: &CoID, session: &SessionID, tx_index: u32) -> Value {
    json!({"in": id.as_str(), "tx": {"sessionID": session.as_str(), "txIndex": tx_index}})
}
