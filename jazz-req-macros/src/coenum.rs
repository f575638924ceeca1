//! `#[derive(CoEnum)]`: a fieldless enum as a string enum field (jazz-tools' `z.enum([...])`).
//! Small enough to keep its model and its rendering together.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

use crate::attr::{self, CONTAINER_KEYS, MEMBER_KEYS};
use crate::comap_model::rename_rule;
use crate::ctxt::Errors;
use crate::paths::Runtime;

/// A string enum: each variant with its JSON string.
pub(crate) struct CoEnumModel {
    ident: Ident,
    variants: Vec<(Ident, String)>,
}

impl CoEnumModel {
    /// The model of a `#[derive(CoEnum)]` input.
    pub(crate) fn from_derive(input: &DeriveInput) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let data = match &input.data {
            Data::Enum(data) => Some(data),
            Data::Struct(data) => {
                errors.at(
                    data.struct_token.span,
                    "#[derive(CoEnum)] needs an enum of unit variants (a z.enum); for a struct use #[derive(CoMap)]",
                );
                None
            }
            Data::Union(data) => {
                errors.at(
                    data.union_token.span,
                    "#[derive(CoEnum)] needs an enum of unit variants, not a union",
                );
                None
            }
        };
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            errors.at(
                input.generics.span(),
                "#[derive(CoEnum)] does not support generic enums",
            );
        }
        if let Some(data) = data
            && data.variants.is_empty()
        {
            errors.at(
                input.ident.span(),
                "a CoEnum needs at least one variant (z.enum has at least one value)",
            );
        }
        let [rename_all] = attr::co_slots(
            &input.attrs,
            CONTAINER_KEYS,
            "#[co(...)] on a CoEnum",
            &mut errors,
        );
        let rule = rename_all.and_then(|arg| errors.ok(rename_rule(&arg)));

        let mut variants: Vec<(Ident, String)> = Vec::new();
        for variant in data.into_iter().flat_map(|d| &d.variants) {
            if !matches!(variant.fields, Fields::Unit) {
                errors.at(
                    variant.fields.span(),
                    "a CoEnum variant carries no data: a z.enum value is a plain string",
                );
            }
            let [rename] = attr::co_slots(
                &variant.attrs,
                MEMBER_KEYS,
                "#[co(...)] on a variant",
                &mut errors,
            );
            let rename = rename.and_then(|arg| errors.ok(attr::lit_str(&arg)));
            let rust = variant.ident.unraw().to_string();
            let json = match (&rename, rule) {
                (Some(rename), _) => rename.value(),
                (None, Some(rule)) => rule.apply_to_variant(&rust),
                (None, None) => rust,
            };
            let span = rename.as_ref().map_or(variant.ident.span(), LitStr::span);
            if let Some((first, _)) = variants.iter().find(|(_, j)| *j == json) {
                errors.at(
                    span,
                    format!(
                        "variants `{first}` and `{}` both map to the string \"{json}\"",
                        variant.ident
                    ),
                );
            }
            variants.push((variant.ident.clone(), json));
        }
        errors.finish()?;
        Ok(Self {
            ident: input.ident.clone(),
            variants,
        })
    }

    /// The `CoEnum` and `CoField` impls.
    pub(crate) fn render(&self) -> TokenStream {
        let co_enum = Runtime::CoEnum.path();
        let co_field = Runtime::CoField.path();
        let not_a_reference = Runtime::NotAReference.path();
        let value = Runtime::Value.path();
        let site = Runtime::FieldSite.path();
        let schema_error = Runtime::SchemaError.path();
        let query = Runtime::ResolveQuery.path();
        let read = Runtime::EnumReadField.path();
        let write = Runtime::EnumWriteField.path();

        let ident = &self.ident;
        let name = ident.unraw().to_string();
        let variants: Vec<_> = self.variants.iter().map(|(v, _)| v).collect();
        let jsons: Vec<_> = self.variants.iter().map(|(_, j)| j.as_str()).collect();
        quote! {
            const _: () = {
                #[automatically_derived]
                impl #co_enum for #ident {
                    const NAME: &'static str = #name;
                    const VARIANTS: &'static [(&'static str, Self)] = &[
                        #( (#jsons, Self::#variants), )*
                    ];
                    fn as_str(self) -> &'static str {
                        match self {
                            #( Self::#variants => #jsons, )*
                        }
                    }
                }

                #[automatically_derived]
                #[diagnostic::do_not_recommend]
                impl #co_field for #ident {
                    type Resolve = #not_a_reference<Self>;
                    fn read_field(
                        value: ::core::option::Option<&#value>,
                        site: &#site<'_>,
                    ) -> ::core::result::Result<Self, #schema_error> {
                        #read::<Self>(value, site)
                    }
                    fn write_field(&self) -> ::core::option::Option<#value> {
                        // By variant rather than `*self`: a missing `Copy` is then reported
                        // once, by the `CoEnum` impl.
                        match self {
                            #( Self::#variants => #write::<Self>(Self::#variants), )*
                        }
                    }
                    fn resolve_query(_: Self::Resolve) -> #query {
                        #query::Value
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn errors_of(input: DeriveInput) -> Vec<String> {
        match CoEnumModel::from_derive(&input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn strings_follow_rename_then_rule_then_the_variant() -> syn::Result<()> {
        let model = CoEnumModel::from_derive(&parse_quote! {
            #[co(rename_all = "kebab-case")]
            enum Status { SoldOut, #[co(rename = "open!")] Open, Closed }
        })?;
        let jsons: Vec<&str> = model.variants.iter().map(|(_, j)| j.as_str()).collect();
        assert_eq!(jsons, ["sold-out", "open!", "closed"]);
        let _: syn::File = syn::parse2(model.render())?;
        Ok(())
    }

    #[test]
    fn shapes_that_are_not_a_string_enum() {
        assert_eq!(
            errors_of(parse_quote!(
                enum E {
                    A(u32),
                    B { x: u32 },
                }
            )),
            [
                "a CoEnum variant carries no data: a z.enum value is a plain string",
                "a CoEnum variant carries no data: a z.enum value is a plain string",
            ]
        );
        assert_eq!(
            errors_of(parse_quote!(
                enum E {}
            )),
            ["a CoEnum needs at least one variant (z.enum has at least one value)"]
        );
        assert_eq!(
            errors_of(parse_quote!(
                enum E {
                    A,
                    #[co(rename = "A")]
                    B,
                }
            )),
            ["variants `A` and `B` both map to the string \"A\""]
        );
    }
}
