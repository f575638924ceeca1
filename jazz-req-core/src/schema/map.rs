//! The schema of a CoMap (jazz-tools' `co.map({...})`): what `#[derive(CoMap)]` fills in,
//! and the reader and writer its generated code calls.

use serde_json::{Map, Value};

use super::error::{SchemaError, from_node};
use super::field::{CoField, FieldSite};
use super::owner::check_same_owner;
use super::reference::Loaded;
use super::resolve::{ResolveBuilder, sub_query};
use crate::cojson::{CoValueType, LocalNode, ResolveQuery};
use crate::crypto::CoID;

/// A field of a schema: its Rust name and its JSON (jazz-tools) name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldInfo {
    /// The Rust field name.
    pub rust: &'static str,
    /// The key in the CoMap.
    pub json: &'static str,
}

/// A CoMap schema: a Rust struct whose fields are [`CoField`]s. Implement it with
/// `#[derive(CoMap)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a CoMap schema",
    label = "not a CoMap schema",
    note = "derive it: #[derive(CoMap)] on a struct with named fields"
)]
pub trait CoMapSchema: Sized + Send + Sync + 'static {
    /// The schema's Rust name, for errors.
    const NAME: &'static str;
    /// Its fields, in declaration order.
    const FIELDS: &'static [FieldInfo];
    /// The typed resolve builder (one method per field).
    type Resolve: ResolveBuilder;

    /// Reads the schema from a CoMap's fields.
    fn read_map(map: &MapReader<'_>) -> Result<Self, SchemaError>;

    /// Writes the schema's fields.
    fn write_map(&self, map: &mut MapWriter);

    /// An empty resolve query over this schema (`true`), to name fields on: what every
    /// typed load takes (`client.load::<Event>(id, Event::resolve().reservations(|r| r))`).
    ///
    /// `#[derive(CoMap)]` makes the builder (`EventResolve` for `Event`) with one method per
    /// field; each takes a closure saying what to load inside that field, so the builder
    /// reads like the resolve queries of `#[jazz_request]`:
    ///
    /// - `{ reservations: true }` is `.reservations(|r| r)`;
    /// - `{ reservations: { $each: true } }` is `.reservations(|r| r.each(|r| r))`;
    /// - `{ reservations: { $each: { event: true } } }` is
    ///   `.reservations(|r| r.each(|t| t.event(|e| e)))`.
    ///
    /// [`ResolveBuilder::into_query`] gives the untyped query.
    fn resolve() -> Self::Resolve {
        Self::Resolve::default()
    }
}

/// The fields of one CoMap being read as a schema (what generated `read_map` code calls).
#[derive(Clone, Copy, Debug)]
pub struct MapReader<'a> {
    pub(crate) id: &'a CoID,
    pub(crate) schema: &'static str,
    pub(crate) fields: &'a Map<String, Value>,
    pub(crate) query: &'a ResolveQuery,
    pub(crate) node: Option<&'a LocalNode>,
}

impl MapReader<'_> {
    /// Reads the field `json_name` as a `T`, loading what the resolve query names in it.
    pub fn field<T: CoField>(&self, json_name: &'static str) -> Result<T, SchemaError> {
        let site = FieldSite {
            covalue: self.id,
            schema: self.schema,
            field: json_name,
            index: None,
            query: sub_query(self.query, json_name),
            node: self.node,
        };
        T::read_field(self.fields.get(json_name), &site)
    }

    /// Checks `#[co(same_owner)]` on the field `json_name`: the CoValue it names must be
    /// owned by this CoMap's owner, or by a group extending it
    /// ([`SchemaError::ForeignReference`] otherwise).
    ///
    /// Only what the read's node holds can be checked: without a node, with the field
    /// absent or not an id (the field's own read reports that), or with the referenced
    /// CoValue not in the node, there is nothing to compare and the check passes. A route's
    /// worker holds what the route's `resolve` loads, so a field the resolve names is
    /// always checked (and one it does not name is not loaded to be used anyway).
    pub fn check_same_owner(&self, json_name: &'static str) -> Result<(), SchemaError> {
        let Some(node) = self.node else {
            return Ok(());
        };
        let Some(reference) = self
            .fields
            .get(json_name)
            .and_then(Value::as_str)
            .and_then(|s| CoID::parse(s).ok())
        else {
            return Ok(());
        };
        check_same_owner(node, self.id, self.schema, json_name, &reference)
    }

    /// The CoMap's id.
    pub fn id(&self) -> &CoID {
        self.id
    }
}

/// The fields of a schema value being written (what generated `write_map` code calls).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapWriter {
    fields: Vec<(&'static str, Option<Value>)>,
}

impl MapWriter {
    /// Writes the field `json_name` (an absent optional field is recorded as absent).
    pub fn field<T: CoField>(&mut self, json_name: &'static str, value: &T) {
        self.fields.push((json_name, value.write_field()));
    }

    /// Each field with its value (`None`: absent).
    pub fn into_fields(self) -> Vec<(&'static str, Option<Value>)> {
        self.fields
    }
}

/// A schema value's fields as the JSON object jazz-tools would hold (absent fields left out).
pub fn to_json_fields<T: CoMapSchema>(value: &T) -> Map<String, Value> {
    let mut writer = MapWriter::default();
    value.write_map(&mut writer);
    writer
        .into_fields()
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value?)))
        .collect()
}

/// Reads the fields of a CoMap (already read as JSON) as the schema `T`, loading references
/// from `node` as `query` says.
pub fn read_fields<T: CoMapSchema>(
    id: &CoID,
    fields: &Map<String, Value>,
    query: &ResolveQuery,
    node: Option<&LocalNode>,
) -> Result<Loaded<T>, SchemaError> {
    let reader = MapReader {
        id,
        schema: T::NAME,
        fields,
        query,
        node,
    };
    Ok(Loaded::new(
        id.clone(),
        T::read_map(&reader)?,
        query.clone(),
    ))
}

/// Reads the CoMap `id` from `node` as the schema `T`, with `query`.
pub fn read_loaded<T: CoMapSchema>(
    node: &LocalNode,
    id: &CoID,
    query: &ResolveQuery,
) -> Result<Loaded<T>, SchemaError> {
    let read = node.read(id).map_err(|e| from_node(id, e))?;
    let (CoValueType::CoMap, Value::Object(fields)) = (read.co_type, &read.value) else {
        return Err(SchemaError::WrongKind {
            covalue: id.clone(),
            expected: "CoMap",
        });
    };
    if read.roles.is_some() {
        return Err(SchemaError::WrongKind {
            covalue: id.clone(),
            expected: "CoMap (it is a group or an account)",
        });
    }
    read_fields(id, fields, query, Some(node))
}
