//! `writes = [event.reservations, …]`: the CoValues a route's handler writes to, each a path
//! of fields from a request parameter. Parsed into paths (every segment keeps the user's
//! span) and rendered as one-field-per-level resolve queries, so the type checker validates
//! each step exactly as it does a resolve query's, at the user's token.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Member};

use crate::ctxt::Errors;
use crate::resolve::{ResolveEntry, ResolveKey, ResolveTree};

/// What `writes` accepts, for errors.
const GRAMMAR: &str =
    "`writes` takes paths of request fields: `writes = [event.reservations]` or `writes = event`";

/// One path of `writes`: a request parameter, then fields inside it.
#[derive(Clone, Debug)]
pub(crate) struct WritePath {
    /// The segments as written.
    pub(crate) segments: Vec<Ident>,
}

impl WritePath {
    /// The path as the user wrote it (`event.reservations`).
    pub(crate) fn dotted(&self) -> String {
        let names: Vec<String> = self.segments.iter().map(Ident::to_string).collect();
        names.join(".")
    }

    /// The path as a resolve query of one field per level (`{ event: { reservations: true } }`).
    pub(crate) fn to_tree(&self) -> ResolveTree {
        let mut tree = ResolveTree::default();
        for segment in self.segments.iter().rev() {
            tree = ResolveTree {
                entries: vec![ResolveEntry {
                    key: ResolveKey::Field(segment.clone()),
                    nested: tree,
                }],
            };
        }
        tree
    }

    /// The first segment that `resolve` does not load, if any (each written CoValue must be
    /// loaded before the handler runs: the worker checks it may write to it there).
    pub(crate) fn first_unloaded<'a>(&'a self, resolve: &ResolveTree) -> Option<&'a Ident> {
        let mut tree = resolve;
        for segment in &self.segments {
            match tree.field(&segment.to_string()) {
                Some(entry) => tree = &entry.nested,
                None => return Some(segment),
            }
        }
        None
    }
}

/// Parses the value of `writes`: one path, or a bracketed list of them. Each entry that is
/// not a path of plain field names is reported into `errors` (and left out).
pub(crate) fn parse(value: TokenStream, errors: &mut Errors) -> Vec<WritePath> {
    let span = value.span();
    let expr: Expr = match syn::parse2(value) {
        Ok(expr) => expr,
        Err(_) => {
            errors.at(span, GRAMMAR);
            return Vec::new();
        }
    };
    let entries: Vec<Expr> = match expr {
        Expr::Array(array) => array.elems.into_iter().collect(),
        single => vec![single],
    };
    let mut paths = Vec::new();
    for entry in entries {
        let mut segments = Vec::new();
        if collect_segments(&entry, &mut segments) {
            paths.push(WritePath { segments });
        } else {
            errors.at(entry.span(), GRAMMAR);
        }
    }
    paths
}

/// Appends the segments of `a.b.c` to `segments`; false for anything else.
fn collect_segments(expr: &Expr, segments: &mut Vec<Ident>) -> bool {
    match expr {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            match path.path.get_ident() {
                Some(ident) => {
                    segments.push(ident.clone());
                    true
                }
                None => false,
            }
        }
        Expr::Field(field) if field.attrs.is_empty() => match &field.member {
            Member::Named(ident) => {
                collect_segments(&field.base, segments) && {
                    segments.push(ident.clone());
                    true
                }
            }
            Member::Unnamed(_) => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use quote::quote;

    use super::parse;
    use crate::ctxt::Errors;

    #[test]
    fn one_path_or_a_list_of_them() {
        let mut errors = Errors::default();
        let paths = parse(quote!([event.reservations, other]), &mut errors);
        assert!(errors.finish().is_ok());
        let dotted: Vec<String> = paths.iter().map(super::WritePath::dotted).collect();
        assert_eq!(dotted, ["event.reservations", "other"]);

        let mut errors = Errors::default();
        let paths = parse(quote!(event), &mut errors);
        assert!(errors.finish().is_ok());
        assert_eq!(paths[0].dotted(), "event");
    }

    #[test]
    fn anything_but_a_path_is_an_error() {
        for tokens in [
            quote!([event.0]),
            quote!(["event"]),
            quote!([a::b]),
            quote!([f(x)]),
        ] {
            let mut errors = Errors::default();
            let paths = parse(tokens.clone(), &mut errors);
            assert!(paths.is_empty(), "{tokens}");
            let error = errors.finish().unwrap_err().to_string();
            assert!(error.contains("`writes` takes paths"), "{error}");
        }
    }
}
