//! Error accumulation: every rule that can be checked independently reports into one
//! [`Errors`], so a user sees all bad keys, fields and resolve paths in one build instead of
//! fixing them one compile at a time (serde's `Ctxt`, without the drop-time panic).

use proc_macro2::Span;
use std::fmt::Display;

/// Errors collected while building a model; turned into one combined `syn::Error`.
#[derive(Default)]
#[must_use = "collected errors must be reported with `finish`"]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records an error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records the error of `result`, if any, and hands back its value.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `Ok` when nothing was recorded, else every recorded error at once.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combines_every_error() {
        let mut errors = Errors::default();
        errors.at(Span::call_site(), "first");
        errors.push(syn::Error::new(Span::call_site(), "second"));
        let Err(error) = errors.finish() else {
            unreachable!("two errors were recorded")
        };
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn no_error_is_ok() {
        assert!(Errors::default().finish().is_ok());
    }
}
