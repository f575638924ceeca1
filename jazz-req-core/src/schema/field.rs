//! What can live in a CoMap field (jazz-tools' `z.string()`, `z.number()`, `z.boolean()`,
//! `.optional()`, `z.json()`, `z.enum()` and references), and how each reads and writes.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::SchemaError;
use super::resolve::NotAReference;
use crate::cojson::{LocalNode, ResolveQuery};
use crate::crypto::CoID;

/// Where a field is read: the CoValue and schema it belongs to, its JSON name, what the
/// resolve query asks of it, and the node that holds what references point to.
#[derive(Clone, Copy, Debug)]
pub struct FieldSite<'a> {
    pub(crate) covalue: &'a CoID,
    pub(crate) schema: &'static str,
    pub(crate) field: &'a str,
    pub(crate) index: Option<usize>,
    pub(crate) query: Option<&'a ResolveQuery>,
    pub(crate) node: Option<&'a LocalNode>,
}

impl<'a> FieldSite<'a> {
    /// What the resolve query asks of this field (`None`: not named, references stay
    /// unloaded).
    pub fn query(&self) -> Option<&'a ResolveQuery> {
        self.query
    }

    /// The node to load references from, if the read has one.
    pub fn node(&self) -> Option<&'a LocalNode> {
        self.node
    }

    /// The field's name in errors (`name`, or `name[i]` for a list item).
    pub fn name(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.field),
            None => self.field.to_owned(),
        }
    }

    /// The same site for item `index` of a list, read with `query`.
    pub(crate) fn item(&self, index: usize, query: Option<&'a ResolveQuery>) -> Self {
        Self {
            index: Some(index),
            query,
            ..*self
        }
    }

    /// "required field is missing" at this site.
    pub fn missing(&self) -> SchemaError {
        SchemaError::Missing {
            covalue: self.covalue.clone(),
            schema: self.schema,
            field: self.name(),
        }
    }

    /// "should be `expected`, found …" at this site.
    pub fn wrong_type(&self, expected: &'static str, found: &Value) -> SchemaError {
        SchemaError::WrongType {
            covalue: self.covalue.clone(),
            schema: self.schema,
            field: self.name(),
            expected,
            found: describe(found),
        }
    }

    /// The value, or "missing" when the key is absent (or `null`, which no required field
    /// of jazz-tools' schemas accepts).
    pub fn required<'v>(&self, value: Option<&'v Value>) -> Result<&'v Value, SchemaError> {
        value.filter(|v| !v.is_null()).ok_or_else(|| self.missing())
    }
}

/// A short description of a JSON value for errors (strings are cut, objects summarised).
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() > 40 => {
            format!("\"{}…\"", s.chars().take(40).collect::<String>())
        }
        Value::Array(items) => format!("an array of {}", items.len()),
        Value::Object(_) => "an object".to_owned(),
        other => other.to_string(),
    }
}

/// A type a CoMap field (or a CoList item) can have: how it reads from the CoValue's JSON,
/// how it writes back, and what a resolve query may ask of it.
///
/// Implemented for `String`, `bool`, the integer types, `f64`, `f32`, `Option<T>`,
/// `serde_json::Value`, [`Json<T>`](super::Json), the references ([`Ref<T>`](super::Ref),
/// [`Loaded<T>`](super::Loaded), [`CoList<T>`](super::CoList), [`Account`](super::Account),
/// [`Group`](super::Group)) and string enums (`#[derive(CoEnum)]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot live in a CoMap field",
    label = "not a CoMap field type",
    note = "a field is a String, bool, integer, f64, Option<T>, serde_json::Value, Json<T> (any serde type), a #[derive(CoEnum)] enum, or a reference: Ref<T> / Loaded<T> (T a #[derive(CoMap)]), CoList<T>, Account, Group",
    note = "a #[derive(CoMap)] struct is held through a reference: if `{Self}` is one, write `Loaded<{Self}>` (loaded for you) or `Ref<{Self}>` (its id)"
)]
pub trait CoField: Sized + Send + Sync + 'static {
    /// What a resolve query may ask of this field: a builder for references,
    /// [`NotAReference`] for plain values.
    type Resolve: Default;

    /// Reads the field from its JSON value (`None`: the key is absent).
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError>;

    /// The JSON to write (`None`: the key stays absent / is deleted).
    fn write_field(&self) -> Option<Value>;

    /// The resolve query a finished builder stands for.
    fn resolve_query(resolve: Self::Resolve) -> ResolveQuery;

    /// Whether reading this field without a resolve query looks at other CoValues (a
    /// [`Loaded`](super::Loaded) does; a [`Ref`](super::Ref) or a string does not). The
    /// items of a list of fields that do not are read once and kept while the list stays
    /// the same, extended when it grows. The default, `true`, is always correct.
    fn reads_other_covalues() -> bool {
        true
    }
}

#[diagnostic::do_not_recommend]
impl CoField for String {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let value = site.required(value)?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| site.wrong_type("a string", value))
    }
    fn write_field(&self) -> Option<Value> {
        Some(Value::String(self.clone()))
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
    fn reads_other_covalues() -> bool {
        false
    }
}

#[diagnostic::do_not_recommend]
impl CoField for bool {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let value = site.required(value)?;
        value
            .as_bool()
            .ok_or_else(|| site.wrong_type("a boolean", value))
    }
    fn write_field(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
}

#[diagnostic::do_not_recommend]
impl CoField for f64 {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let value = site.required(value)?;
        value
            .as_f64()
            .ok_or_else(|| site.wrong_type("a number", value))
    }
    fn write_field(&self) -> Option<Value> {
        // JSON has no NaN or infinities; JSON.stringify writes them as null, and so do we.
        Some(serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number))
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
}

#[diagnostic::do_not_recommend]
impl CoField for f32 {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let number = f64::read_field(value, site)?;
        #[allow(clippy::cast_possible_truncation)] // f32 fields take the nearest f32, as intended
        let narrowed = number as f32;
        if number.is_finite() && !narrowed.is_finite() {
            return Err(site.wrong_type("a number within f32", &Value::from(number)));
        }
        Ok(narrowed)
    }
    fn write_field(&self) -> Option<Value> {
        f64::from(*self).write_field()
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
}

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Reads a JS number as an exact integer within ±2^53 (no fraction, no lost precision).
fn read_safe_integer(
    value: Option<&Value>,
    site: &FieldSite<'_>,
    expected: &'static str,
) -> Result<i64, SchemaError> {
    let value = site.required(value)?;
    safe_integer(value).ok_or_else(|| site.wrong_type(expected, value))
}

/// The integer a JSON number is, if it is one JS holds exactly (|n| ≤ 2^53 − 1; `-0` is 0).
///
/// Every branch compares before it converts: serde reads `-9223372036854775808` as
/// `i64::MIN` (whose `abs` overflows), numbers above `i64::MAX` as `u64`, and the rest as
/// `f64`, where a cast to `i64` saturates.
fn safe_integer(value: &Value) -> Option<i64> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(i) = number.as_i64() {
        return (i.unsigned_abs() <= MAX_SAFE_INTEGER.unsigned_abs()).then_some(i);
    }
    if number.is_u64() {
        // Above i64::MAX, so beyond 2^53.
        return None;
    }
    let f = number.as_f64()?;
    #[allow(clippy::cast_precision_loss)] // 2^53 − 1 is exact in an f64
    let limit = MAX_SAFE_INTEGER as f64;
    if !(f.is_finite() && f.fract() == 0.0 && f.abs() <= limit) {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)] // an integer within ±2^53: exact
    let i = f as i64;
    Some(i)
}

macro_rules! integer_field {
    ($($ty:ty => $expected:literal),* $(,)?) => {$(
        #[diagnostic::do_not_recommend]
        impl CoField for $ty {
            type Resolve = NotAReference<Self>;
            fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
                let integer = read_safe_integer(value, site, $expected)?;
                <$ty>::try_from(integer).map_err(|_| site.wrong_type($expected, &Value::from(integer)))
            }
            fn write_field(&self) -> Option<Value> {
                let wide = i128::try_from(*self).unwrap_or(i128::MAX);
                if wide.unsigned_abs() <= MAX_SAFE_INTEGER.unsigned_abs() as u128 {
                    i64::try_from(wide).ok().map(Value::from)
                } else {
                    // Beyond 2^53 a JS number is a float: write what JS would hold.
                    #[allow(clippy::cast_precision_loss)]
                    (*self as f64).write_field()
                }
            }
            fn resolve_query(_: Self::Resolve) -> ResolveQuery {
                ResolveQuery::Value
            }
            fn reads_other_covalues() -> bool {
                false
            }
        }
    )*};
}

integer_field!(
    u8 => "an integer from 0 to 255",
    u16 => "an integer from 0 to 65535",
    u32 => "an integer from 0 to 4294967295",
    u64 => "an integer from 0 to 2^53",
    usize => "an integer from 0 to 2^53",
    i8 => "an integer from -128 to 127",
    i16 => "an integer from -32768 to 32767",
    i32 => "an integer from -2147483648 to 2147483647",
    i64 => "an integer within ±2^53",
    isize => "an integer within ±2^53",
);

#[diagnostic::do_not_recommend]
impl<T: CoField> CoField for Option<T> {
    type Resolve = T::Resolve;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(_) => T::read_field(value, site).map(Some),
        }
    }
    fn write_field(&self) -> Option<Value> {
        self.as_ref().and_then(CoField::write_field)
    }
    fn resolve_query(resolve: Self::Resolve) -> ResolveQuery {
        T::resolve_query(resolve)
    }
    fn reads_other_covalues() -> bool {
        T::reads_other_covalues()
    }
}

#[diagnostic::do_not_recommend]
impl CoField for Value {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        value.cloned().ok_or_else(|| site.missing())
    }
    fn write_field(&self) -> Option<Value> {
        Some(self.clone())
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
}

/// A field holding any serde type as JSON (jazz-tools' `z.object(…)` / `z.json()`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Json<T>(pub T);

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> CoField for Json<T> {
    type Resolve = NotAReference<Self>;
    fn read_field(value: Option<&Value>, site: &FieldSite<'_>) -> Result<Self, SchemaError> {
        let value = site.required(value)?;
        T::deserialize(value)
            .map(Json)
            .map_err(|e| SchemaError::WrongType {
                covalue: site.covalue.clone(),
                schema: site.schema,
                field: site.name(),
                expected: std::any::type_name::<T>(),
                found: e.to_string(),
            })
    }
    fn write_field(&self) -> Option<Value> {
        // A serde type that cannot be JSON (a map with non-string keys) is written as null.
        Some(serde_json::to_value(&self.0).unwrap_or(Value::Null))
    }
    fn resolve_query(_: Self::Resolve) -> ResolveQuery {
        ResolveQuery::Value
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A string enum (jazz-tools' `z.enum([...])`): what `#[derive(CoEnum)]` fills in.
pub trait CoEnum: Sized + Copy + Send + Sync + 'static {
    /// The enum's Rust name, for errors.
    const NAME: &'static str;
    /// Each variant with its JSON string.
    const VARIANTS: &'static [(&'static str, Self)];

    /// The JSON string of this variant.
    fn as_str(self) -> &'static str;
}

/// Reads a [`CoEnum`] field (what the derive's `CoField` impl calls).
pub fn enum_read_field<E: CoEnum>(
    value: Option<&Value>,
    site: &FieldSite<'_>,
) -> Result<E, SchemaError> {
    let value = site.required(value)?;
    value
        .as_str()
        .and_then(|s| E::VARIANTS.iter().find(|(name, _)| *name == s))
        .map(|(_, variant)| *variant)
        .ok_or_else(|| site.wrong_type(E::NAME, value))
}

/// Writes a [`CoEnum`] field.
pub fn enum_write_field<E: CoEnum>(value: E) -> Option<Value> {
    Some(Value::String(value.as_str().to_owned()))
}
