//! Renders a [`CoMapModel`]: the `CoMapSchema` impl (name, fields, read, write) and the typed
//! resolve builder with one method per field.
//!
//! Each field's type is named exactly once, in `impl CoMapField for <marker> { type Value =
//! <the field type>; }`, spanned on the user's type: that impl's bound (`Value: CoField`) is
//! the one place a type that cannot live in a CoMap is reported, with `CoField`'s
//! `on_unimplemented` text. Reading, writing and the builder methods reach the type only
//! through generic helpers over the marker (`D: CoMapField`), where `D::Value: CoField` is
//! known from the trait, so a bad field type gives one error, not one per use.
//!
//! A `#[co(same_owner)]` field is checked the same way: its type is named once more, in a
//! bound `SameOwnerField` spanned on the user's type, and `read_map` checks the owners of
//! those fields (from the raw ids) before reading any field, so a forged reference is
//! reported as such even when what it points at would not read.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::comap_model::CoMapModel;
use crate::paths::Runtime;

/// The docs of a schema's resolve builder: what it is, how to start one, and how it reads
/// next to the attribute grammar of `#[jazz_request]`.
fn builder_doc(name: &str) -> String {
    format!(
        "Typed resolve query of [`{name}`]: which of the CoValues it references to load with \
         it, one method per field.\n\n\
         Start with `{name}::resolve()` (`CoMapSchema::resolve`), then name fields, as \
         `resolve = {{ … }}` of `#[jazz_request]` does:\n\n\
         - `.field(|r| r)` is `{{ field: true }}`: load the CoValue the field references;\n\
         - `.field(|r| r.inner(|r| r))` is `{{ field: {{ inner: true }} }}`: and inside it;\n\
         - `.list(|r| r.each(|r| r))` is `{{ list: {{ $each: true }} }}`: a CoList field and \
           every item of it.\n\n\
         Pass it to a load (`RequestClient::load`, `RequestWorker::load`), or call \
         `.into_query()` (`ResolveBuilder`) for the untyped `ResolveQuery`."
    )
}

impl CoMapModel {
    /// The marker type standing for field `i` in the generated code.
    fn marker(&self, i: usize) -> syn::Ident {
        format_ident!("__JazzField_{}", self.fields[i].rust_name())
    }

    /// The struct declaration of a schema the macro itself defines (a route's request), with
    /// every field `pub` and each carrying `field_docs[i]`.
    pub(crate) fn render_struct(&self, docs: &str, field_docs: &[String]) -> TokenStream {
        let Self {
            ident, vis, fields, ..
        } = self;
        let idents = fields.iter().map(|f| &f.ident);
        let tys = fields.iter().map(|f| &f.ty);
        quote! {
            #[doc = #docs]
            #vis struct #ident {
                #( #[doc = #field_docs] pub #idents: #tys, )*
            }
        }
    }

    /// The `CoMapSchema` impl, the resolve builder and its methods.
    pub(crate) fn render(&self) -> TokenStream {
        let co_field = Runtime::CoField.path();
        let schema_trait = Runtime::CoMapSchema.path();
        let field_info = Runtime::FieldInfo.path();
        let reader = Runtime::MapReader.path();
        let writer = Runtime::MapWriter.path();
        let schema_error = Runtime::SchemaError.path();
        let builder_trait = Runtime::ResolveBuilder.path();
        let resolve_fields = Runtime::ResolveFields.path();
        let query = Runtime::ResolveQuery.path();

        let Self {
            ident,
            vis,
            resolve_ident,
            fields,
            schema_name,
            generated,
        } = self;
        let name = ident.unraw().to_string();
        let markers: Vec<_> = (0..fields.len()).map(|i| self.marker(i)).collect();
        let idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
        let jsons: Vec<_> = fields.iter().map(|f| f.json.as_str()).collect();
        let rusts: Vec<_> = fields.iter().map(|f| f.rust_name()).collect();
        let builder_doc = builder_doc(&name);
        // A route's request builder is reachable (`Route::request_resolve` is built on it)
        // but of no use to a reader of the docs.
        let builder_hidden = generated.then(|| quote!(#[doc(hidden)]));
        let method_docs = fields.iter().map(|f| {
            format!(
                "Loads the field `{}` (key \"{}\") and, inside it, what `nested` names: `|r| r` \
                 loads the field alone. Only a reference (`Ref<T>`, `Loaded<T>`, `CoList<T>`, \
                 `Account`, `Group`) has anything to load.",
                f.rust_name(),
                f.json
            )
        });
        let same_owner_field = Runtime::SameOwnerField.path();
        let same_owner_checks = fields.iter().filter(|f| f.same_owner).map(|field| {
            let ty = &field.ty;
            quote_spanned! {ty.span()=>
                const _: () = <#ty as #same_owner_field>::CHECKED;
            }
        });
        let same_owner_jsons = fields
            .iter()
            .filter(|f| f.same_owner)
            .map(|f| f.json.as_str());
        let value_types = fields.iter().zip(&markers).map(|(field, marker)| {
            let ty = &field.ty;
            quote_spanned! {ty.span()=>
                impl CoMapField for #marker {
                    type Value = #ty;
                }
            }
        });
        let helpers = (!fields.is_empty()).then(|| {
            quote! {
                fn __jazz_read<D: CoMapField>(
                    map: &#reader<'_>,
                    json_name: &'static str,
                ) -> ::core::result::Result<D::Value, #schema_error> {
                    map.field::<D::Value>(json_name)
                }

                fn __jazz_write<D: CoMapField>(
                    map: &mut #writer,
                    json_name: &'static str,
                    value: &D::Value,
                ) {
                    map.field::<D::Value>(json_name, value);
                }

                #[doc(hidden)]
                pub trait __JazzFieldResolve {
                    type Resolve;
                    fn name(
                        fields: #resolve_fields,
                        json_name: &'static str,
                        nested: impl ::core::ops::FnOnce(Self::Resolve) -> Self::Resolve,
                    ) -> #resolve_fields;
                }

                impl<D: CoMapField> __JazzFieldResolve for D {
                    type Resolve = <D::Value as #co_field>::Resolve;
                    fn name(
                        fields: #resolve_fields,
                        json_name: &'static str,
                        nested: impl ::core::ops::FnOnce(Self::Resolve) -> Self::Resolve,
                    ) -> #resolve_fields {
                        fields.field::<D::Value>(json_name, nested)
                    }
                }
            }
        });

        quote! {
            #[doc = #builder_doc]
            #builder_hidden
            #[derive(Clone, Debug, Default)]
            #vis struct #resolve_ident(#resolve_fields);

            const _: () = {
                #[doc(hidden)]
                pub trait CoMapField {
                    type Value: #co_field;
                }

                #(
                    #[doc(hidden)]
                    #[allow(non_camel_case_types)]
                    pub struct #markers;
                    #value_types
                )*

                #helpers

                #( #same_owner_checks )*

                // Not listed among "other types implementing CoMapSchema" when a type that is
                // no schema is used as one: the message says what to derive instead.
                #[diagnostic::do_not_recommend]
                #[automatically_derived]
                impl #schema_trait for #ident {
                    const NAME: &'static str = #schema_name;
                    const FIELDS: &'static [#field_info] = &[
                        #( #field_info { rust: #rusts, json: #jsons }, )*
                    ];
                    type Resolve = #resolve_ident;

                    #[allow(unused_variables)]
                    fn read_map(map: &#reader<'_>) -> ::core::result::Result<Self, #schema_error> {
                        #( map.check_same_owner(#same_owner_jsons)?; )*
                        ::core::result::Result::Ok(Self {
                            #( #idents: __jazz_read::<#markers>(map, #jsons)?, )*
                        })
                    }

                    #[allow(unused_variables)]
                    fn write_map(&self, map: &mut #writer) {
                        #( __jazz_write::<#markers>(map, #jsons, &self.#idents); )*
                    }
                }

                #[automatically_derived]
                impl #resolve_ident {
                    #(
                        #[doc = #method_docs]
                        #[must_use]
                        pub fn #idents<__JazzR>(
                            self,
                            nested: impl ::core::ops::FnOnce(__JazzR) -> __JazzR,
                        ) -> Self
                        where
                            #markers: __JazzFieldResolve<Resolve = __JazzR>,
                        {
                            Self(<#markers as __JazzFieldResolve>::name(self.0, #jsons, nested))
                        }
                    )*
                }

                // Not listed among "other types implementing ResolveBuilder" in errors.
                #[diagnostic::do_not_recommend]
                #[automatically_derived]
                impl #builder_trait for #resolve_ident {
                    fn into_query(self) -> #query {
                        self.0.into_query()
                    }
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::comap_model::CoMapModel;
    use syn::parse_quote;

    #[test]
    fn renders_parseable_items_naming_each_type_once() -> syn::Result<()> {
        let model = CoMapModel::from_derive(&parse_quote! {
            pub struct Ticket { pub account: Account, pub event: Ref<Event> }
        })?;
        let rendered = model.render();
        let file: syn::File = syn::parse2(rendered.clone())?;
        assert_eq!(
            file.items.len(),
            2,
            "the resolve builder and one const block"
        );
        let text = rendered.to_string();
        assert_eq!(text.matches("Ref < Event >").count(), 1);
        assert!(text.contains("const NAME : & 'static str = \"Ticket\""));
        assert!(text.contains("pub struct TicketResolve"));
        assert!(text.contains("pub fn event < __JazzR >"));
        Ok(())
    }

    #[test]
    fn same_owner_fields_are_checked_before_the_read() -> syn::Result<()> {
        let model = CoMapModel::from_derive(&parse_quote! {
            pub struct Event {
                pub name: String,
                #[co(same_owner)]
                pub reservations: CoList<Ref<Ticket>>,
            }
        })?;
        let text = model.render().to_string();
        let _: syn::File = syn::parse2(model.render())?;
        assert_eq!(text.matches("check_same_owner").count(), 1);
        assert!(text.contains("map . check_same_owner (\"reservations\") ?"));
        assert!(text.contains(
            "< CoList < Ref < Ticket > > as :: jazz_req :: __private :: SameOwnerField > :: CHECKED"
        ));
        assert!(
            text.find("check_same_owner") < text.find("__jazz_read :: < __JazzField_name >"),
            "checked before any field is read"
        );
        Ok(())
    }

    #[test]
    fn an_empty_schema_has_no_helpers() -> syn::Result<()> {
        let model = CoMapModel::from_derive(&parse_quote!(
            struct Empty {}
        ))?;
        let text = model.render().to_string();
        assert!(!text.contains("__jazz_read"));
        let _: syn::File = syn::parse2(model.render())?;
        Ok(())
    }
}
