//! Unique CoValues: jazz-tools' `CoMap.getOrCreateUnique`, `upsertUnique` and `loadUnique`
//! (and the `CoList` ones).
//!
//! A unique CoValue has no random part in its header: its id is a pure function of its kind
//! (map or list), its owner and a key the app picks (jazz-tools' `getUniqueHeader`:
//! `{type, ruleset: {type: "ownedByGroup", group: owner}, meta: null, uniqueness: key}`,
//! no `createdAt`). Every peer that asks for "the settings of this group" computes the same
//! id, so it can load the value — or create it, if nobody has yet.
//!
//! Two peers may create it at the same time, each before seeing the other's. The value
//! then holds two inits; `getOrCreateUnique` writes its init with transaction meta
//! `{"fww": "init"}` (first writer wins), so once the two inits meet, every peer keeps the
//! earlier one (smallest `madeAt`) and ignores the other's fields as cojson does.
//!
//! Here:
//! - [`unique_id`] computes the id ([`UniqueKind`] says which header `type`);
//! - [`Tx::get_or_create_unique`], [`Tx::upsert_unique`], [`Tx::load_unique`] and the
//!   list forms work on the node at hand (after its store);
//! - `RequestContext`'s async forms (`get_or_create_unique`, …) first load through the
//!   worker's peers — its store, then its sync server — and then create or update inside
//!   one node transaction.
//!
//! The key is a string (what jazz-tools apps use) or any other [`Uniqueness`]: `&str` and
//! `String`, `bool`, `i32` and `u32` convert into it, and `Uniqueness::Object` takes a map
//! of strings. (Integers are limited to what a JS number holds exactly: beyond 2^53, JS
//! would write another number and compute another id.)

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::{SchemaError, from_node};
use super::field::{CoField, FieldSite};
use super::list::{CoList, read_items};
use super::load::{LoadError, load_resolved};
use super::map::{CoMapSchema, MapWriter, read_loaded};
use super::reference::{Account, Group, Loaded};
use super::resolve::ResolveBuilder;
use super::tx::Tx;
use crate::cojson::{CoValueType, LocalNode, NodeError, Privacy, ResolveQuery, Uniqueness};
use crate::crypto::CoID;
use crate::request::JazzRequestError;

/// Who may own a CoValue: a [`Group`] or an [`Account`] (jazz-tools' `owner: Account |
/// Group`; a value owned by an account is owned by the account's own group, and its id
/// names the account).
pub trait AccountOrGroup {
    /// The id the owned value's header names (`ruleset.group`).
    fn owner_id(&self) -> &CoID;
}

impl AccountOrGroup for Group {
    fn owner_id(&self) -> &CoID {
        self.id()
    }
}

impl AccountOrGroup for Account {
    fn owner_id(&self) -> &CoID {
        self.id()
    }
}

/// A kind of CoValue that can be unique, and the header `type` its id is computed with: a
/// CoMap schema (`"comap"`) or a [`CoList`] (`"colist"`).
pub trait UniqueKind {
    /// The header's `type`.
    const CO_TYPE: CoValueType;
}

impl<T: CoMapSchema> UniqueKind for T {
    const CO_TYPE: CoValueType = CoValueType::CoMap;
}

impl<T> UniqueKind for CoList<T> {
    const CO_TYPE: CoValueType = CoValueType::CoList;
}

/// The id of the unique `T` owned by `owner` with the key `unique`: the id jazz-tools
/// computes for `getOrCreateUnique` / `loadUnique` (its deprecated `findUnique`), whether
/// or not the value exists.
///
/// ```
/// use jazz_req_core::crypto::CoID;
/// use jazz_req_core::schema::{Account, CoList, Group, unique_id};
/// # use jazz_req_core::schema::{CoMapSchema, FieldInfo, LeafResolve, MapReader, MapWriter, SchemaError};
/// # struct Settings { theme: String }
/// # impl CoMapSchema for Settings {
/// #     const NAME: &'static str = "Settings";
/// #     const FIELDS: &'static [FieldInfo] = &[FieldInfo { rust: "theme", json: "theme" }];
/// #     type Resolve = LeafResolve;
/// #     fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> { Ok(Self { theme: map.field("theme")? }) }
/// #     fn write_map(&self, map: &mut MapWriter) { map.field("theme", &self.theme) }
/// # }
/// let group = Group::new(CoID::parse("co_zMgSQNu1pdo8WVeScfDVdkTy5xy")?);
/// // `Settings` is a `#[derive(CoMap)]` struct: `Settings.findUnique("user-settings", group.id)`.
/// let settings = unique_id::<Settings>("user-settings", &group);
/// assert_eq!(settings, unique_id::<Settings>("user-settings", &group));
/// // A list never shares a map's id, nor a value of another owner or key. (An account owns
/// // what it owns as a group: `Account::new(id)` and `Group::new(id)` give the same id.)
/// let ada = Account::new(CoID::parse("co_zeRLv5zQ5vuweEaJ7NqWC69w3e5")?);
/// assert_ne!(settings, unique_id::<CoList<String>>("user-settings", &group));
/// assert_ne!(settings, unique_id::<Settings>("user-settings", &ada));
/// assert_ne!(settings, unique_id::<Settings>(7, &group));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn unique_id<T: UniqueKind>(
    unique: impl Into<Uniqueness>,
    owner: &impl AccountOrGroup,
) -> CoID {
    LocalNode::unique_id(T::CO_TYPE, owner.owner_id(), &unique.into())
}

impl From<&str> for Uniqueness {
    /// A string key (what jazz-tools apps pass as `unique`).
    fn from(key: &str) -> Self {
        Self::String(key.to_owned())
    }
}

impl From<String> for Uniqueness {
    /// A string key.
    fn from(key: String) -> Self {
        Self::String(key)
    }
}

impl From<&String> for Uniqueness {
    /// A string key.
    fn from(key: &String) -> Self {
        Self::String(key.clone())
    }
}

impl From<bool> for Uniqueness {
    /// A boolean key.
    fn from(key: bool) -> Self {
        Self::Bool(key)
    }
}

impl From<i32> for Uniqueness {
    /// An integer key.
    fn from(key: i32) -> Self {
        Self::Integer(i64::from(key))
    }
}

impl From<u32> for Uniqueness {
    /// An integer key.
    fn from(key: u32) -> Self {
        Self::Integer(i64::from(key))
    }
}

impl From<BTreeMap<String, String>> for Uniqueness {
    /// An object key (`{"kind": "settings", "user": "co_z…"}`).
    fn from(key: BTreeMap<String, String>) -> Self {
        Self::Object(key)
    }
}

/// Why a unique CoValue could not be loaded, created or updated.
#[derive(Debug, thiserror::Error)]
pub enum UniqueError {
    /// The node could not write it (the node's account may not write to the owner:
    /// [`NodeError::NotPermitted`]; the owner is not loaded; …) or its store failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// It exists but does not read as the schema (or what it references is not loaded).
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

impl From<UniqueError> for JazzRequestError {
    /// As the two errors it wraps: a write the worker may not make is 403, anything else
    /// is the worker's fault (500, logged).
    fn from(error: UniqueError) -> Self {
        match error {
            UniqueError::Node(error) => error.into(),
            UniqueError::Schema(error) => error.into(),
        }
    }
}

/// Reads the list `id` from `node`, each item with `each` (the `$each` query).
pub(crate) fn read_list<T: CoField>(
    node: &LocalNode,
    id: &CoID,
    each: Option<&ResolveQuery>,
) -> Result<CoList<T>, SchemaError> {
    let site = FieldSite {
        covalue: id,
        schema: "CoList",
        field: "",
        index: None,
        query: None,
        node: Some(node),
    };
    read_items(node, id, each, &site).map(|items| CoList::loaded_shared(id.clone(), items))
}

/// Whether `node` holds `id` once what `query` reaches from it is loaded from its store (a
/// value that is held but cannot be read fully still counts: reading it tells why).
fn holds(node: &mut LocalNode, id: &CoID, query: &ResolveQuery) -> Result<bool, NodeError> {
    match load_resolved(node, id, query) {
        Ok(()) => Ok(true),
        Err(LoadError::NotFound(_)) => Ok(node.get(id).is_some()),
        Err(LoadError::Storage(error)) => Err(error),
    }
}

/// The fields `value` writes, with their JSON (`None`: absent).
fn written_fields<T: CoMapSchema>(value: &T) -> Vec<(&'static str, Option<Value>)> {
    let mut writer = MapWriter::default();
    value.write_map(&mut writer);
    writer.into_fields()
}

/// A list item's JSON (an absent optional item is `null`, as in jazz-tools).
fn item_json<T: CoField>(item: &T) -> Value {
    item.write_field().unwrap_or(Value::Null)
}

impl Tx<'_> {
    /// Reads the unique `T` owned by `owner` with the key `unique` (from the node, else its
    /// store), loading what `resolve` names; `None` when neither holds it (jazz-tools'
    /// `loadUnique`, without asking a sync server: `RequestContext::load_unique` does).
    ///
    /// # Errors
    /// [`UniqueError::Schema`] when it exists but does not read as `T` with `resolve`;
    /// [`UniqueError::Node`] when the store fails.
    pub fn load_unique<T: CoMapSchema>(
        &mut self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        resolve: impl ResolveBuilder,
    ) -> Result<Option<Loaded<T>>, UniqueError> {
        let id = unique_id::<T>(unique, owner);
        let query = resolve.into_query();
        if !holds(self.node(), &id, &query)? {
            return Ok(None);
        }
        Ok(Some(read_loaded(self.node(), &id, &query)?))
    }

    /// The unique `T` owned by `owner` with the key `unique`: read as it is when the node
    /// (or its store) holds it — `value` is then not written — else created holding `value`,
    /// with its init marked first-writer-wins (jazz-tools' `getOrCreateUnique`): if another
    /// peer created it too, each before seeing the other, every peer keeps the init written
    /// first.
    ///
    /// This looks only at the node and its store. In a route, prefer
    /// `RequestContext::get_or_create_unique`, which asks the sync server first: a value
    /// the worker has not seen yet is found there instead of created again.
    ///
    /// ```
    /// use jazz_req_core::schema::{Loaded, Tx};
    /// # use jazz_req_core::schema::{CoMapSchema, FieldInfo, LeafResolve, MapReader, MapWriter, SchemaError};
    /// # #[derive(Debug, PartialEq)] struct Settings { theme: String }
    /// # impl CoMapSchema for Settings {
    /// #     const NAME: &'static str = "Settings";
    /// #     const FIELDS: &'static [FieldInfo] = &[FieldInfo { rust: "theme", json: "theme" }];
    /// #     type Resolve = LeafResolve;
    /// #     fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError> { Ok(Self { theme: map.field("theme")? }) }
    /// #     fn write_map(&self, map: &mut MapWriter) { map.field("theme", &self.theme) }
    /// # }
    /// # let secret = jazz_req_core::crypto::random::new_random_agent_secret()?;
    /// # let (mut node, _) = jazz_req_core::cojson::LocalNode::create_account(secret, "Ada")?;
    /// // `Settings` is a `#[derive(CoMap)]` struct; `node` a node of the user's account.
    /// let mut tx = Tx::new(&mut node);
    /// let group = tx.create_group()?;
    /// let first: Loaded<Settings> =
    ///     tx.get_or_create_unique("settings", &group, Settings { theme: "dark".into() })?;
    /// // Asking again finds it, and leaves it as it is.
    /// let again: Loaded<Settings> =
    ///     tx.get_or_create_unique("settings", &group, Settings { theme: "light".into() })?;
    /// assert_eq!(again.id(), first.id());
    /// assert_eq!(again.theme, "dark");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`UniqueError::Node`] when it must be created and the node's account may not write
    /// to `owner` ([`NodeError::NotPermitted`]) or the owner is not loaded;
    /// [`UniqueError::Schema`] when it exists and does not read as `T`.
    pub fn get_or_create_unique<T: CoMapSchema>(
        &mut self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        value: T,
    ) -> Result<Loaded<T>, UniqueError> {
        self.create_or_change_unique(unique.into(), owner, value, UniqueMode::GetOrCreate)
    }

    /// Like [`Tx::get_or_create_unique`], but when the value exists, `value` is what it
    /// should hold now: every field whose JSON differs is written (an optional field set to
    /// `None` is deleted), the others are left alone (jazz-tools' `upsertUnique`, whose
    /// `applyDiff` writes only what changed). A value it creates is an ordinary one
    /// (jazz-tools does not mark an upsert's init first-writer-wins). Returns the value as
    /// it reads afterwards.
    ///
    /// # Errors
    /// As [`Tx::get_or_create_unique`]; also [`UniqueError::Node`] when the value exists and
    /// the node's account may not write to it.
    pub fn upsert_unique<T: CoMapSchema>(
        &mut self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        value: T,
    ) -> Result<Loaded<T>, UniqueError> {
        self.create_or_change_unique(unique.into(), owner, value, UniqueMode::Upsert)
    }

    /// Get-or-create or upsert, as `mode` says.
    pub(crate) fn create_or_change_unique<T: CoMapSchema>(
        &mut self,
        unique: Uniqueness,
        owner: &impl AccountOrGroup,
        value: T,
        mode: UniqueMode,
    ) -> Result<Loaded<T>, UniqueError> {
        let id = LocalNode::unique_id(CoValueType::CoMap, owner.owner_id(), &unique);
        let fields = written_fields(&value);
        let node = self.node();
        if holds(node, &id, &ResolveQuery::Value)? {
            if mode == UniqueMode::Upsert {
                write_differences(node, &id, &fields)?;
            }
            return Ok(read_loaded(node, &id, &ResolveQuery::Value)?);
        }
        holds(node, owner.owner_id(), &ResolveQuery::Value)?;
        let init: Vec<(&str, Value)> = fields
            .iter()
            .filter_map(|(key, value)| Some((*key, value.clone()?)))
            .collect();
        let created = node.create_unique_map(
            owner.owner_id(),
            unique,
            &init,
            mode == UniqueMode::GetOrCreate,
        )?;
        Ok(Loaded::new(created, value, ResolveQuery::Value))
    }

    /// Reads the unique list of `T`s owned by `owner` with the key `unique` (from the node,
    /// else its store; items read without loading what they reference); `None` when
    /// neither holds it (jazz-tools' `CoList.loadUnique`).
    ///
    /// # Errors
    /// As [`Tx::load_unique`].
    pub fn load_unique_list<T: CoField>(
        &mut self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
    ) -> Result<Option<CoList<T>>, UniqueError> {
        let id = unique_id::<CoList<T>>(unique, owner);
        if !holds(self.node(), &id, &ResolveQuery::Value)? {
            return Ok(None);
        }
        Ok(Some(read_list(self.node(), &id, None)?))
    }

    /// The unique list of `T`s owned by `owner` with the key `unique`: read when the node
    /// (or its store) holds it, else created holding `items`, first writer wins (jazz-tools'
    /// `CoList.getOrCreateUnique`). The list is returned loaded (its items read without
    /// loading what they reference).
    ///
    /// ```
    /// use jazz_req_core::schema::{CoList, Tx};
    /// # let secret = jazz_req_core::crypto::random::new_random_agent_secret()?;
    /// # let (mut node, _) = jazz_req_core::cojson::LocalNode::create_account(secret, "Ada")?;
    /// let mut tx = Tx::new(&mut node);
    /// let group = tx.create_group()?;
    /// let tags: CoList<String> =
    ///     tx.get_or_create_unique_list("tags", &group, vec!["jazz".to_owned()])?;
    /// let again: CoList<String> = tx.get_or_create_unique_list("tags", &group, Vec::new())?;
    /// assert_eq!(again.id(), tags.id());
    /// assert_eq!(again.items()?, ["jazz".to_owned()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tx::get_or_create_unique`].
    pub fn get_or_create_unique_list<T: CoField>(
        &mut self,
        unique: impl Into<Uniqueness>,
        owner: &impl AccountOrGroup,
        items: Vec<T>,
    ) -> Result<CoList<T>, UniqueError> {
        let unique = unique.into();
        let id = LocalNode::unique_id(CoValueType::CoList, owner.owner_id(), &unique);
        let node = self.node();
        if holds(node, &id, &ResolveQuery::Value)? {
            return Ok(read_list(node, &id, None)?);
        }
        holds(node, owner.owner_id(), &ResolveQuery::Value)?;
        let values: Vec<Value> = items.iter().map(item_json).collect();
        let created = node.create_unique_list(owner.owner_id(), unique, &values, true)?;
        Ok(CoList::loaded(created, items))
    }
}

/// What to do with a unique map that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UniqueMode {
    /// Leave it (and mark a new one's init first-writer-wins).
    GetOrCreate,
    /// Write what differs (and create a new one plainly).
    Upsert,
}

/// Writes each of `fields` whose JSON differs from what the map `id` holds now (deleting
/// the fields that should be absent and are not).
fn write_differences(
    node: &mut LocalNode,
    id: &CoID,
    fields: &[(&'static str, Option<Value>)],
) -> Result<(), UniqueError> {
    let now = node.read(id).map_err(|e| from_node(id, e))?;
    let Value::Object(now) = now.value else {
        return Err(SchemaError::WrongKind {
            covalue: id.clone(),
            expected: "CoMap",
        }
        .into());
    };
    for (key, wanted) in fields {
        if now.get(*key) == wanted.as_ref() {
            continue;
        }
        match wanted {
            Some(value) => node.map_set(id, key, value.clone(), Privacy::Private)?,
            None => node.map_delete(id, key, Privacy::Private)?,
        }
    }
    Ok(())
}
