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

mod error;
mod field;
mod list;
mod load;
mod map;
mod reference;
mod resolve;
mod tx;

pub use error::{NotLoaded, SchemaError};
pub use field::{
    CoEnum, CoField, FieldSite, Json, MAX_SAFE_INTEGER, enum_read_field, enum_write_field,
};
pub use list::{CoList, CoListResolve, EACH};
pub use load::{LoadError, MAX_RESOLVE_LOADS, load_resolved};
pub use map::{
    CoMapSchema, FieldInfo, MapReader, MapWriter, read_fields, read_loaded, to_json_fields,
};
pub use reference::{Account, Group, Loaded, Member, Ref};
pub use resolve::{LeafResolve, NotAReference, ResolveBuilder, ResolveFields, descend};
pub use tx::Tx;

pub(crate) use error::invalid_request;
