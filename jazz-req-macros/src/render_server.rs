//! Renders the server side of a [`RequestModel`]: the route type, the request schema and the
//! `Route` impl whose `handle` calls the user's handler (kept unchanged next to it).
//!
//! The return type is checked where the user wrote it. For `Result<Response, Error>`:
//! `Error` through a marker impl (`type Error = <user's type>`) whose bound carries an
//! `on_unimplemented` text, and `Response` by the `Route` impl's own bound
//! (`Response: CoMapSchema`), spanned on the user's type. Everything else that needs those
//! types reaches them through generic helpers, so one mistake gives one error.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::paths::Runtime;
use crate::request_model::{Output, RequestModel, WorkerModel};

impl RequestModel {
    /// The route type, the request schema and the `Route` impl.
    pub(crate) fn render_server(&self) -> TokenStream {
        let route_trait = Runtime::Route.path();
        let schema_trait = Runtime::CoMapSchema.path();
        let builder_trait = Runtime::ResolveBuilder.path();
        let query = Runtime::ResolveQuery.path();
        let worker_ref = Runtime::WorkerRef.path();
        let context = Runtime::RequestContext.path();
        let request_error = Runtime::JazzRequestError.path();

        let Self {
            handler,
            vis,
            route,
            url,
            request,
            ..
        } = self;
        let request_ident = &request.ident;
        let url_text = url.value();
        let route_doc = format!("Route of [`{handler}`](super::{handler}): `POST {url_text}`.");
        let worker_doc = match &self.worker {
            WorkerModel::Client => "Sent to the client's default worker.".to_owned(),
            WorkerModel::Id(id) => format!("Sent to the worker account `{}`.", id.value()),
            WorkerModel::Env(var) => format!(
                "Sent to the worker account named by the environment variable `{}`.",
                var.value()
            ),
        };
        // The unit struct is defined in a module of its own, brought in by a glob import,
        // and the generated code names it by its path in that module. When another item of
        // the module already has its name (a handler `vote` next to a schema `Vote`), that
        // item shadows the import instead of clashing with it, nothing generated lands on it,
        // and the one check below reports the clash at the handler's name.
        let module = self.route_module();
        let route_path = self.route_path();
        let inner_vis = one_module_down(vis);
        let clash_message = format!(
            "`{route}` already names another item here, so it cannot be the route type of the handler `{handler}`"
        );
        let clash_note = format!(
            "name the handler after what it does (`cast_{handler}` makes `Cast{route}`), or name the route: `#[jazz_request(name = \"{route}Route\", …)]`"
        );
        let route_type = quote_spanned! {route.span()=>
            #[doc(hidden)]
            #[allow(non_snake_case)]
            mod #module {
                #[doc = #route_doc]
                #[doc = ""]
                #[doc = #worker_doc]
                #[derive(Clone, Copy, Debug, Default)]
                #inner_vis struct #route;
            }
            #[doc(inline)]
            #[allow(unused_imports)]
            #vis use #module::*;
            const _: () = {
                #[diagnostic::on_unimplemented(
                    message = #clash_message,
                    label = "this handler's route type is shadowed",
                    note = #clash_note
                )]
                trait RouteTypeOfThisHandler {
                    const CHECKED: () = ();
                }
                #[diagnostic::do_not_recommend]
                impl RouteTypeOfThisHandler for #route_path {}
                <#route as RouteTypeOfThisHandler>::CHECKED
            };
        };
        let request_doc = format!(
            "The request of [`{route}`]: the request parameters of [`{handler}`], one field \
             each. Send it by name with `{route}::send_request(&client, {request_ident} {{ … }})`."
        );
        let field_docs: Vec<String> = self
            .request
            .fields
            .iter()
            .map(|f| format!("Parameter `{}` (key \"{}\").", f.rust_name(), f.json))
            .collect();
        let request_struct = request.render_struct(&request_doc, &field_docs);
        let request_schema = request.render();

        let worker = match &self.worker {
            WorkerModel::Client => quote!(#worker_ref::Client),
            WorkerModel::Id(id) => quote!(#worker_ref::Id(#id)),
            WorkerModel::Env(var) => quote!(#worker_ref::Env(#var)),
        };
        // The lock is keyed by the id the parameter holds: only a reference holds one, and
        // an `Option` may hold none (the handler would then run unlocked).
        let serialize_key = Runtime::SerializeKey.path();
        let serialize_check = self.serialize_ty.as_ref().map(|ty| {
            quote_spanned! {ty.span()=>
                const _: () = <#ty as #serialize_key>::CHECKED;
            }
        });
        let serialize = match &self.serialize {
            Some(json) => quote!(::core::option::Option::Some(#json)),
            None => quote!(::core::option::Option::None),
        };
        let request_resolve = resolve_body(
            quote!(<#request_ident as #schema_trait>::resolve()),
            &self.request_resolve,
            &builder_trait,
            &query,
        );
        let (output_checks, response, convert) = self.render_output();
        let response_resolve = resolve_body(
            quote!(<#response as #schema_trait>::resolve()),
            &self.response_resolve,
            &builder_trait,
            &query,
        );
        let writes = (!self.writes.is_empty()).then(|| {
            let queries = self.writes.iter().map(|path| {
                let body = resolve_body(
                    quote!(<#request_ident as #schema_trait>::resolve()),
                    &path.to_tree(),
                    &builder_trait,
                    &query,
                );
                quote!({ #body })
            });
            quote! {
                #[allow(clippy::redundant_closure)]
                fn writes() -> ::std::vec::Vec<#query> {
                    ::std::vec![#(#queries),*]
                }
            }
        });
        let params: Vec<_> = self.params.iter().map(|p| &p.ident).collect();
        let call = quote_spanned!(handler.span()=> #handler(ctx, #(#params),*).await);

        quote! {
            #route_type

            #request_struct
            #request_schema

            const _: () = {
                #output_checks
                #serialize_check

                #[automatically_derived]
                impl #route_trait for #route_path {
                    type Request = #request_ident;
                    type Response = #response;
                    const URL: &'static str = #url;
                    const WORKER: #worker_ref = #worker;
                    const SERIALIZE: ::core::option::Option<&'static str> = #serialize;

                    // Each resolve step is `|r| descend(r)…`, the closure carrying the
                    // user's span so a wrong step is reported at the user's key.
                    #[allow(clippy::redundant_closure)]
                    fn request_resolve() -> #query {
                        #request_resolve
                    }

                    #[allow(clippy::redundant_closure)]
                    fn response_resolve() -> #query {
                        #response_resolve
                    }

                    #writes

                    fn handle(
                        ctx: #context,
                        request: Self::Request,
                    ) -> impl ::core::future::Future<
                        Output = ::core::result::Result<Self::Response, #request_error>,
                    > + ::core::marker::Send + 'static {
                        let #request_ident { #(#params),* } = request;
                        async move { #convert(#call) }
                    }
                }
            };
        }
    }

    /// The checks of the return type, the response type as the `Route` impl names it
    /// (spanned on the user's type), and the function turning the handler's output into
    /// `Result<Response, JazzRequestError>`.
    fn render_output(&self) -> (TokenStream, TokenStream, TokenStream) {
        let request_error = Runtime::JazzRequestError.path();
        match &self.output {
            Output::Result { response, error } => {
                let error_slot = quote_spanned! {error.span()=>
                    impl __JazzHandlerError for __JazzHandler {
                        type Error = #error;
                    }
                };
                let checks = quote! {
                    #[diagnostic::on_unimplemented(
                        message = "the error type of a #[jazz_request] handler is `JazzRequestError`, not `{Self}`",
                        label = "expected `JazzRequestError`",
                        note = "return `Result<Response, JazzRequestError>`; `?` converts errors that implement `Into<JazzRequestError>`"
                    )]
                    #[doc(hidden)]
                    pub trait __JazzRequestErrorType {
                        fn into_request_error(self) -> #request_error;
                    }
                    impl __JazzRequestErrorType for #request_error {
                        fn into_request_error(self) -> #request_error {
                            self
                        }
                    }
                    #[doc(hidden)]
                    pub trait __JazzHandlerError {
                        type Error: __JazzRequestErrorType;
                    }
                    #[doc(hidden)]
                    pub struct __JazzHandler;
                    #error_slot
                    fn __jazz_output<M: __JazzHandlerError, T>(
                        output: ::core::result::Result<T, M::Error>,
                    ) -> ::core::result::Result<T, #request_error> {
                        output.map_err(__JazzRequestErrorType::into_request_error)
                    }
                };
                let response = quote_spanned!(response.span()=> #response);
                (checks, response, quote!(__jazz_output::<__JazzHandler, _>))
            }
            Output::Alias {
                ty,
                response: Some(response),
            } => {
                let output_slot = quote_spanned! {ty.span()=>
                    impl __JazzHandlerReturn for __JazzHandler {
                        type Output = #ty;
                    }
                };
                let checks = quote! {
                    #[diagnostic::on_unimplemented(
                        message = "`{Self}` is not `Result<{R}, JazzRequestError>`",
                        label = "a #[jazz_request] handler returns `Result<Response, JazzRequestError>`",
                        note = "an alias of that `Result` works when its first type argument is the response"
                    )]
                    #[doc(hidden)]
                    pub trait __JazzHandlerOutput<R> {
                        fn into_result(self) -> ::core::result::Result<R, #request_error>;
                    }
                    impl<R> __JazzHandlerOutput<R> for ::core::result::Result<R, #request_error> {
                        fn into_result(self) -> Self {
                            self
                        }
                    }
                    #[doc(hidden)]
                    pub trait __JazzHandlerReturn {
                        type Output: __JazzHandlerOutput<#response>;
                    }
                    #[doc(hidden)]
                    pub struct __JazzHandler;
                    #output_slot
                    fn __jazz_output<M: __JazzHandlerReturn>(
                        output: M::Output,
                    ) -> ::core::result::Result<#response, #request_error> {
                        __JazzHandlerOutput::into_result(output)
                    }
                };
                let response = quote_spanned!(response.span()=> #response);
                (checks, response, quote!(__jazz_output::<__JazzHandler>))
            }
            Output::Alias { ty, response: None } => {
                let checks = quote! {
                    #[diagnostic::on_unimplemented(
                        message = "`{Self}` is not `Result<Response, JazzRequestError>`",
                        label = "a #[jazz_request] handler returns `Result<Response, JazzRequestError>`",
                        note = "Response is a #[derive(CoMap)] struct; an alias of that `Result` works too"
                    )]
                    #[doc(hidden)]
                    pub trait __JazzHandlerOutput {
                        type Response;
                        fn into_result(self) -> ::core::result::Result<Self::Response, #request_error>;
                    }
                    impl<T> __JazzHandlerOutput for ::core::result::Result<T, #request_error> {
                        type Response = T;
                        fn into_result(self) -> Self {
                            self
                        }
                    }
                };
                let response = quote_spanned!(ty.span()=> <#ty as __JazzHandlerOutput>::Response);
                (checks, response, quote!(__JazzHandlerOutput::into_result))
            }
        }
    }
}

impl RequestModel {
    /// The module holding the route type (`__jazz_route_<handler>`).
    fn route_module(&self) -> syn::Ident {
        format_ident!(
            "__jazz_route_{}",
            self.handler.unraw(),
            span = self.route.span()
        )
    }

    /// The route type by its path (`__jazz_route_<handler>::<Route>`), which is what
    /// generated impls name: its bare name may be shadowed by another item. Relative, not
    /// `self::…`: in a function body the module is an item of the block, not of the
    /// enclosing module.
    pub(crate) fn route_path(&self) -> TokenStream {
        let module = self.route_module();
        let route = &self.route;
        quote!(#module::#route)
    }
}

/// `vis` as written one module further down: what a child module gives an item so that it
/// is exactly as visible as `vis` at the parent (`pub(super)` for a private item).
fn one_module_down(vis: &syn::Visibility) -> TokenStream {
    match vis {
        syn::Visibility::Public(_) => quote!(#vis),
        syn::Visibility::Inherited => quote!(pub(super)),
        syn::Visibility::Restricted(restricted) => {
            let path = &restricted.path;
            let first = path.segments.first().map(|s| s.ident.to_string());
            match first.as_deref() {
                Some("self") if path.segments.len() == 1 => quote!(pub(super)),
                Some("self") => {
                    let rest = path.segments.iter().skip(1);
                    quote!(pub(in super #(::#rest)*))
                }
                Some("super") => quote!(pub(in super::#path)),
                // `crate`, `crate::a`, an absolute path: the same anywhere.
                _ => quote!(#vis),
            }
        }
    }
}

/// The body of `request_resolve`/`response_resolve`: `Value` for `true`, else the builder
/// calls on `start`.
fn resolve_body(
    start: TokenStream,
    tree: &crate::resolve::ResolveTree,
    builder_trait: &TokenStream,
    query: &TokenStream,
) -> TokenStream {
    if tree.entries.is_empty() {
        // What an empty builder gives, without naming the schema: a response type that is
        // not a schema is then reported once, at the `Route` impl.
        return quote!(#query::Value);
    }
    let built = tree.render_on(start);
    quote! {
        #[allow(unused_imports)]
        use #builder_trait as _;
        #built.into_query()
    }
}

#[cfg(test)]
mod tests {
    use super::one_module_down;
    use syn::parse_quote;

    #[test]
    fn visibility_one_module_down() {
        let cases: [(syn::Visibility, &str); 6] = [
            (parse_quote!(pub), "pub"),
            (syn::Visibility::Inherited, "pub (super)"),
            (parse_quote!(pub(crate)), "pub (crate)"),
            (parse_quote!(pub(self)), "pub (super)"),
            (parse_quote!(pub(super)), "pub (in super :: super)"),
            (parse_quote!(pub(in crate::a)), "pub (in crate :: a)"),
        ];
        for (vis, expected) in cases {
            assert_eq!(one_module_down(&vis).to_string(), expected);
        }
    }
}
