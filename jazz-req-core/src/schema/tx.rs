//! Typed writes: a [`Tx`] is the worker's node held for one all-or-nothing group of reads
//! and writes (create CoMaps, lists and groups, update fields, edit lists, add members).

use serde_json::Value;

use super::error::SchemaError;
use super::field::CoField;
use super::list::CoList;
use super::map::{CoMapSchema, MapWriter, read_loaded};
use super::reference::{Group, Loaded, Member, Ref};
use super::resolve::ResolveBuilder;
use crate::cojson::permissions_role::Role;
use crate::cojson::{LocalNode, NodeError, Privacy, ResolveQuery};
use crate::crypto::CoID;

/// Typed reads and writes on a node, inside one atomic scope (see
/// [`RequestContext::transaction`](crate::request::RequestContext::transaction)). Values are
/// written as jazz-tools writes them: CoMaps and CoLists in private (encrypted)
/// transactions, groups in trusting ones.
pub struct Tx<'a> {
    node: &'a mut LocalNode,
}

impl<'a> Tx<'a> {
    /// Typed access to `node` (the caller provides the atomic scope).
    pub fn new(node: &'a mut LocalNode) -> Self {
        Self { node }
    }

    /// The node itself, for what the typed layer does not cover.
    pub fn node(&mut self) -> &mut LocalNode {
        self.node
    }

    /// Creates a group with this node's account as admin.
    pub fn create_group(&mut self) -> Result<Group, NodeError> {
        self.node.create_group().map(Group::new)
    }

    /// Gives `member` `role` in `group` (revealing the group's read key to it).
    pub fn add_member(
        &mut self,
        group: &Group,
        member: impl Into<Member>,
        role: Role,
    ) -> Result<(), NodeError> {
        self.node
            .add_member(group.id(), member.into().as_str(), role)
    }

    /// Revokes `member` from `group` (rotating the read key).
    pub fn remove_member(
        &mut self,
        group: &Group,
        member: impl Into<Member>,
    ) -> Result<(), NodeError> {
        self.node.remove_member(group.id(), member.into().as_str())
    }

    /// Creates a CoMap of schema `T` owned by `owner`, holding `value`.
    pub fn create<T: CoMapSchema>(
        &mut self,
        owner: &Group,
        value: T,
    ) -> Result<Loaded<T>, NodeError> {
        let fields = written_fields(&value);
        let init: Vec<(&str, Value)> = fields
            .iter()
            .filter_map(|(key, value)| Some((*key, value.clone()?)))
            .collect();
        let id = self.node.create_map(owner.id(), &init, Privacy::Private)?;
        Ok(Loaded::new(id, value, ResolveQuery::Value))
    }

    /// Creates a CoList of `T`s owned by `owner`, holding `items`.
    pub fn create_list<T: CoField>(
        &mut self,
        owner: &Group,
        items: Vec<T>,
    ) -> Result<CoList<T>, NodeError> {
        let values: Vec<Value> = items.iter().map(item_json).collect();
        let id = self
            .node
            .create_list(owner.id(), &values, Privacy::Private)?;
        Ok(CoList::loaded(id, items))
    }

    /// Changes fields of a loaded CoMap: `edit` changes the value in place, and every field
    /// whose JSON changed is written (an optional field set to `None` is deleted). Returns
    /// how many fields were written.
    pub fn update<T: CoMapSchema>(
        &mut self,
        map: &mut Loaded<T>,
        edit: impl FnOnce(&mut T),
    ) -> Result<usize, NodeError> {
        let before = written_fields(&**map);
        edit(map.value_mut());
        let after = written_fields(&**map);
        let id = map.id().clone();
        let mut written = 0;
        for ((key, old), (_, new)) in before.iter().zip(&after) {
            if old == new {
                continue;
            }
            match new {
                Some(value) => self
                    .node
                    .map_set(&id, key, value.clone(), Privacy::Private)?,
                None => self.node.map_delete(&id, key, Privacy::Private)?,
            }
            written += 1;
        }
        Ok(written)
    }

    /// Appends `item` to `list` (the list as it is now; a loaded snapshot of it is not
    /// changed — [`Tx::reload`] reads it again).
    pub fn push<T: CoField>(&mut self, list: &CoList<T>, item: T) -> Result<(), NodeError> {
        self.node
            .list_append(list.id(), item_json(&item), Privacy::Private)
    }

    /// Inserts `item` before the item at `index` of `list` (at the end when `index` is the
    /// length or more).
    pub fn insert<T: CoField>(
        &mut self,
        list: &CoList<T>,
        index: usize,
        item: T,
    ) -> Result<(), NodeError> {
        let len = self.node.list_entries(list.id())?.len();
        let before = (index < len).then_some(index);
        self.node
            .list_insert_before(list.id(), before, item_json(&item), Privacy::Private)
    }

    /// Deletes the item at `index` of `list`.
    pub fn remove<T: CoField>(&mut self, list: &CoList<T>, index: usize) -> Result<(), NodeError> {
        self.node.list_delete(list.id(), index, Privacy::Private)
    }

    /// Reads the CoMap `id` as `T` now (not a snapshot taken earlier), loading what `resolve`
    /// names: the read to check before a write.
    pub fn load<T: CoMapSchema>(
        &self,
        id: &CoID,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, SchemaError> {
        read_loaded(self.node, id, &resolve.into_query())
    }

    /// Reads `value` again as it is now, as deep as it was read.
    pub fn reload<T: CoMapSchema>(&self, value: &Loaded<T>) -> Result<Loaded<T>, SchemaError> {
        read_loaded(self.node, value.id(), value.query())
    }

    /// Reads what `reference` points to now, with `resolve`.
    pub fn get<T: CoMapSchema>(
        &self,
        reference: &Ref<T>,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, SchemaError> {
        self.load(reference.id(), resolve)
    }
}

/// The fields a schema value writes, in declaration order (`None`: absent).
fn written_fields<T: CoMapSchema>(value: &T) -> Vec<(&'static str, Option<Value>)> {
    let mut writer = MapWriter::default();
    value.write_map(&mut writer);
    writer.into_fields()
}

/// A list item's JSON (an absent optional item is `null`, as in jazz-tools).
fn item_json<T: CoField>(item: &T) -> Value {
    item.write_field().unwrap_or(Value::Null)
}
