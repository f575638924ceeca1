//! The attribute grammar both macros share: a comma-separated list of `key = value`, read
//! into one typed slot per allowed key (jsonrpsee's `AttributeMeta::retain`).
//!
//! - an unknown key errors at the key and lists the allowed ones;
//! - a key given twice errors at the second occurrence;
//! - a missing required key errors at the attribute ([`required`]).
//!
//! A value is every token up to the next top-level comma, so a brace tree
//! (`resolve = { a: { b: true } }`) or a call (`worker = env("X")`) is one value; the
//! converters ([`lit_str`], [`ident`]) and the callers' own parsers turn it into a typed fact.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitStr, Token};

use crate::ctxt::Errors;

/// The keys of `#[jazz_request(...)]`.
pub(crate) const REQUEST_KEYS: [&str; 7] = [
    "url",
    "name",
    "worker",
    "resolve",
    "response_resolve",
    "serialize",
    "writes",
];
/// The keys of `#[co(...)]` on a `#[derive(CoMap)]` struct or a `#[derive(CoEnum)]` enum.
pub(crate) const CONTAINER_KEYS: [&str; 1] = ["rename_all"];
/// The keys of `#[co(...)]` on a variant or a request parameter.
pub(crate) const MEMBER_KEYS: [&str; 1] = ["rename"];
/// The keys of `#[co(...)]` on a field of a `#[derive(CoMap)]` struct.
pub(crate) const FIELD_KEYS: [&str; 2] = ["rename", "same_owner"];
/// The keys that are flags: written alone (`#[co(same_owner)]`), without `= value`.
const FLAG_KEYS: [&str; 1] = ["same_owner"];

/// One `key = value` (or flag `key`) of an attribute.
#[derive(Clone)]
pub(crate) struct Arg {
    /// The key as written (its span is where key errors point).
    pub(crate) key: Ident,
    /// The value's tokens (empty for a flag written alone, never empty after `=`).
    pub(crate) value: TokenStream,
}

impl Arg {
    /// The span of the value, for errors about it.
    pub(crate) fn value_span(&self) -> Span {
        let mut tokens = self.value.clone().into_iter();
        let first = tokens.next().map_or(self.key.span(), |t| t.span());
        tokens
            .last()
            .and_then(|last| first.join(last.span()))
            .unwrap_or(first)
    }
}

/// Parses `key = value, ...` (a trailing comma is fine); a flag key may stand alone.
pub(crate) fn parse_args(tokens: TokenStream) -> syn::Result<Vec<Arg>> {
    let parser = |input: ParseStream<'_>| {
        let mut args = Vec::new();
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let alone = input.is_empty() || input.peek(Token![,]);
            if alone && FLAG_KEYS.contains(&key.to_string().as_str()) {
                args.push(Arg {
                    key,
                    value: TokenStream::new(),
                });
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
                continue;
            }
            if !input.peek(Token![=]) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("expected `=` and a value after `{key}`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let mut value = TokenStream::new();
            while !input.is_empty() && !input.peek(Token![,]) {
                value.extend([input.parse::<TokenTree>()?]);
            }
            if value.is_empty() {
                return Err(syn::Error::new(
                    key.span(),
                    format!("expected a value after `{key} =`"),
                ));
            }
            args.push(Arg { key, value });
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    };
    parser.parse2(tokens)
}

/// Sorts `args` into one slot per allowed key (in the order of `allowed`), reporting unknown
/// and repeated keys into `errors`; the first occurrence of a repeated key is kept.
pub(crate) fn retain<const N: usize>(
    args: Vec<Arg>,
    allowed: [&'static str; N],
    context: &str,
    errors: &mut Errors,
) -> [Option<Arg>; N] {
    let mut slots: [Option<Arg>; N] = std::array::from_fn(|_| None);
    for arg in args {
        let key = arg.key.to_string();
        match allowed.iter().position(|allowed| *allowed == key) {
            Some(i) if slots[i].is_some() => errors.at(
                arg.key.span(),
                format!("duplicate key `{key}` in {context}: each key is given once"),
            ),
            Some(i) => slots[i] = Some(arg),
            None => errors.at(
                arg.key.span(),
                format!(
                    "unknown key `{key}` in {context}; allowed keys: {}",
                    list(&allowed)
                ),
            ),
        }
    }
    slots
}

/// Reads every `#[co(...)]` among `attrs` into slots for `allowed` (several `#[co]`
/// attributes on one item count as one list).
pub(crate) fn co_slots<const N: usize>(
    attrs: &[Attribute],
    allowed: [&'static str; N],
    context: &str,
    errors: &mut Errors,
) -> [Option<Arg>; N] {
    let mut args = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("co")) {
        let parsed = attr
            .meta
            .require_list()
            .and_then(|list| parse_args(list.tokens.clone()));
        if let Some(mut parsed) = errors.ok(parsed) {
            args.append(&mut parsed);
        }
    }
    retain(args, allowed, context, errors)
}

/// The slot's value, or an error at `attr_span` naming the missing key and an example.
pub(crate) fn required(
    slot: Option<Arg>,
    key: &str,
    example: &str,
    attr_span: Span,
    context: &str,
) -> syn::Result<Arg> {
    slot.ok_or_else(|| {
        syn::Error::new(
            attr_span,
            format!("missing required key `{key}` in {context}, e.g. `{example}`"),
        )
    })
}

/// The value as one string literal.
pub(crate) fn lit_str(arg: &Arg) -> syn::Result<LitStr> {
    syn::parse2::<LitStr>(arg.value.clone()).map_err(|_| {
        syn::Error::new(
            arg.value_span(),
            format!(
                "`{}` takes a string literal, e.g. `{} = \"…\"`",
                arg.key, arg.key
            ),
        )
    })
}

/// The value as one identifier.
pub(crate) fn ident(arg: &Arg) -> syn::Result<Ident> {
    syn::parse2::<Ident>(arg.value.clone()).map_err(|_| {
        syn::Error::new(
            arg.value_span(),
            format!("`{}` takes a name, e.g. `{} = event`", arg.key, arg.key),
        )
    })
}

/// A flag's presence: an error at the value when one is given (`same_owner = true`).
pub(crate) fn flag(arg: &Arg) -> syn::Result<Span> {
    if arg.value.is_empty() {
        Ok(arg.key.span())
    } else {
        Err(syn::Error::new(
            arg.value_span(),
            format!(
                "`{}` takes no value: write `#[co({})]` alone",
                arg.key, arg.key
            ),
        ))
    }
}

/// Removes every `#[co(...)]` from `attrs` (what the macro consumed must not reach rustc,
/// which knows no `co` attribute).
pub(crate) fn strip_co(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (co, kept): (Vec<_>, Vec<_>) = std::mem::take(attrs)
        .into_iter()
        .partition(|a| a.path().is_ident("co"));
    *attrs = kept;
    co
}

/// `a`, `b`, `c` for messages.
pub(crate) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(errors: Errors) -> Vec<String> {
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn values_run_to_the_next_top_level_comma() -> syn::Result<()> {
        let args = parse_args(
            quote!(url = "/x", resolve = { a: { b: true }, c: true }, worker = env("W"),),
        )?;
        let keys: Vec<String> = args.iter().map(|a| a.key.to_string()).collect();
        assert_eq!(keys, ["url", "resolve", "worker"]);
        assert_eq!(args[1].value.to_string(), "{ a : { b : true } , c : true }");
        assert_eq!(args[2].value.to_string(), "env (\"W\")");
        Ok(())
    }

    #[test]
    fn a_key_without_a_value_is_an_error() {
        let Err(error) = parse_args(quote!(url)) else {
            unreachable!("no `=`")
        };
        assert_eq!(error.to_string(), "expected `=` and a value after `url`");
        let Err(error) = parse_args(quote!(url = , worker = "x")) else {
            unreachable!("no value")
        };
        assert_eq!(error.to_string(), "expected a value after `url =`");
    }

    #[test]
    fn unknown_and_duplicate_keys_are_reported_together() -> syn::Result<()> {
        let mut errors = Errors::default();
        let args = parse_args(quote!(url = "/a", urll = "/b", url = "/c"))?;
        let [url, ..] = retain(args, REQUEST_KEYS, "#[jazz_request(...)]", &mut errors);
        assert_eq!(url.map(|a| a.value.to_string()), Some("\"/a\"".to_owned()));
        assert_eq!(
            messages(errors),
            [
                "unknown key `urll` in #[jazz_request(...)]; allowed keys: `url`, `name`, `worker`, `resolve`, `response_resolve`, `serialize`, `writes`",
                "duplicate key `url` in #[jazz_request(...)]: each key is given once",
            ]
        );
        Ok(())
    }

    #[test]
    fn converters_name_the_key() -> syn::Result<()> {
        let args = parse_args(quote!(url = 5, serialize = "event"))?;
        let Err(error) = lit_str(&args[0]) else {
            unreachable!("5 is not a string")
        };
        assert_eq!(
            error.to_string(),
            "`url` takes a string literal, e.g. `url = \"…\"`"
        );
        let Err(error) = ident(&args[1]) else {
            unreachable!("a string is not a name")
        };
        assert_eq!(
            error.to_string(),
            "`serialize` takes a name, e.g. `serialize = event`"
        );
        Ok(())
    }

    #[test]
    fn a_flag_stands_alone_and_takes_no_value() -> syn::Result<()> {
        let args = parse_args(quote!(same_owner, rename = "a", same_owner = true))?;
        let keys: Vec<String> = args.iter().map(|a| a.key.to_string()).collect();
        assert_eq!(keys, ["same_owner", "rename", "same_owner"]);
        assert!(flag(&args[0]).is_ok());
        let Err(error) = flag(&args[2]) else {
            unreachable!("a flag with a value")
        };
        assert_eq!(
            error.to_string(),
            "`same_owner` takes no value: write `#[co(same_owner)]` alone"
        );
        // Only flag keys may stand alone.
        let Err(error) = parse_args(quote!(rename, same_owner)) else {
            unreachable!("`rename` needs a value")
        };
        assert_eq!(error.to_string(), "expected `=` and a value after `rename`");
        Ok(())
    }

    #[test]
    fn several_co_attributes_count_as_one_list() {
        let attrs: Vec<Attribute> = vec![
            syn::parse_quote!(#[co(rename = "a")]),
            syn::parse_quote!(#[doc = "kept"]),
            syn::parse_quote!(#[co(rename = "b")]),
        ];
        let mut errors = Errors::default();
        let [rename] = co_slots(&attrs, MEMBER_KEYS, "#[co(...)]", &mut errors);
        assert!(rename.is_some());
        assert_eq!(
            messages(errors),
            ["duplicate key `rename` in #[co(...)]: each key is given once"]
        );
        let mut attrs = attrs;
        assert_eq!(strip_co(&mut attrs).len(), 2);
        assert_eq!(attrs.len(), 1);
    }
}
