//! `#[co(same_owner)]`: a reference field whose CoValue must be owned by the owner of the
//! CoMap holding it.
//!
//! Anyone can create a CoMap in a group of their own and point its fields at CoValues they
//! do not own. When a worker checks a value of the map (an event's capacity) and then
//! writes through one of its references (pushes onto the event's reservations), a forged
//! map sharing the real reference would pass the forged check and write to the real list.
//! Requiring the reference to share the holder's owner ties the two together: only a
//! writer of the real owner's group can make a map that points at the real list.
//!
//! A reference owned by a group that *extends* the map's owner passes too: jazz-tools
//! creates a value given inline (`Event.create({ reservations: [] }, group)`) in a new
//! group extending its container's, and only an admin of that child group could have made
//! it extend the map's owner — a forger cannot make someone else's list extend their group.

use std::fmt;

use super::error::SchemaError;
use super::list::CoList;
use super::reference::{Loaded, Ref};
use crate::cojson::LocalNode;
use crate::cojson::header::{CoValueHeader, Ruleset};
use crate::cojson::node::GroupCache;
use crate::crypto::CoID;

/// Who owns a CoValue, from its header's ruleset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// `ownedByGroup`: this group (or account: accounts are groups too).
    Group(CoID),
    /// A group or an account: it owns itself.
    Itself(CoID),
    /// `unsafeAllowAll`: anyone may write it, so nobody owns it.
    Nobody,
}

impl Owner {
    /// The owner of the CoValue `id` with `header`.
    pub fn of(id: &CoID, header: &CoValueHeader) -> Self {
        match &header.ruleset {
            Ruleset::OwnedByGroup { group, .. } => Self::Group(group.clone()),
            Ruleset::Group { .. } => Self::Itself(id.clone()),
            Ruleset::UnsafeAllowAll => Self::Nobody,
        }
    }

    /// Whether a value owned by `self` and one owned by `other` have one owner. A value
    /// nobody owns shares no owner, not even with another such value: anyone could have
    /// made both.
    pub fn is_same(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Group(a), Self::Group(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Group(group) => fmt::Display::fmt(group, f),
            Self::Itself(id) => write!(f, "itself ({id} is a group or an account)"),
            Self::Nobody => f.write_str("nobody (unsafeAllowAll)"),
        }
    }
}

/// A `#[co(same_owner)]` field pointing at a CoValue of another owner
/// ([`SchemaError::ForeignReference`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{covalue} ({schema}): field `{field}` points at {reference}, owned by {owner}, not by the owner of {covalue} ({expected_owner})"
)]
pub struct ForeignReference {
    /// The CoMap read.
    pub covalue: CoID,
    /// The schema it was read as.
    pub schema: &'static str,
    /// The field (its JSON name).
    pub field: String,
    /// The CoValue the field points at.
    pub reference: CoID,
    /// Who owns the referenced CoValue.
    pub owner: Owner,
    /// Who owns the CoMap, and so should own the referenced CoValue.
    pub expected_owner: Owner,
}

/// A field type `#[co(same_owner)]` can guard: a reference to a CoMap or a CoList (or an
/// optional one). Accounts and groups own themselves, and plain values own nothing.
#[diagnostic::on_unimplemented(
    message = "`#[co(same_owner)]` cannot guard a field of type `{Self}`",
    label = "not a reference to a CoMap or a CoList",
    note = "`same_owner` checks that the referenced CoValue is owned by the group owning this CoMap; it applies to Ref<T>, Loaded<T>, CoList<T> and Option<…> of these"
)]
pub trait SameOwnerField {
    /// What `#[derive(CoMap)]` names to check a `#[co(same_owner)]` field (`<T as
    /// SameOwnerField>::CHECKED`): a path, not a bound, so a wrong type is one error at the
    /// user's field with nothing pointing into the library.
    #[doc(hidden)]
    const CHECKED: () = ();
}

// Kept out of rustc's "other types implement" lists: the message says what fits.
#[diagnostic::do_not_recommend]
impl<T> SameOwnerField for Ref<T> {}
#[diagnostic::do_not_recommend]
impl<T> SameOwnerField for Loaded<T> {}
#[diagnostic::do_not_recommend]
impl<T> SameOwnerField for CoList<T> {}
#[diagnostic::do_not_recommend]
impl<T: SameOwnerField> SameOwnerField for Option<T> {}

/// Checks that the CoValue `reference` (field `field` of the CoMap `holder`, read as
/// `schema`) has the holder's owner, or an owner group extending it. Passes when `node`
/// lacks either of them: what is not in the node cannot be checked (a read that needs the
/// reference fails on its own, as not loaded).
pub(crate) fn check_same_owner(
    node: &LocalNode,
    holder: &CoID,
    schema: &'static str,
    field: &str,
    reference: &CoID,
) -> Result<(), SchemaError> {
    let (Some(held), Some(referenced)) = (node.get(holder), node.get(reference)) else {
        return Ok(());
    };
    let expected_owner = Owner::of(holder, held.header());
    let owner = Owner::of(reference, referenced.header());
    if owner.is_same(&expected_owner) {
        return Ok(());
    }
    if let (Owner::Group(group), Owner::Group(ancestor)) = (&owner, &expected_owner)
        && extends(node, group, ancestor)
    {
        return Ok(());
    }
    tracing::debug!(%holder, field, %reference, %owner, %expected_owner, "forged reference");
    Err(SchemaError::ForeignReference(Box::new(ForeignReference {
        covalue: holder.clone(),
        schema,
        field: field.to_owned(),
        reference: reference.clone(),
        owner,
        expected_owner,
    })))
}

/// Whether the group `group` extends `ancestor` (directly or through its parents), as far as
/// `node` holds the groups; a group the node cannot build extends nothing.
fn extends(node: &LocalNode, group: &CoID, ancestor: &CoID) -> bool {
    let mut groups = GroupCache::new(node);
    if groups.ensure_group(group, 0).is_err() {
        return false;
    }
    groups
        .group_state(group)
        .is_ok_and(|state| state.extends(ancestor.as_str(), &groups))
}
