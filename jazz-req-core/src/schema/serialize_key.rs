//! What a route's `serialize = param` may name: a parameter holding one CoValue reference,
//! whose id keys the lock that runs the route's handlers one at a time per CoValue.

use super::list::CoList;
use super::reference::{Account, Group, Loaded, Ref};

/// A request parameter type `serialize = param` can lock on: a reference to one CoValue.
///
/// A plain value (a number, a string) names no CoValue, so no lock would be taken; an
/// `Option` may be absent, and the handler would then run unlocked. Both are refused at
/// compile time by `#[jazz_request]`.
#[diagnostic::on_unimplemented(
    message = "`serialize` needs a parameter holding a CoValue reference, not `{Self}`",
    label = "not a CoValue reference",
    note = "`serialize = param` runs the route's handlers one at a time per CoValue `param` refers to: the parameter must be a Loaded<T>, Ref<T>, CoList<T>, Account or Group; not a plain value (it names no CoValue to lock) and not an Option (an absent value would run unlocked)"
)]
pub trait SerializeKey {
    /// What `#[jazz_request]` names to check a `serialize` parameter (`<T as
    /// SerializeKey>::CHECKED`): a path, not a bound, so a wrong type is one error at the
    /// user's parameter with nothing pointing into the library.
    #[doc(hidden)]
    const CHECKED: () = ();
}

// Kept out of rustc's "other types implement" lists: the message says what fits.
#[diagnostic::do_not_recommend]
impl<T> SerializeKey for Loaded<T> {}
#[diagnostic::do_not_recommend]
impl<T> SerializeKey for Ref<T> {}
#[diagnostic::do_not_recommend]
impl<T> SerializeKey for CoList<T> {}
#[diagnostic::do_not_recommend]
impl SerializeKey for Account {}
#[diagnostic::do_not_recommend]
impl SerializeKey for Group {}
