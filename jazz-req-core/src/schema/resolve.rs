//! Typed resolve queries: each schema gets a builder with one method per field, so a query
//! that names a missing field, or descends into a field that is not a reference, does not
//! compile. The builders produce the runtime [`ResolveQuery`].

use std::marker::PhantomData;

use super::field::CoField;
use crate::cojson::ResolveQuery;

/// A finished resolve builder of a reference (a CoMap's generated builder, a list's, an
/// account's or a group's).
#[diagnostic::on_unimplemented(
    message = "a resolve query names a field that is not a CoValue reference",
    label = "not a reference: nothing to load here",
    note = "resolve queries can only name references: Ref<T>, Loaded<T>, CoList<T>, Account, Group"
)]
pub trait ResolveBuilder: Default {
    /// The query this builder stands for.
    fn into_query(self) -> ResolveQuery;

    /// The builder itself: what generated resolve code calls on every step
    /// (`ResolveBuilder::checked(r)`), so naming a plain field is one error at the user's
    /// key, without a note pointing into the library.
    #[doc(hidden)]
    #[must_use]
    fn checked(self) -> Self {
        self
    }
}

/// Checks that `resolve` belongs to a reference: generated resolve code passes every step
/// through it, so naming a plain field is a type error at the user's key.
pub fn descend<R: ResolveBuilder>(resolve: R) -> R {
    resolve
}

/// The resolve "builder" of a plain value: it has no methods and is no [`ResolveBuilder`],
/// so a query cannot go into it.
pub struct NotAReference<T>(PhantomData<fn() -> T>);

impl<T> Default for NotAReference<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T> std::fmt::Debug for NotAReference<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotAReference")
    }
}

/// The fields a CoMap's resolve builder has named so far (what generated builders wrap).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolveFields {
    fields: Vec<(String, ResolveQuery)>,
}

impl ResolveFields {
    /// Names the field `json_name` (of type `T`) with what `nested` asks of it.
    #[must_use]
    pub fn field<T: CoField>(
        mut self,
        json_name: &'static str,
        nested: impl FnOnce(T::Resolve) -> T::Resolve,
    ) -> Self {
        let query = T::resolve_query(nested(T::Resolve::default()));
        match self.fields.iter_mut().find(|(name, _)| name == json_name) {
            Some((_, existing)) => *existing = query,
            None => self.fields.push((json_name.to_owned(), query)),
        }
        self
    }

    /// The query: `true` when nothing was named, else the named fields.
    pub fn into_query(self) -> ResolveQuery {
        if self.fields.is_empty() {
            ResolveQuery::Value
        } else {
            ResolveQuery::Fields(self.fields)
        }
    }
}

/// The resolve builder of an account or a group: `true` loads it, nothing more to name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeafResolve;

// Kept out of rustc's "other types implement" lists: the message says what fits.
#[diagnostic::do_not_recommend]
impl ResolveBuilder for LeafResolve {
    fn into_query(self) -> ResolveQuery {
        ResolveQuery::Value
    }
}

/// What a resolve query asks of the field `json_name` of `query` (`None`: not named).
pub(crate) fn sub_query<'q>(query: &'q ResolveQuery, json_name: &str) -> Option<&'q ResolveQuery> {
    match query {
        ResolveQuery::Value => None,
        ResolveQuery::Fields(fields) => fields
            .iter()
            .find(|(name, _)| name == json_name)
            .map(|(_, q)| q),
    }
}
