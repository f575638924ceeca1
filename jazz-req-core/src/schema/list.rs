//! A reference to a CoList (jazz-tools' `co.list(T)`): its items when the resolve query
//! loaded it.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::error::{NotLoaded, SchemaError, from_node};
use super::field::{CoField, FieldSite};
use super::resolve::{ResolveBuilder, sub_query};
use crate::cojson::{CoValueType, LocalNode, ResolveQuery};
use crate::crypto::CoID;

/// The key of a resolve query that applies to every item of a list.
pub const EACH: &str = "$each";

/// A CoList whose items are `T`s: its id, and its items when loaded.
pub struct CoList<T> {
    id: CoID,
    items: Option<Arc<Vec<T>>>,
}

impl<T> CoList<T> {
    /// A reference to the list `id` (not loaded).
    pub fn new(id: CoID) -> Self {
        Self { id, items: None }
    }

    pub(crate) fn loaded(id: CoID, items: Vec<T>) -> Self {
        Self::loaded_shared(id, Arc::new(items))
    }

    /// A loaded list whose items are shared with the node's kept read of it.
    pub(crate) fn loaded_shared(id: CoID, items: Arc<Vec<T>>) -> Self {
        Self {
            id,
            items: Some(items),
        }
    }

    /// The list's id.
    pub fn id(&self) -> &CoID {
        &self.id
    }

    /// The items, if the resolve query loaded the list.
    pub fn items(&self) -> Result<&[T], NotLoaded> {
        self.items
            .as_deref()
            .map(Vec::as_slice)
            .ok_or_else(|| NotLoaded(self.id.clone()))
    }

    /// How many items the loaded list has.
    pub fn len(&self) -> Result<usize, NotLoaded> {
        self.items().map(<[T]>::len)
    }

    /// Whether the loaded list is empty.
    pub fn is_empty(&self) -> Result<bool, NotLoaded> {
        self.items().map(<[T]>::is_empty)
    }
}

impl<T: CoField> CoList<T> {
    /// An empty resolve query over a list of `T`s (`true`), to name what to load of its
    /// items on (`CoList::<Ref<Ticket>>::resolve().each(|t| t)`), as
    /// [`CoMapSchema::resolve`](super::CoMapSchema::resolve) does for a map.
    pub fn resolve() -> CoListResolve<T> {
        CoListResolve::default()
    }
}

impl<T> Clone for CoList<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            items: self.items.clone(),
        }
    }
}

impl<T> PartialEq for CoList<T> {
    /// Two list references are equal when they point to the same list.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T: fmt::Debug> fmt::Debug for CoList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.items {
            Some(items) => f
                .debug_struct("CoList")
                .field("id", &self.id)
                .field("items", items)
                .finish(),
            None => write!(f, "CoList({})", self.id),
        }
    }
}

/// Reads the items of the list `id` from `node`, each with `each` (the `$each` query). Items
/// that depend on nothing but their own JSON (no `$each`, and a `T` that reads no other
/// CoValue) are shared with the node's kept read of the list: read once, and afterwards
/// only the items appended since.
pub(crate) fn read_items<T: CoField>(
    node: &LocalNode,
    id: &CoID,
    each: Option<&ResolveQuery>,
    site: &FieldSite<'_>,
) -> Result<Arc<Vec<T>>, SchemaError> {
    let is_list = node
        .get(id)
        .map(|value| value.header().co_type == CoValueType::CoList);
    if is_list == Some(true) && each.is_none() && !T::reads_other_covalues() {
        let read = node.owned_transactions(id).map_err(|e| from_node(id, e))?;
        return read.typed_items(|index, item| T::read_field(Some(item), &site.item(index, None)));
    }
    let read = node.read(id).map_err(|e| from_node(id, e))?;
    let (CoValueType::CoList, Value::Array(items)) = (read.co_type, &read.value) else {
        return Err(SchemaError::WrongKind {
            covalue: id.clone(),
            expected: "CoList",
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| T::read_field(Some(item), &site.item(index, each)))
        .collect::<Result<Vec<T>, _>>()
        .map(Arc::new)
}

#[diagnostic::do_not_recommend]
impl<T: CoField> CoField for CoList<T> {
    type Resolve = CoListResolve<T>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let value = site.required(value)?;
        let id = value
            .as_str()
            .and_then(|s| CoID::parse(s).ok())
            .ok_or_else(|| site.wrong_type("a CoList id (co_z…)", value))?;
        let Some(query) = site.query() else {
            return Ok(Self::new(id));
        };
        let node = site.node().ok_or_else(|| NotLoaded(id.clone()))?;
        let list_site = FieldSite {
            covalue: &id,
            ..*site
        };
        let items = read_items(node, &id, sub_query(query, EACH), &list_site)?;
        Ok(Self::loaded_shared(id, items))
    }
    fn write_field(&self) -> Option<Value> {
        Some(Value::String(self.id.as_str().to_owned()))
    }
    fn resolve_query(resolve: Self::Resolve) -> ResolveQuery {
        resolve.into_query()
    }
}

/// The resolve builder of a list: `true` loads the list, `$each` (`.each(…)`) its items.
pub struct CoListResolve<T: CoField> {
    each: Option<ResolveQuery>,
    item: std::marker::PhantomData<fn() -> T>,
}

impl<T: CoField> Default for CoListResolve<T> {
    fn default() -> Self {
        Self {
            each: None,
            item: std::marker::PhantomData,
        }
    }
}

impl<T: CoField> CoListResolve<T> {
    /// Loads every item with what `nested` asks (`$each`).
    #[must_use]
    pub fn each(mut self, nested: impl FnOnce(T::Resolve) -> T::Resolve) -> Self {
        self.each = Some(T::resolve_query(nested(T::Resolve::default())));
        self
    }
}

/// A resolve builder with items to load: `$each` in a resolve query (`{ list: { $each: … }
/// }`) is `EachItems::each` in the code `#[jazz_request]` generates, so `$each` on a field
/// that is no CoList is one error at `$each` saying where it applies.
#[diagnostic::on_unimplemented(
    message = "`$each` applies to a CoList field: it loads every item of the list",
    label = "`$each` here is not inside a CoList field",
    note = "write `{{ list: {{ $each: true }} }}` for a CoList field `list`; a CoMap's own fields are named one by one"
)]
pub trait EachItems {
    /// The resolve builder of one item.
    type Item;

    /// Loads every item with what `nested` asks (`$each`).
    #[must_use]
    fn each(self, nested: impl FnOnce(Self::Item) -> Self::Item) -> Self;
}

// Kept out of rustc's "other types implement" lists: the message says what fits.
#[diagnostic::do_not_recommend]
impl<T: CoField> EachItems for CoListResolve<T> {
    type Item = T::Resolve;

    fn each(self, nested: impl FnOnce(T::Resolve) -> T::Resolve) -> Self {
        CoListResolve::each(self, nested)
    }
}

#[diagnostic::do_not_recommend]
impl<T: CoField> ResolveBuilder for CoListResolve<T> {
    fn into_query(self) -> ResolveQuery {
        match self.each {
            Some(each) => ResolveQuery::Fields(vec![(EACH.to_owned(), each)]),
            None => ResolveQuery::Value,
        }
    }
}
