//! Resolve queries as the user writes them — `{ event: { reservations: { $each: true } } }` —
//! parsed into a tree and rendered as calls on the typed resolve builders the derives
//! generate, so the type checker validates every step:
//!
//! - `x: true` becomes `.x(|r| ResolveBuilder::checked(r))`;
//! - `x: { y: … }` becomes `.x(|r| ResolveBuilder::checked(r).y(…))`;
//! - `x: { $each: … }` becomes `.x(|r| EachItems::each(r, …))` (a `CoList`'s items).
//!
//! Every generated token carries the span of the user's key, so a field that does not exist
//! (no such builder method), that is not a reference (no `ResolveBuilder`), or `$each` where
//! there is no list (no `EachItems`) is one error at the key the user wrote. The checks are
//! trait paths, not bounds of a helper function, so no note points into the library.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitBool, Token, braced, token};

use crate::ctxt::Errors;
use crate::paths::Runtime;

/// A resolve query: what to load beyond the value itself (`true` is the empty tree).
#[derive(Clone, Debug, Default)]
pub(crate) struct ResolveTree {
    /// The named fields (or `$each`), in the order written.
    pub(crate) entries: Vec<ResolveEntry>,
}

/// One `key: tree` of a resolve query.
#[derive(Clone, Debug)]
pub(crate) struct ResolveEntry {
    /// The field (or `$each`).
    pub(crate) key: ResolveKey,
    /// What to load inside it.
    pub(crate) nested: ResolveTree,
}

/// A resolve key.
#[derive(Clone, Debug)]
pub(crate) enum ResolveKey {
    /// A field, by its Rust name.
    Field(Ident),
    /// `$each`: every item of a list.
    Each(Span),
}

impl ResolveKey {
    /// Where the key is written.
    pub(crate) fn span(&self) -> Span {
        match self {
            Self::Field(ident) => ident.span(),
            Self::Each(span) => *span,
        }
    }

    /// The key as written (`$each` for [`ResolveKey::Each`]).
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Field(ident) => ident.to_string(),
            Self::Each(_) => "$each".to_owned(),
        }
    }
}

impl ResolveEntry {
    /// `name: true`, for a parameter loaded by default.
    pub(crate) fn load(field: Ident) -> Self {
        Self {
            key: ResolveKey::Field(field),
            nested: ResolveTree::default(),
        }
    }
}

impl ResolveTree {
    /// Parses `true` or `{ key: tree, … }`; repeated keys and `false` are reported into
    /// `errors` (the tree keeps the first occurrence), a malformed tree is an `Err`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> syn::Result<Self> {
        (|input: ParseStream<'_>| parse_tree(input, errors)).parse2(tokens)
    }

    /// The builder expression `receiver` with this tree's entries applied
    /// (`receiver.a(|r| …).b(|r| …)`, `$each` as `EachItems::each(receiver, |r| …)`).
    pub(crate) fn render_on(&self, receiver: TokenStream) -> TokenStream {
        self.entries
            .iter()
            .fold(receiver, |built, entry| entry.render_on(built))
    }

    /// The body of the closure over `r`, the builder of the key at `span`: the nested
    /// entries applied to `ResolveBuilder::checked(r)` (the key must be a reference) — or
    /// to `r` itself when there is a `$each`, whose `EachItems` check says more (a list),
    /// so one mistake stays one error.
    fn render_body(&self, span: Span) -> TokenStream {
        match self.entries.iter().find_map(|e| match e.key {
            ResolveKey::Each(each) => Some(each),
            ResolveKey::Field(_) => None,
        }) {
            // The same variable, spanned on `$each`: its error points there.
            Some(each) => self.render_on(Ident::new(RESOLVE_VAR, each).into_token_stream()),
            None => {
                let builder = Runtime::ResolveBuilder.path_at(span);
                let r = Ident::new(RESOLVE_VAR, span);
                self.render_on(quote_spanned!(span=> #builder::checked(#r)))
            }
        }
    }

    /// The top-level field entry named `name`, if any.
    pub(crate) fn field(&self, name: &str) -> Option<&ResolveEntry> {
        self.entries
            .iter()
            .find(|e| matches!(&e.key, ResolveKey::Field(i) if i == name))
    }
}

/// The closure variable of every resolve step.
const RESOLVE_VAR: &str = "__jazz_resolve";

impl ResolveEntry {
    /// `receiver` with this entry applied.
    fn render_on(&self, receiver: TokenStream) -> TokenStream {
        let span = self.key.span();
        let r = Ident::new(RESOLVE_VAR, span);
        let body = self.nested.render_body(span);
        match &self.key {
            ResolveKey::Field(field) => quote_spanned!(span=> #receiver.#field(|#r| #body)),
            ResolveKey::Each(_) => {
                let each = Runtime::EachItems.path_at(span);
                quote_spanned!(span=> #each::each(#receiver, |#r| #body))
            }
        }
    }
}

fn parse_tree(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<ResolveTree> {
    if input.peek(LitBool) {
        let value: LitBool = input.parse()?;
        if !value.value {
            errors.at(
                value.span,
                "`false` loads nothing: leave the key out of the resolve query",
            );
        }
        return Ok(ResolveTree::default());
    }
    if !input.peek(token::Brace) {
        return Err(input.error("expected `true` or `{ field: … }` in a resolve query"));
    }
    let content;
    braced!(content in input);
    let mut tree = ResolveTree::default();
    while !content.is_empty() {
        let key = parse_key(&content)?;
        content.parse::<Token![:]>()?;
        let nested = parse_tree(&content, errors)?;
        if tree.entries.iter().any(|e| e.key.name() == key.name()) {
            errors.at(
                key.span(),
                format!("`{}` is named twice in this resolve query", key.name()),
            );
        } else {
            tree.entries.push(ResolveEntry { key, nested });
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(tree)
}

fn parse_key(input: ParseStream<'_>) -> syn::Result<ResolveKey> {
    if input.peek(Token![$]) {
        let dollar: Token![$] = input.parse()?;
        let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if name != "each" {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "unknown resolve key `${name}`: only `$each` (every item of a list) is supported"
                ),
            ));
        }
        return Ok(ResolveKey::Each(
            dollar.span.join(name.span()).unwrap_or(name.span()),
        ));
    }
    Ok(ResolveKey::Field(input.parse()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> (syn::Result<ResolveTree>, Vec<String>) {
        let mut errors = Errors::default();
        let tree = ResolveTree::parse(tokens, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (tree, messages)
    }

    #[test]
    fn true_is_the_empty_tree() -> syn::Result<()> {
        let (tree, errors) = parse(quote!(true));
        assert!(tree?.entries.is_empty());
        assert!(errors.is_empty());
        Ok(())
    }

    // Not formatted: rustfmt would put the closures' bodies in blocks, which quote! keeps.
    #[rustfmt::skip]
    #[test]
    fn nested_tree_renders_checked_chains() -> syn::Result<()> {
        let (tree, errors) =
            parse(quote!({ event: { reservations: { $each: true } }, owner: true, }));
        assert!(errors.is_empty());
        let rendered = tree?.render_on(quote!(start)).to_string();
        assert_eq!(
            rendered,
            quote!(
                start
                    .event(|__jazz_resolve| ::jazz_req::__private::ResolveBuilder::checked(__jazz_resolve)
                        .reservations(|__jazz_resolve| ::jazz_req::__private::EachItems::each(
                            __jazz_resolve,
                            |__jazz_resolve| ::jazz_req::__private::ResolveBuilder::checked(__jazz_resolve)
                        )))
                    .owner(|__jazz_resolve| ::jazz_req::__private::ResolveBuilder::checked(__jazz_resolve))
            )
            .to_string()
        );
        Ok(())
    }

    #[test]
    fn repeated_keys_and_false_are_reported_together() -> syn::Result<()> {
        let (tree, errors) = parse(quote!({ a: true, a: { b: false } }));
        assert_eq!(tree?.entries.len(), 1);
        assert_eq!(
            errors,
            [
                "`false` loads nothing: leave the key out of the resolve query",
                "`a` is named twice in this resolve query",
            ]
        );
        Ok(())
    }

    #[test]
    fn malformed_trees_are_errors() {
        let (tree, _) = parse(quote!({ a: yes }));
        assert_eq!(
            tree.map(|_| ()).map_err(|e| e.to_string()),
            Err("expected `true` or `{ field: … }` in a resolve query".to_owned())
        );
        let (tree, _) = parse(quote!({ $onError: "catch" }));
        assert_eq!(
            tree.map(|_| ()).map_err(|e| e.to_string()),
            Err(
                "unknown resolve key `$onError`: only `$each` (every item of a list) is supported"
                    .to_owned()
            )
        );
        let (tree, _) = parse(quote!({ a: true } extra));
        assert!(tree.is_err());
    }

    #[test]
    fn field_lookup() -> syn::Result<()> {
        let (tree, _) = parse(quote!({ $each: true, a: true }));
        let tree = tree?;
        assert!(tree.field("a").is_some());
        assert!(tree.field("each").is_none());
        Ok(())
    }
}
