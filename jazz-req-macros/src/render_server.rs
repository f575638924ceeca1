//! Renders the server side of a [`RequestModel`]: the route type, the request schema and the
//! `Route` impl whose `handle` calls the user's handler (kept unchanged next to it).
//!
//! The return type is checked where the user wrote it. For `Result<Response, Error>`:
//! `Error` through a marker impl (`type Error = <user's type>`) whose bound carries an
//! `on_unimplemented` text, and `Response` by the `Route` impl's own bound
//! (`Response: CoMapSchema`), spanned on the user's type. Everything else that needs those
//! types reaches them through generic helpers, so one mistake gives one error.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
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
        let route_doc = format!("Route of [`{handler}`]: `POST {url_text}`.");
        let worker_doc = match &self.worker {
            WorkerModel::Client => "Sent to the client's default worker.".to_owned(),
            WorkerModel::Id(id) => format!("Sent to the worker account `{}`.", id.value()),
            WorkerModel::Env(var) => format!(
                "Sent to the worker account named by the environment variable `{}`.",
                var.value()
            ),
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
            #[doc = #route_doc]
            #[doc = ""]
            #[doc = #worker_doc]
            #[derive(Clone, Copy, Debug, Default)]
            #vis struct #route;

            #request_struct
            #request_schema

            const _: () = {
                #output_checks
                #serialize_check

                #[automatically_derived]
                impl #route_trait for #route {
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
