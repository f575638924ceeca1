//! Groups (and accounts, which are groups): their validated map of roles, keys and parents,
//! and the role of a member at a point in time (`src/coValues/group.ts`,
//! `determineValidTransactionsForGroup` in `src/permissions.ts`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::comap::{MapEntry, MapHistory};
use super::permissions::TxRecord;
use super::permissions_role::{ParentRoleMapping, Role, is_higher_role, should_inherit};
use crate::crypto::{AgentID, CoID, KeySecret};

/// Nesting deeper than this between groups is treated as a cycle.
const MAX_GROUP_DEPTH: usize = 64;

/// The member key standing for everyone.
pub const EVERYONE: &str = "everyone";

/// Finds already-built groups (and accounts) by id.
pub trait GroupLookup {
    /// The group with this id, if it is loaded.
    fn group(&self, id: &str) -> Option<&GroupState>;
}

impl GroupLookup for HashMap<String, GroupState> {
    fn group(&self, id: &str) -> Option<&GroupState> {
        self.get(id)
    }
}

/// The mapping of one parent group over time: `(madeAt, mapping)`, chronological; `None`
/// where the value was not a known mapping.
type ParentHistory = Vec<(u64, Option<ParentRoleMapping>)>;

/// The validated state of a group or account.
#[derive(Clone, Debug)]
pub struct GroupState {
    id: CoID,
    initial_admin: String,
    is_account: bool,
    map: MapHistory,
    /// Parent groups in first-reference order, with their mapping over time (by `madeAt`).
    parents: Vec<(String, ParentHistory)>,
    /// `key_A_for_key_B` revelations: encrypted key id → encrypting key ids.
    key_revelations: HashMap<String, Vec<String>>,
    valid: Vec<bool>,
    /// Read keys found in this state, by reader (see [`super::keys::read_key`]).
    found_keys: FoundKeys,
}

/// Read keys a reader found in one group state: finding one may unseal it (an X25519 box),
/// and a request reads and writes its envelope's group several times. A found key depends
/// only on the state (and, for a parent's key, on the parent's state, whose change makes this
/// state stale too) and on who reads.
#[derive(Default)]
pub(crate) struct FoundKeys(std::sync::Mutex<HashMap<(AgentID, String), KeySecret>>);

impl FoundKeys {
    pub(crate) fn get(&self, reader: &AgentID, key_id: &str) -> Option<KeySecret> {
        let found = self.0.lock().ok()?;
        found.get(&(*reader, key_id.to_owned())).cloned()
    }

    pub(crate) fn insert(&self, reader: &AgentID, key_id: &str, secret: &KeySecret) {
        if let Ok(mut found) = self.0.lock() {
            found.insert((*reader, key_id.to_owned()), secret.clone());
        }
    }
}

impl Clone for FoundKeys {
    fn clone(&self) -> Self {
        let found = self.0.lock().map(|f| f.clone()).unwrap_or_default();
        Self(std::sync::Mutex::new(found))
    }
}

impl std::fmt::Debug for FoundKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().map(|f| f.len()).unwrap_or_default();
        write!(f, "FoundKeys({count} <redacted>)")
    }
}

/// The roles a group's own transactions are checked against while it is being validated.
struct MemberRoleResolver<'a> {
    direct: HashMap<String, Role>,
    parents: Vec<(String, ParentRoleMapping)>,
    groups: &'a dyn GroupLookup,
}

impl MemberRoleResolver<'_> {
    fn role_at(&self, member: &str, time: u64) -> Option<Role> {
        let mut role = self.direct.get(member).copied();
        for (parent_id, mapping) in &self.parents {
            let Some(parent) = self.groups.group(parent_id) else {
                continue;
            };
            let Some(parent_role) = parent.role_of(member, Some(time), self.groups) else {
                continue;
            };
            if !parent_role.is_inheritable() {
                continue;
            }
            if let Some(resolved) = mapping.map(parent_role)
                && is_higher_role(resolved, role)
            {
                role = Some(resolved);
            }
        }
        role
    }

    fn set_parent(&mut self, parent: &str, mapping: ParentRoleMapping) {
        match self.parents.iter_mut().find(|(id, _)| id == parent) {
            Some(entry) => entry.1 = mapping,
            None => self.parents.push((parent.to_owned(), mapping)),
        }
    }
}

fn is_key_for_key(key: &str) -> bool {
    key.starts_with("key_") && key.contains("_for_key")
}

fn is_key_for_member(key: &str) -> bool {
    (key.starts_with("key_") && (key.contains("_for_sealer") || key.contains("_for_co")))
        || key.contains("_for_everyone")
}

fn is_key_sealed_for_group(key: &str) -> bool {
    key.starts_with("key_") && key.contains("_sealedFor_sealer")
}

fn is_own_write_key_revelation(
    key: &str,
    transactor: &str,
    write_only_keys: &HashMap<String, String>,
) -> bool {
    let at = key.find("_for_").or_else(|| key.find("_sealedFor_"));
    let key_id = at.map_or("", |i| &key[..i]);
    !key_id.is_empty() && write_only_keys.get(transactor).map(String::as_str) == Some(key_id)
}

/// The verdict on one group transaction.
enum Verdict {
    Valid,
    Invalid(&'static str),
}

impl GroupState {
    /// Validates a group's (or account's) transactions, given in cojson order, and builds
    /// its state. Parent groups must already be in `groups`.
    pub fn build(
        id: CoID,
        initial_admin: &str,
        is_account: bool,
        txs: &[TxRecord],
        groups: &dyn GroupLookup,
    ) -> Self {
        let mut state = Self {
            id,
            initial_admin: initial_admin.to_owned(),
            is_account,
            map: MapHistory::default(),
            parents: Vec::new(),
            key_revelations: HashMap::new(),
            valid: Vec::with_capacity(txs.len()),
            found_keys: FoundKeys::default(),
        };
        let mut resolver = MemberRoleResolver {
            direct: HashMap::new(),
            parents: Vec::new(),
            groups,
        };
        let mut write_only_keys: HashMap<String, String> = HashMap::new();
        let mut write_keys: HashSet<String> = HashSet::new();
        for tx in txs {
            let verdict = state.judge(tx, &mut resolver, &mut write_only_keys, &mut write_keys);
            match verdict {
                Verdict::Valid => {
                    state.apply(tx);
                    state.valid.push(true);
                }
                Verdict::Invalid(reason) => {
                    tracing::debug!(group = %state.id, tx = ?tx.id, reason, "invalid group transaction");
                    state.valid.push(false);
                }
            }
        }
        state
    }

    fn judge(
        &self,
        tx: &TxRecord,
        resolver: &mut MemberRoleResolver<'_>,
        write_only_keys: &mut HashMap<String, String>,
        write_keys: &mut HashSet<String>,
    ) -> Verdict {
        let transactor = tx.author.as_str();
        let role = resolver.role_at(transactor, tx.made_at);
        if tx.is_private() {
            return if !self.is_account {
                Verdict::Invalid("Can't make private transactions in groups")
            } else if role == Some(Role::Admin) {
                Verdict::Valid
            } else {
                Verdict::Invalid("Only admins can make private transactions in groups")
            };
        }
        let Some(changes) = tx.changes() else {
            return Verdict::Invalid("changes could not be read");
        };
        let [change] = changes else {
            return Verdict::Invalid("Group transaction must have exactly one change");
        };
        if change.get("op").and_then(Value::as_str) != Some("set") {
            return Verdict::Invalid("Group transaction must set a role or readKey");
        }
        let Some(key) = change.get("key").and_then(Value::as_str) else {
            return Verdict::Invalid("Group transaction has no key");
        };
        let value = change.get("value");
        let admin_like = role.is_some_and(Role::is_admin_like);

        match key {
            "readKey" | "groupSealer" | "profile" | "root" => {
                return if admin_like {
                    Verdict::Valid
                } else {
                    Verdict::Invalid("Only admins can set readKey, groupSealer, profile or root")
                };
            }
            _ => {}
        }
        if is_key_for_key(key) || is_key_for_member(key) || is_key_sealed_for_group(key) {
            let allowed = role.is_some_and(Role::can_reveal_keys)
                || is_own_write_key_revelation(key, transactor, write_only_keys);
            return if allowed {
                Verdict::Valid
            } else {
                Verdict::Invalid("Only admins and managers can reveal keys")
            };
        }
        if let Some(parent_id) = key.strip_prefix("parent_") {
            return self.judge_parent(parent_id, value, admin_like, resolver);
        }
        if key.starts_with("child_") {
            return Verdict::Invalid("Child extensions are not allowed anymore");
        }
        if let Some(member) = key.strip_prefix("writeKeyFor_") {
            let may_set = matches!(
                role,
                Some(Role::Admin | Role::Manager | Role::WriteOnlyInvite)
            ) || member == transactor;
            if !may_set {
                return Verdict::Invalid("Only admins and managers can set writeKeys");
            }
            if let Some(key_id) = value.and_then(Value::as_str) {
                write_only_keys.insert(member.to_owned(), key_id.to_owned());
            }
            if write_keys.contains(key) && !admin_like {
                return Verdict::Invalid("Write key already exists and can't be overridden");
            }
            write_keys.insert(key.to_owned());
            return Verdict::Valid;
        }
        Self::judge_role_assignment(self, transactor, key, value, role, tx.made_at, resolver)
    }

    fn judge_parent(
        &self,
        parent_id: &str,
        value: Option<&Value>,
        admin_like: bool,
        resolver: &mut MemberRoleResolver<'_>,
    ) -> Verdict {
        if !admin_like {
            return Verdict::Invalid("Only admins and managers can set parent extensions");
        }
        let Some(parent) = resolver.groups.group(parent_id) else {
            return Verdict::Invalid("Parent group is not loaded or not a group");
        };
        if parent.extends(self.id.as_str(), resolver.groups) {
            return Verdict::Invalid("Parent group is a circular dependency");
        }
        match value
            .and_then(Value::as_str)
            .and_then(ParentRoleMapping::parse)
        {
            Some(ParentRoleMapping::Revoked) => resolver.parents.retain(|(id, _)| id != parent_id),
            Some(mapping) => resolver.set_parent(parent_id, mapping),
            None => {}
        }
        Verdict::Valid
    }

    fn judge_role_assignment(
        &self,
        transactor: &str,
        member: &str,
        value: Option<&Value>,
        role: Option<Role>,
        made_at: u64,
        resolver: &mut MemberRoleResolver<'_>,
    ) -> Verdict {
        let Some(assigned) = value.and_then(Value::as_str).and_then(Role::parse) else {
            return Verdict::Invalid("Group transaction must set a valid role");
        };
        if member == EVERYONE
            && !matches!(
                assigned,
                Role::Reader | Role::Writer | Role::WriteOnly | Role::Revoked
            )
        {
            return Verdict::Invalid(
                "Everyone can only be set to reader, writer, writeOnly or revoked",
            );
        }
        let bootstrap = role.is_none()
            && transactor == self.initial_admin
            && member == transactor
            && assigned == Role::Admin;
        let self_revocation = transactor == member && assigned == Role::Revoked;
        if bootstrap || self_revocation {
            resolver.direct.insert(member.to_owned(), assigned);
            return Verdict::Valid;
        }
        let member_role = resolver.role_at(member, made_at);
        let verdict = match role {
            Some(Role::Admin) => {
                if member_role == Some(Role::Admin)
                    && assigned != Role::Admin
                    && member != transactor
                {
                    Verdict::Invalid("Admins can't demote admins.")
                } else {
                    Verdict::Valid
                }
            }
            Some(Role::Manager) => {
                if member_role == Some(Role::Admin) {
                    Verdict::Invalid("Managers can't demote admins.")
                } else if matches!(
                    assigned,
                    Role::Admin | Role::AdminInvite | Role::ManagerInvite
                ) {
                    Verdict::Invalid(
                        "Managers can't promote to admin or invite admins or managers.",
                    )
                } else {
                    Verdict::Valid
                }
            }
            Some(invite) => match invite.invited_role() {
                Some(allowed) if allowed == assigned => Verdict::Valid,
                Some(_) => Verdict::Invalid("An invite can only create its own role."),
                None => Verdict::Invalid(
                    "Group transaction must be made by current admin, manager, or invite",
                ),
            },
            None => Verdict::Invalid(
                "Group transaction must be made by current admin, manager, or invite",
            ),
        };
        if matches!(verdict, Verdict::Valid) {
            resolver.direct.insert(member.to_owned(), assigned);
        }
        verdict
    }

    /// Records a valid transaction's changes (what `RawGroup` keeps from them).
    fn apply(&mut self, tx: &TxRecord) {
        let Some(changes) = tx.changes() else {
            return;
        };
        for change in changes {
            let Some(key) = change.get("key").and_then(Value::as_str) else {
                continue;
            };
            let value = match change.get("op").and_then(Value::as_str) {
                Some("set") => Some(change.get("value").cloned().unwrap_or(Value::Null)),
                Some("del") => None,
                _ => continue,
            };
            if let Some(set) = &value {
                if let Some(parent_id) = key.strip_prefix("parent_") {
                    let mapping = set.as_str().and_then(ParentRoleMapping::parse);
                    self.record_parent_change(parent_id, tx.made_at, mapping);
                } else if is_key_for_key(key) {
                    let parts: Vec<&str> = key.split("_for_").collect();
                    if let [encrypted, encrypting] = parts.as_slice() {
                        let list = self
                            .key_revelations
                            .entry((*encrypted).to_owned())
                            .or_default();
                        if !list.iter().any(|k| k == encrypting) {
                            list.push((*encrypting).to_owned());
                        }
                    }
                }
            }
            self.map.push(
                key,
                MapEntry {
                    made_at: tx.made_at,
                    tx: tx.id.clone(),
                    by: tx.author.clone(),
                    value,
                },
            );
        }
    }

    fn record_parent_change(
        &mut self,
        parent: &str,
        made_at: u64,
        mapping: Option<ParentRoleMapping>,
    ) {
        let index = match self.parents.iter().position(|(id, _)| id == parent) {
            Some(index) => index,
            None => {
                self.parents.push((parent.to_owned(), Vec::new()));
                self.parents.len() - 1
            }
        };
        if let Some((_, changes)) = self.parents.get_mut(index) {
            // Chronological insertion, after equal times (`TimeBasedEntry.addChange`).
            let at = changes
                .iter()
                .rposition(|(t, _)| *t <= made_at)
                .map_or(0, |i| i + 1);
            changes.insert(at, (made_at, mapping));
        }
    }

    /// The group's id.
    pub fn id(&self) -> &CoID {
        &self.id
    }

    /// Whether this group is an account.
    pub fn is_account(&self) -> bool {
        self.is_account
    }

    /// The header's `initialAdmin` (an account id or an agent id).
    pub fn initial_admin(&self) -> &str {
        &self.initial_admin
    }

    /// For an account: its agent (the initial admin agent), as text.
    pub fn account_agent(&self) -> Option<&str> {
        self.is_account.then_some(self.initial_admin.as_str())
    }

    /// The validated map (roles, keys, parents, `profile`, `root`, …).
    pub fn map(&self) -> &MapHistory {
        &self.map
    }

    /// Whether each input transaction (in the order given to [`GroupState::build`]) is valid.
    pub fn validity(&self) -> &[bool] {
        &self.valid
    }

    /// The key revelations of `key_id` for other keys (`key_id_for_<key>`), oldest first.
    pub fn key_revelations(&self, key_id: &str) -> &[String] {
        self.key_revelations.get(key_id).map_or(&[], Vec::as_slice)
    }

    /// The read keys found in this state (see [`super::keys::read_key`]).
    pub(crate) fn found_keys(&self) -> &FoundKeys {
        &self.found_keys
    }

    /// Every parent group ever referenced, in first-reference order.
    pub fn parent_ids(&self) -> impl Iterator<Item = &str> {
        self.parents.iter().map(|(id, _)| id.as_str())
    }

    /// The parent groups in effect at `at` (now when `None`) with their mapping.
    pub fn parents_at(&self, at: Option<u64>) -> impl Iterator<Item = (&str, ParentRoleMapping)> {
        self.parents.iter().filter_map(move |(id, changes)| {
            let latest = match at {
                None => changes.last(),
                Some(time) => changes.iter().rev().find(|(t, _)| *t <= time),
            };
            match latest {
                Some((_, Some(mapping))) if *mapping != ParentRoleMapping::Revoked => {
                    Some((id.as_str(), *mapping))
                }
                _ => None,
            }
        })
    }

    /// Whether `ancestor` is this group or one of its current ancestors (`isSelfExtension`).
    pub fn extends(&self, ancestor: &str, groups: &dyn GroupLookup) -> bool {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: Vec<&GroupState> = vec![self];
        while let Some(current) = queue.pop() {
            if current.id.as_str() == ancestor {
                return true;
            }
            seen.insert(current.id.as_str());
            for (parent_id, _) in current.parents_at(None) {
                if !seen.contains(parent_id)
                    && let Some(parent) = groups.group(parent_id)
                {
                    queue.push(parent);
                }
            }
        }
        false
    }

    /// The role of `member` at `at` (now when `None`): its own role, raised through parent
    /// groups, falling back to the `everyone` role (`roleOfInternal`). An account is admin
    /// in itself (cojson's `RawAccount.roleOfInternal`).
    pub fn role_of(&self, member: &str, at: Option<u64>, groups: &dyn GroupLookup) -> Option<Role> {
        self.role_of_at_depth(member, at, groups, 0)
    }

    fn role_of_at_depth(
        &self,
        member: &str,
        at: Option<u64>,
        groups: &dyn GroupLookup,
        depth: usize,
    ) -> Option<Role> {
        if self.is_account && member == self.id.as_str() {
            return Some(Role::Admin);
        }
        let mut role = self
            .map
            .get_str(member, at)
            .and_then(Role::parse)
            .filter(|r| *r != Role::Revoked);
        if depth < MAX_GROUP_DEPTH {
            for (parent_id, mapping) in self.parents_at(at) {
                let Some(parent) = groups.group(parent_id) else {
                    continue;
                };
                let Some(parent_role) = parent.role_of_at_depth(member, at, groups, depth + 1)
                else {
                    continue;
                };
                if !parent_role.is_inheritable() {
                    continue;
                }
                if let Some(inherited) = mapping.map(parent_role)
                    && should_inherit(inherited, role)
                {
                    role = Some(inherited);
                }
            }
        }
        if role.is_none() && member != EVERYONE {
            let everyone = self.map.get_str(EVERYONE, at).and_then(Role::parse);
            if let Some(everyone) = everyone.filter(|r| *r != Role::Revoked) {
                return Some(everyone);
            }
        }
        role
    }

    /// The member keys of this group and of its current parents, recursively
    /// (`getAllMemberKeysSet`), each once, own members first.
    pub fn all_member_keys<'a>(&'a self, groups: &'a dyn GroupLookup) -> Vec<&'a str> {
        let mut keys: Vec<&str> = Vec::new();
        let mut seen_groups: HashSet<&str> = HashSet::new();
        let mut queue: Vec<&GroupState> = vec![self];
        while let Some(group) = queue.pop() {
            if !seen_groups.insert(group.id.as_str()) {
                continue;
            }
            for key in group.member_keys() {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            for (parent_id, _) in group.parents_at(None) {
                if let Some(parent) = groups.group(parent_id) {
                    queue.push(parent);
                }
            }
        }
        keys
    }

    /// The member keys (account and agent ids) that have an entry in this group.
    pub fn member_keys(&self) -> impl Iterator<Item = &str> {
        self.map
            .keys()
            .filter(|k| k.starts_with("co_") || crate::crypto::AgentID::looks_like(k))
    }
}
