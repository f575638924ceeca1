//! The model of a CoMap schema: validated facts about a `#[derive(CoMap)]` struct — or about
//! the request struct `#[jazz_request]` builds from a handler's parameters — that
//! [`comap_render`](crate::comap_render) turns into the `CoMapSchema` impl and the typed
//! resolve builder.

use proc_macro2::Span;
use quote::{ToTokens, format_ident};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::attr::{self, Arg, CONTAINER_KEYS, FIELD_KEYS};
use crate::ctxt::Errors;
use crate::rename::RenameRule;

/// A CoMap schema.
pub(crate) struct CoMapModel {
    /// The struct.
    pub(crate) ident: Ident,
    /// Its visibility, given to the resolve builder too.
    pub(crate) vis: Visibility,
    /// The generated resolve builder (`<Name>Resolve`).
    pub(crate) resolve_ident: Ident,
    /// The fields, in declaration order.
    pub(crate) fields: Vec<CoMapField>,
    /// The name errors reading it give (`CoMapSchema::NAME`): the struct's, or for a route's
    /// request what a client knows it by (`request to /api/book`).
    pub(crate) schema_name: String,
    /// A schema the macros define for themselves (a route's request): its resolve builder
    /// is left out of the docs.
    pub(crate) generated: bool,
}

/// A field of a CoMap schema.
pub(crate) struct CoMapField {
    /// The Rust field (and resolve builder method) name.
    pub(crate) ident: Ident,
    /// Its type (`Self` replaced by the struct's name, as generated items outside the
    /// struct's impls name it).
    pub(crate) ty: Type,
    /// The key in the CoMap (jazz-tools' field name).
    pub(crate) json: String,
    /// `#[co(same_owner)]`: the referenced CoValue must have this CoMap's owner.
    pub(crate) same_owner: bool,
}

impl CoMapField {
    /// A field named `ident` of type `ty`, its JSON name from `rename`, else `rule`, else the
    /// Rust name (without `r#`).
    pub(crate) fn new(
        ident: Ident,
        mut ty: Type,
        rename: Option<LitStr>,
        rule: Option<RenameRule>,
        schema: &Ident,
    ) -> Self {
        let rust = ident.unraw().to_string();
        let json = match (rename, rule) {
            (Some(rename), _) => rename.value(),
            (None, Some(rule)) => rule.apply_to_field(&rust),
            (None, None) => rust,
        };
        ReplaceSelf(schema).visit_type_mut(&mut ty);
        Self {
            ident,
            ty,
            json,
            same_owner: false,
        }
    }

    /// The same field, guarded by `#[co(same_owner)]` when `same_owner` is set.
    pub(crate) fn with_same_owner(self, same_owner: bool) -> Self {
        Self { same_owner, ..self }
    }

    /// The Rust name, without `r#`.
    pub(crate) fn rust_name(&self) -> String {
        self.ident.unraw().to_string()
    }
}

impl CoMapModel {
    /// A schema named `ident` over `fields`; two fields with one JSON name are reported
    /// into `errors` at the second one's `json_spans` entry.
    pub(crate) fn new(
        ident: Ident,
        vis: Visibility,
        fields: Vec<CoMapField>,
        json_spans: &[Span],
        errors: &mut Errors,
    ) -> Self {
        for (i, field) in fields.iter().enumerate() {
            if field.json.is_empty() {
                errors.at(json_spans[i], "a CoMap key cannot be empty");
            }
            if let Some(first) = fields[..i].iter().find(|f| f.json == field.json) {
                errors.at(
                    json_spans[i],
                    format!(
                        "fields `{}` and `{}` both map to the CoMap key \"{}\"",
                        first.rust_name(),
                        field.rust_name(),
                        field.json
                    ),
                );
            }
        }
        // `TicketResolve`, next to `Ticket` (and spanned like it, so a clash with another
        // item points at the struct's name).
        let name = ident.unraw().to_string();
        let resolve_ident = format_ident!("{}Resolve", name, span = ident.span());
        Self {
            ident,
            vis,
            resolve_ident,
            fields,
            schema_name: name,
            generated: false,
        }
    }

    /// The same schema as a route's request, which errors call `schema_name`.
    pub(crate) fn into_route_request(self, schema_name: String) -> Self {
        Self {
            schema_name,
            generated: true,
            ..self
        }
    }

    /// The model of a `#[derive(CoMap)]` input.
    pub(crate) fn from_derive(input: &DeriveInput) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => Some(named),
                Fields::Unnamed(fields) => {
                    errors.at(
                        fields.span(),
                        "#[derive(CoMap)] needs named fields (a CoMap's keys are the field names); tuple structs are not supported",
                    );
                    None
                }
                Fields::Unit => {
                    errors.at(
                        input.ident.span(),
                        "#[derive(CoMap)] needs a struct with named fields; a unit struct has none",
                    );
                    None
                }
            },
            Data::Enum(data) => {
                errors.at(
                    data.enum_token.span,
                    "#[derive(CoMap)] needs a struct with named fields; for a string enum (z.enum) use #[derive(CoEnum)]",
                );
                None
            }
            Data::Union(data) => {
                errors.at(
                    data.union_token.span,
                    "#[derive(CoMap)] needs a struct with named fields, not a union",
                );
                None
            }
        };
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            errors.at(
                input.generics.span(),
                "#[derive(CoMap)] does not support generic structs: a CoMap schema names concrete field types",
            );
        }
        let [rename_all] = attr::co_slots(
            &input.attrs,
            CONTAINER_KEYS,
            "#[co(...)] on a CoMap",
            &mut errors,
        );
        let rule = rename_all.and_then(|arg| errors.ok(rename_rule(&arg)));

        let mut fields = Vec::new();
        let mut json_spans = Vec::new();
        for field in named.into_iter().flat_map(|n| &n.named) {
            let [rename, same_owner] = attr::co_slots(
                &field.attrs,
                FIELD_KEYS,
                "#[co(...)] on a field",
                &mut errors,
            );
            let rename = rename.and_then(|arg| errors.ok(attr::lit_str(&arg)));
            let same_owner = same_owner
                .and_then(|arg| errors.ok(attr::flag(&arg)))
                .is_some();
            let Some(ident) = field.ident.clone() else {
                continue; // named fields always have an ident
            };
            if let Some(error) = misfit_type(&field.ty, "a CoMap field") {
                errors.push(error);
            }
            json_spans.push(rename.as_ref().map_or(ident.span(), LitStr::span));
            fields.push(
                CoMapField::new(ident, field.ty.clone(), rename, rule, &input.ident)
                    .with_same_owner(same_owner),
            );
        }
        let model = Self::new(
            input.ident.clone(),
            input.vis.clone(),
            fields,
            &json_spans,
            &mut errors,
        );
        errors.finish()?;
        Ok(model)
    }
}

/// An error for a type that no CoMap field (`what`: "a CoMap field", "a request
/// parameter") can have but a close one can, saying what to write instead: a `Vec` is a
/// `CoList` or a JSON array, a map or a set a JSON value. Looks through `Option`. Other types
/// are left to the type checker (`CoField`).
pub(crate) fn misfit_type(ty: &Type, what: &str) -> Option<syn::Error> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let first_arg = || match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    let written = pretty(ty);
    let message = match last.ident.to_string().as_str() {
        "Option" => return first_arg().and_then(|inner| misfit_type(inner, what)),
        "Vec" | "VecDeque" | "LinkedList" => {
            let item = first_arg().map_or_else(|| "T".to_owned(), pretty);
            format!(
                "`{written}` cannot be {what}: write `CoList<{item}>` (a Jazz list, jazz-tools' `co.list`) or `Json<{written}>` (one JSON value, `z.json()`)"
            )
        }
        "HashMap" | "BTreeMap" | "IndexMap" | "HashSet" | "BTreeSet" | "IndexSet" => format!(
            "`{written}` cannot be {what}: write `Json<{written}>` (one JSON value, `z.json()`), or a #[derive(CoMap)] struct held as `Ref<T>` when the keys are known"
        ),
        _ => return None,
    };
    // Spanned on the whole type, not only its first token.
    Some(syn::Error::new_spanned(ty, message))
}

/// Tokens as a person writes them (`Vec<Ref<Ticket>>`, not `Vec < Ref < Ticket > >`), for
/// messages.
pub(crate) fn pretty(tokens: impl ToTokens) -> String {
    tokens
        .to_token_stream()
        .to_string()
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace(":: ", "::")
}

/// The rule of a `rename_all = "…"`.
pub(crate) fn rename_rule(arg: &Arg) -> syn::Result<RenameRule> {
    let value = attr::lit_str(arg)?;
    RenameRule::from_name(&value.value()).ok_or_else(|| {
        syn::Error::new(
            value.span(),
            format!(
                "unknown rename_all rule \"{}\"; expected one of: {}",
                value.value(),
                attr::list(&RenameRule::names())
            ),
        )
    })
}

/// Replaces `Self` in a field type by the struct's name: the generated items that name the
/// type live outside the struct's impls, where `Self` means something else.
struct ReplaceSelf<'a>(&'a Ident);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_path_mut(&mut self, node: &mut syn::TypePath) {
        if node.qself.is_none()
            && let Some(first) = node.path.segments.first_mut()
            && first.ident == "Self"
        {
            first.ident = Ident::new(&self.0.unraw().to_string(), first.ident.span());
        }
        syn::visit_mut::visit_type_path_mut(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;
    use syn::parse_quote;

    fn errors_of(input: DeriveInput) -> Vec<String> {
        match CoMapModel::from_derive(&input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn json_names_follow_rename_then_rule_then_the_field() -> syn::Result<()> {
        let model = CoMapModel::from_derive(&parse_quote! {
            #[co(rename_all = "camelCase")]
            pub struct Event {
                pub created_at: u64,
                #[co(rename = "Title")]
                pub the_name: String,
                pub r#type: String,
                pub next: Option<Ref<Self>>,
            }
        })?;
        let names: Vec<(String, String)> = model
            .fields
            .iter()
            .map(|f| (f.rust_name(), f.json.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("created_at".into(), "createdAt".into()),
                ("the_name".into(), "Title".into()),
                ("type".into(), "type".into()),
                ("next".into(), "next".into()),
            ]
        );
        assert_eq!(model.resolve_ident, "EventResolve");
        assert_eq!(model.schema_name, "Event");
        assert_eq!(
            model.fields[3].ty.to_token_stream().to_string(),
            "Option < Ref < Event > >"
        );
        Ok(())
    }

    #[test]
    fn same_owner_marks_its_field_only() -> syn::Result<()> {
        let model = CoMapModel::from_derive(&parse_quote! {
            pub struct Event {
                pub name: String,
                #[co(same_owner, rename = "list")]
                pub reservations: CoList<Ref<Ticket>>,
            }
        })?;
        let marked: Vec<(String, bool)> = model
            .fields
            .iter()
            .map(|f| (f.json.clone(), f.same_owner))
            .collect();
        assert_eq!(marked, [("name".into(), false), ("list".into(), true)]);
        assert_eq!(
            errors_of(parse_quote! {
                struct T {
                    #[co(same_owner = true)]
                    a: Ref<T>,
                }
            }),
            ["`same_owner` takes no value: write `#[co(same_owner)]` alone"]
        );
        Ok(())
    }

    #[test]
    fn shapes_that_are_not_a_comap() {
        assert_eq!(
            errors_of(parse_quote!(
                struct T(u32);
            )),
            [
                "#[derive(CoMap)] needs named fields (a CoMap's keys are the field names); tuple structs are not supported"
            ]
        );
        assert_eq!(
            errors_of(parse_quote!(
                enum E {
                    A,
                }
            )),
            [
                "#[derive(CoMap)] needs a struct with named fields; for a string enum (z.enum) use #[derive(CoEnum)]"
            ]
        );
        assert_eq!(
            errors_of(parse_quote!(
                struct G<T> {
                    t: T,
                }
            )),
            [
                "#[derive(CoMap)] does not support generic structs: a CoMap schema names concrete field types"
            ]
        );
    }

    #[test]
    fn vecs_maps_and_sets_say_what_to_write_instead() {
        assert_eq!(
            errors_of(parse_quote! {
                struct T {
                    a: Vec<Ref<Ticket>>,
                    b: Option<std::collections::HashMap<String, u32>>,
                    c: Json<Vec<u8>>,
                    d: CoList<u8>,
                    e: BTreeSet<String>,
                }
            }),
            [
                "`Vec<Ref<Ticket>>` cannot be a CoMap field: write `CoList<Ref<Ticket>>` (a Jazz list, jazz-tools' `co.list`) or `Json<Vec<Ref<Ticket>>>` (one JSON value, `z.json()`)",
                "`std::collections::HashMap<String, u32>` cannot be a CoMap field: write `Json<std::collections::HashMap<String, u32>>` (one JSON value, `z.json()`), or a #[derive(CoMap)] struct held as `Ref<T>` when the keys are known",
                "`BTreeSet<String>` cannot be a CoMap field: write `Json<BTreeSet<String>>` (one JSON value, `z.json()`), or a #[derive(CoMap)] struct held as `Ref<T>` when the keys are known",
            ]
        );
    }

    #[test]
    fn attribute_errors_are_reported_together() {
        assert_eq!(
            errors_of(parse_quote! {
                #[co(rename_all = "camelcase", rename = "x")]
                struct T {
                    #[co(renamed = "a")]
                    a: u32,
                    #[co(rename = "a")]
                    b: u32,
                }
            }),
            [
                "unknown key `rename` in #[co(...)] on a CoMap; allowed keys: `rename_all`",
                "unknown rename_all rule \"camelcase\"; expected one of: `lowercase`, `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case`, `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`",
                "unknown key `renamed` in #[co(...)] on a field; allowed keys: `rename`, `same_owner`",
                "fields `a` and `b` both map to the CoMap key \"a\"",
            ]
        );
    }
}
