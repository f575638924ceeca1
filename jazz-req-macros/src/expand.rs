//! The three expansions, each parse → model → render, with the one place where errors
//! become tokens. On error the user's item is still emitted (for `#[jazz_request]`: the
//! handler, unchanged but for the `#[co]` attributes the macro consumes), so call sites and
//! other items that use it do not fail in turn.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, DeriveInput, FnArg, ItemFn};

use crate::attr;
use crate::coenum::CoEnumModel;
use crate::comap_model::CoMapModel;
use crate::request_model::RequestModel;

/// `#[derive(CoMap)]`.
pub(crate) fn derive_comap(input: TokenStream) -> TokenStream {
    let output = syn::parse2::<DeriveInput>(input)
        .and_then(|input| CoMapModel::from_derive(&input))
        .map_or_else(|e| e.to_compile_error(), |model| model.render());
    debug("CoMap", &output);
    output
}

/// `#[derive(CoEnum)]`.
pub(crate) fn derive_coenum(input: TokenStream) -> TokenStream {
    let output = syn::parse2::<DeriveInput>(input)
        .and_then(|input| CoEnumModel::from_derive(&input))
        .map_or_else(|e| e.to_compile_error(), |model| model.render());
    debug("CoEnum", &output);
    output
}

/// `#[jazz_request(...)]`.
pub(crate) fn jazz_request(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                format!("#[jazz_request] goes on an `async fn` handler: {error}"),
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let param_attrs = strip_param_attrs(&mut func);
    let output = match RequestModel::new(args, &func, &param_attrs) {
        Ok(model) => {
            let server = model.render_server();
            let client = model.render_client();
            quote!(#func #server #client)
        }
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#func #error)
        }
    };
    debug("jazz_request", &output);
    output
}

/// Takes the `#[co(...)]` attributes off the handler's parameters (rustc knows no `co`
/// attribute), one list per parameter.
pub(crate) fn strip_param_attrs(func: &mut ItemFn) -> Vec<Vec<Attribute>> {
    func.sig
        .inputs
        .iter_mut()
        .map(|input| match input {
            FnArg::Typed(typed) => attr::strip_co(&mut typed.attrs),
            FnArg::Receiver(receiver) => attr::strip_co(&mut receiver.attrs),
        })
        .collect()
}

/// Prints an expansion when `JAZZ_REQ_MACROS_DEBUG` is set (to anything, or to the macro's
/// name). Only prints: the expansion never depends on it.
fn debug(name: &str, output: &TokenStream) {
    if let Some(wanted) = std::env::var_os("JAZZ_REQ_MACROS_DEBUG")
        && (wanted.is_empty() || wanted == "1" || wanted == name)
    {
        eprintln!("// #[{name}] expansion\n{output}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_route_keeps_the_handler_without_its_co_attributes() {
        let output = jazz_request(
            quote!(urll = "/x"),
            quote!(
                async fn f(ctx: RequestContext, #[co(rename = "y")] x: u32) -> Result<R, E> {
                    todo!()
                }
            ),
        )
        .to_string();
        assert!(output.starts_with("async fn f (ctx : RequestContext , x : u32)"));
        assert!(output.contains("compile_error"));
        assert!(!output.contains("rename"));
    }

    #[test]
    fn a_route_renders_parseable_items() -> syn::Result<()> {
        let output = jazz_request(
            quote!(
                url = "/api/book-event-ticket",
                worker = env("JAZZ_WORKER_ACCOUNT"),
                resolve = { event: { reservations: { $each: true } } },
                response_resolve = { ticket: true },
                serialize = event,
            ),
            quote!(
                pub async fn book_event_ticket(
                    ctx: RequestContext,
                    event: Loaded<Event>,
                ) -> Result<TicketBooked, JazzRequestError> {
                    todo!()
                }
            ),
        );
        let file: syn::File = syn::parse2(output.clone())?;
        assert!(!output.to_string().contains("compile_error"));
        // The handler, the route type's module, its import and the check of its name, the
        // request struct, its resolve builder, the request schema's const block, the route's
        // const block, the client stubs.
        assert_eq!(file.items.len(), 9);
        Ok(())
    }

    #[test]
    fn not_a_function() {
        let output = jazz_request(
            quote!(url = "/x"),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(output.contains("#[jazz_request] goes on an `async fn` handler"));
        assert!(output.ends_with("struct S ;"));
    }
}
