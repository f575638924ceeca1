//! The one place that names the runtime. Generated code reaches jazz-req only through
//! `::jazz_req::__private`, the facade's hidden module, with an absolute path so a user's
//! own `jazz_req` module or an item named like a runtime type cannot shadow it.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::Ident;

/// The runtime items generated code names (their names in `::jazz_req::__private`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runtime {
    CoField,
    CoMapSchema,
    CoEnum,
    FieldInfo,
    FieldSite,
    MapReader,
    MapWriter,
    SchemaError,
    ResolveBuilder,
    ResolveFields,
    ResolveQuery,
    NotAReference,
    Value,
    Route,
    WorkerRef,
    RequestContext,
    RequestClient,
    JazzRequestError,
    SendError,
    Loaded,
    /// The trait of resolve builders with items (`$each`).
    EachItems,
    /// `fn enum_read_field<E: CoEnum>(value, site)`.
    EnumReadField,
    /// `fn enum_write_field<E: CoEnum>(value: E)`.
    EnumWriteField,
    /// The marker of the field types `#[co(same_owner)]` can guard.
    SameOwnerField,
    /// The marker of the parameter types `serialize = param` can lock on.
    SerializeKey,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Self::CoField => "CoField",
            Self::CoMapSchema => "CoMapSchema",
            Self::CoEnum => "CoEnum",
            Self::FieldInfo => "FieldInfo",
            Self::FieldSite => "FieldSite",
            Self::MapReader => "MapReader",
            Self::MapWriter => "MapWriter",
            Self::SchemaError => "SchemaError",
            Self::ResolveBuilder => "ResolveBuilder",
            Self::ResolveFields => "ResolveFields",
            Self::ResolveQuery => "ResolveQuery",
            Self::NotAReference => "NotAReference",
            Self::Value => "Value",
            Self::Route => "Route",
            Self::WorkerRef => "WorkerRef",
            Self::RequestContext => "RequestContext",
            Self::RequestClient => "RequestClient",
            Self::JazzRequestError => "JazzRequestError",
            Self::SendError => "SendError",
            Self::Loaded => "Loaded",
            Self::EachItems => "EachItems",
            Self::EnumReadField => "enum_read_field",
            Self::EnumWriteField => "enum_write_field",
            Self::SameOwnerField => "SameOwnerField",
            Self::SerializeKey => "SerializeKey",
        }
    }

    /// `::jazz_req::__private::<item>`, with every token at the call site.
    pub(crate) fn path(self) -> TokenStream {
        self.path_at(Span::call_site())
    }

    /// `::jazz_req::__private::<item>` with every token at `span`, so a type error about the
    /// item (a failed bound of `descend`, say) points at the user's token the span came from
    /// instead of at the attribute.
    pub(crate) fn path_at(self, span: Span) -> TokenStream {
        let item = Ident::new(self.name(), span);
        quote_spanned!(span=> ::jazz_req::__private::#item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_absolute_through_the_facade() {
        assert_eq!(
            Runtime::CoMapSchema.path().to_string(),
            ":: jazz_req :: __private :: CoMapSchema"
        );
        assert_eq!(
            Runtime::EachItems.path().to_string(),
            ":: jazz_req :: __private :: EachItems"
        );
    }
}
