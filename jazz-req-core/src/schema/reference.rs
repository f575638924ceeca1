//! References between CoValues: to a CoMap of a schema ([`Ref`], or [`Loaded`] when it must
//! be loaded), to an [`Account`] or a [`Group`]; and who a group's member is ([`Member`]).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde_json::Value;

use super::error::{NotLoaded, SchemaError};
use super::field::{CoField, FieldSite};
use super::map::{CoMapSchema, read_loaded};
use super::resolve::{LeafResolve, ResolveBuilder};
use crate::cojson::ResolveQuery;
use crate::crypto::CoID;

/// Reads a reference's id from a field value.
fn read_id(value: Option<&Value>, site: &FieldSite<'_>) -> Result<CoID, SchemaError> {
    let value = site.required(value)?;
    value
        .as_str()
        .and_then(|s| CoID::parse(s).ok())
        .ok_or_else(|| site.wrong_type("a CoValue id (co_z…)", value))
}

/// A CoMap of schema `T` with its id, read as far as a resolve query asked: derefs to `T`.
#[derive(Clone)]
pub struct Loaded<T> {
    id: CoID,
    value: T,
    query: ResolveQuery,
}

impl<T> Loaded<T> {
    pub(crate) fn new(id: CoID, value: T, query: ResolveQuery) -> Self {
        Self { id, value, query }
    }

    /// The CoMap's id.
    pub fn id(&self) -> &CoID {
        &self.id
    }

    /// A reference to this CoMap (to store in another CoValue's field).
    pub fn to_ref(&self) -> Ref<T> {
        Ref::new(self.id.clone())
    }

    /// The resolve query it was read with (what [`Tx::reload`](super::Tx::reload) reads
    /// again).
    pub fn query(&self) -> &ResolveQuery {
        &self.query
    }

    /// The value, without its id.
    pub fn into_inner(self) -> T {
        self.value
    }

    pub(crate) fn value_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> std::ops::Deref for Loaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("id", &self.id)
            .field("value", &self.value)
            .finish()
    }
}

impl<T: PartialEq> PartialEq for Loaded<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.value == other.value
    }
}

#[diagnostic::do_not_recommend]
impl<T: CoMapSchema> CoField for Loaded<T> {
    type Resolve = T::Resolve;
    /// Always reads the CoMap (with `true` when the query does not name it): a `Loaded`
    /// field is loaded by definition.
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let id = read_id(value, site)?;
        let node = site.node().ok_or_else(|| NotLoaded(id.clone()))?;
        read_loaded(node, &id, site.query().unwrap_or(&ResolveQuery::Value))
    }
    fn write_field(&self) -> Option<Value> {
        Some(Value::String(self.id.as_str().to_owned()))
    }
    fn resolve_query(resolve: Self::Resolve) -> ResolveQuery {
        resolve.into_query()
    }
}

/// A reference to a CoMap of schema `T` (a `co.map` field of another CoMap or a list item):
/// loaded when the resolve query named it.
pub struct Ref<T> {
    id: CoID,
    loaded: Option<Arc<Loaded<T>>>,
    schema: PhantomData<fn() -> T>,
}

impl<T> Ref<T> {
    /// A reference to the CoMap `id` (not loaded).
    pub fn new(id: CoID) -> Self {
        Self {
            id,
            loaded: None,
            schema: PhantomData,
        }
    }

    /// The referenced CoMap's id.
    pub fn id(&self) -> &CoID {
        &self.id
    }

    /// The referenced CoMap, if the resolve query loaded it.
    pub fn get(&self) -> Result<&Loaded<T>, NotLoaded> {
        self.loaded
            .as_deref()
            .ok_or_else(|| NotLoaded(self.id.clone()))
    }

    /// Whether the resolve query loaded it.
    pub fn is_loaded(&self) -> bool {
        self.loaded.is_some()
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            loaded: self.loaded.clone(),
            schema: PhantomData,
        }
    }
}

impl<T> PartialEq for Ref<T> {
    /// Two references are equal when they point to the same CoMap.
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Eq for Ref<T> {}

impl<T: fmt::Debug> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loaded {
            Some(loaded) => fmt::Debug::fmt(loaded, f),
            None => write!(f, "Ref({})", self.id),
        }
    }
}

impl<T> From<&Loaded<T>> for Ref<T> {
    fn from(loaded: &Loaded<T>) -> Self {
        Ref::new(loaded.id.clone())
    }
}

impl<T: CoMapSchema> From<Loaded<T>> for Ref<T> {
    fn from(loaded: Loaded<T>) -> Self {
        Self {
            id: loaded.id.clone(),
            loaded: Some(Arc::new(loaded)),
            schema: PhantomData,
        }
    }
}

#[diagnostic::do_not_recommend]
impl<T: CoMapSchema> CoField for Ref<T> {
    type Resolve = T::Resolve;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let id = read_id(value, site)?;
        let Some(query) = site.query() else {
            return Ok(Self::new(id));
        };
        let node = site.node().ok_or_else(|| NotLoaded(id.clone()))?;
        let loaded = read_loaded(node, &id, query)?;
        Ok(Self {
            id,
            loaded: Some(Arc::new(loaded)),
            schema: PhantomData,
        })
    }
    fn write_field(&self) -> Option<Value> {
        Some(Value::String(self.id.as_str().to_owned()))
    }
    fn resolve_query(resolve: Self::Resolve) -> ResolveQuery {
        resolve.into_query()
    }
    fn reads_other_covalues() -> bool {
        false
    }
}

/// Reads an account's or a group's id; with a query, the node must hold it.
fn read_leaf(value: Option<&Value>, site: &FieldSite<'_>) -> Result<CoID, SchemaError> {
    let id = read_id(value, site)?;
    if site.query().is_some() && site.node().is_none_or(|node| node.get(&id).is_none()) {
        return Err(NotLoaded(id).into());
    }
    Ok(id)
}

macro_rules! leaf_reference {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name {
            id: CoID,
        }

        impl $name {
            /// A reference to `id`.
            pub fn new(id: CoID) -> Self {
                Self { id }
            }

            /// Its id.
            pub fn id(&self) -> &CoID {
                &self.id
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.id, f)
            }
        }

        #[diagnostic::do_not_recommend]
        impl CoField for $name {
            type Resolve = LeafResolve;
            fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
                read_leaf(value, site).map(Self::new)
            }
            fn write_field(&self) -> Option<Value> {
                Some(Value::String(self.id.as_str().to_owned()))
            }
            fn resolve_query(resolve: Self::Resolve) -> ResolveQuery {
                resolve.into_query()
            }
            fn reads_other_covalues() -> bool {
                false
            }
        }
    };
}

leaf_reference!(
    /// A Jazz account (a `co.account()` reference; a request's sender is one).
    Account
);
leaf_reference!(
    /// A group (who may read and write the CoValues it owns).
    Group
);

/// A member of a group: an account, or everyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    /// One account.
    Account(CoID),
    /// Everyone (`"everyone"`), reader or writer only.
    Everyone,
}

impl Member {
    /// How cojson names the member in a group.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Account(id) => id.as_str(),
            Self::Everyone => crate::cojson::group::EVERYONE,
        }
    }
}

impl From<&Account> for Member {
    fn from(account: &Account) -> Self {
        Self::Account(account.id.clone())
    }
}

impl From<Account> for Member {
    fn from(account: Account) -> Self {
        Self::Account(account.id)
    }
}

impl From<&CoID> for Member {
    fn from(id: &CoID) -> Self {
        Self::Account(id.clone())
    }
}
