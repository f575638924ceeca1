//! Renders the client side of a [`RequestModel`]: `Route::send`, a typed stub over the
//! runtime's `RequestClient::send_route`, which does the work (sign, POST, verify the answer,
//! load the response with the route's `response_resolve`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::paths::Runtime;
use crate::request_model::{Output, RequestModel};

impl RequestModel {
    /// `impl Route { pub async fn send(client, params…); pub async fn send_request(client,
    /// request) }`.
    pub(crate) fn render_client(&self) -> TokenStream {
        let client_type = Runtime::RequestClient.path();
        let loaded = Runtime::Loaded.path();
        let send_error = Runtime::SendError.path();
        let route_trait = Runtime::Route.path();

        let Self {
            handler,
            vis,
            route,
            request,
            params,
            ..
        } = self;
        let request_ident = &request.ident;
        let route_path = self.route_path();
        // The client parameter must not shadow a request parameter called `client`.
        let client = if params.iter().any(|p| p.ident == "client") {
            format_ident!("__jazz_client")
        } else {
            format_ident!("client")
        };
        let idents: Vec<_> = params.iter().map(|p| &p.ident).collect();
        let tys = params.iter().map(|p| &p.ty);
        let response = match &self.output {
            Output::Result { response, .. }
            | Output::Alias {
                response: Some(response),
                ..
            } => quote!(#response),
            Output::Alias { response: None, .. } => quote!(<Self as #route_trait>::Response),
        };
        let doc = format!(
            "Sends a [`{handler}`] request to the route's worker and returns its response, \
             loaded as far as the route's `response_resolve` says.\n\n\
             The request is signed by `{client}`'s account, POSTed to the route's URL, and the \
             answer verified; the worker's refusal is `SendError`'s request variant, carrying \
             the `JazzRequestError` the handler returned.\n\n\
             The arguments are the handler's request parameters, in order; \
             [`send_request`](Self::send_request) takes them by name."
        );
        let request_doc = format!(
            "[`send`](Self::send) with the request's fields named: \
             `{route}::send_request(&client, {request_ident} {{ … }})`, so two parameters of \
             one type cannot be swapped unnoticed."
        );
        quote! {
            impl #route_path {
                #[doc = #doc]
                #vis async fn send(
                    #client: &#client_type,
                    #( #idents: #tys, )*
                ) -> ::core::result::Result<#loaded<#response>, #send_error> {
                    #client
                        .send_route::<Self>(#request_ident { #(#idents),* })
                        .await
                }

                #[doc = #request_doc]
                #vis async fn send_request(
                    client: &#client_type,
                    request: #request_ident,
                ) -> ::core::result::Result<#loaded<#response>, #send_error> {
                    client.send_route::<Self>(request).await
                }
            }
        }
    }
}
