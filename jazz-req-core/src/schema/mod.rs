//! Typed CoValues: schemas for CoMaps (`#[derive(CoMap)]` fills in [`CoMapSchema`]), the
//! field types they hold ([`CoField`]), references ([`Ref`], [`Loaded`], [`CoList`],
//! [`Account`], [`Group`]), typed resolve queries, and typed writes ([`Tx`]).
//!
//! Everything here is written on [`LocalNode`](crate::cojson::LocalNode): a schema reads
//! the JSON the node reads, and writes through the node's own writes.
//!
//! Reading a value that does not fit its field — a number above 2^53 or a fraction into an
//! integer, a missing required field, a wrong type written by another peer — is a
//! [`SchemaError`] naming the CoValue and the field.
//!
//! A reference field marked `#[co(same_owner)]` must point at a CoValue owned by the
//! CoMap's own owner, or by a group extending it ([`SchemaError::ForeignReference`]
//! otherwise): a map someone made in their own group cannot borrow another group's list.
//! It is checked whenever the map is read with a node that holds the referenced CoValue —
//! for a route, on what its `resolve` loads, before the request is claimed.

mod error;
mod field;
mod list;
mod load;
mod map;
mod owner;
mod reference;
mod resolve;
mod serialize_key;
mod tx;
mod unique;

pub use error::{NotLoaded, SchemaError, invalid_request};
pub use field::{
    CoEnum, CoField, FieldSite, Json, MAX_SAFE_INTEGER, enum_read_field, enum_write_field,
};
pub use list::{CoList, CoListResolve, EACH, EachItems};
pub(crate) use load::load_resolved_noting;
pub use load::{LoadError, MAX_RESOLVE_LOADS, load_resolved, load_resolved_below};
pub use map::{
    CoMapSchema, FieldInfo, MapReader, MapWriter, read_fields, read_loaded, to_json_fields,
};
pub use owner::{ForeignReference, Owner, SameOwnerField};
pub use reference::{Account, Group, Loaded, Member, Ref};
pub use resolve::{LeafResolve, NotAReference, ResolveBuilder, ResolveFields, descend};
pub use serialize_key::SerializeKey;
pub use tx::Tx;
pub use unique::{AccountOrGroup, UniqueError, UniqueKind, unique_id};
pub(crate) use unique::{UniqueMode, read_list};
