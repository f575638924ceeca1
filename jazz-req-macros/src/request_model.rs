//! The model of a `#[jazz_request]` route: every fact the renderers need, validated, with the
//! spans of the user's tokens. Built from the attribute's keys and the handler's signature;
//! every independent rule reports into one [`Errors`], so a user sees all mistakes at once.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, Ident, ItemFn, LitStr, Pat, PathArguments, ReturnType, Type,
    Visibility,
};

use crate::attr::{self, MEMBER_KEYS, REQUEST_KEYS};
use crate::comap_model::{self, CoMapField, CoMapModel};
use crate::ctxt::Errors;
use crate::resolve::{ResolveEntry, ResolveKey, ResolveTree};
use crate::writes::WritePath;

const CONTEXT: &str = "#[jazz_request(...)]";

/// A route declared by `#[jazz_request]` on an `async fn`.
pub(crate) struct RequestModel {
    /// The handler.
    pub(crate) handler: Ident,
    /// The handler's visibility, given to the route type, its request and `send`.
    pub(crate) vis: Visibility,
    /// The route type (`name = "…"`, else the handler's name in PascalCase).
    pub(crate) route: Ident,
    /// `url = "…"`.
    pub(crate) url: LitStr,
    /// `worker = …`.
    pub(crate) worker: WorkerModel,
    /// `serialize = param`: the JSON name of that request field.
    pub(crate) serialize: Option<String>,
    /// The type of the `serialize` parameter, which must be a CoValue reference (checked
    /// by a `SerializeKey` bound spanned on it).
    pub(crate) serialize_ty: Option<Type>,
    /// `writes = [param.field, …]`: what the handler writes to, each path loaded by the
    /// request resolve.
    pub(crate) writes: Vec<WritePath>,
    /// The request parameters (the handler's parameters after the context).
    pub(crate) params: Vec<Param>,
    /// The request schema built from the parameters (`<Route>Request`).
    pub(crate) request: CoMapModel,
    /// `resolve = {…}`, with the `Loaded` parameters it does not name added as `true`.
    pub(crate) request_resolve: ResolveTree,
    /// `response_resolve = {…}`.
    pub(crate) response_resolve: ResolveTree,
    /// The handler's return type.
    pub(crate) output: Output,
}

/// Where the route's worker account id comes from.
pub(crate) enum WorkerModel {
    /// No `worker` key: the client's default worker.
    Client,
    /// `worker = "co_z…"`.
    Id(LitStr),
    /// `worker = env("VAR")`.
    Env(LitStr),
}

/// A request parameter.
pub(crate) struct Param {
    /// Its name (a field of the request struct).
    pub(crate) ident: Ident,
    /// Its type.
    pub(crate) ty: Type,
}

/// The handler's return type.
pub(crate) enum Output {
    /// `Result<Response, Error>` as written: both parts are checked where the user wrote
    /// them (`Error` must be `JazzRequestError`, `Response` a CoMap schema).
    Result {
        /// The response schema.
        response: Box<Type>,
        /// The error type.
        error: Box<Type>,
    },
    /// Another path named `…Result` (an alias such as `HandlerResult<T>`): the type checker
    /// decides, through a trait implemented for `Result<T, JazzRequestError>` only.
    Alias {
        /// The return type as written.
        ty: Box<Type>,
        /// Its first type argument (`T` of `HandlerResult<T>`), taken as the response: the
        /// check is then that the alias is `Result<T, JazzRequestError>`, reported once at
        /// the return type. `None` for an alias without type arguments, whose response is
        /// read through the trait (a wrong one is then reported at each use too).
        response: Option<Box<Type>>,
    },
}

impl RequestModel {
    /// Validates the attribute `args` and the handler `func` (whose parameters' `#[co]`
    /// attributes were taken off into `param_attrs`, one list per parameter).
    pub(crate) fn new(
        args: TokenStream,
        func: &ItemFn,
        param_attrs: &[Vec<Attribute>],
    ) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let attr_span = Span::call_site();
        let args = attr::parse_args(args)?;
        let [
            url,
            name,
            worker,
            resolve,
            response_resolve,
            serialize,
            writes,
        ] = attr::retain(args, REQUEST_KEYS, CONTEXT, &mut errors);
        let route = route_ident(name.as_ref(), &func.sig.ident, &mut errors);
        let request_ident = format_ident!("{}Request", route);
        check_generated_names(func, &route, &request_ident, name.is_some(), &mut errors);

        let url =
            errors.ok(
                attr::required(url, "url", "url = \"/api/my-route\"", attr_span, CONTEXT)
                    .and_then(|arg| attr::lit_str(&arg))
                    .and_then(check_url),
            );
        let worker = match worker {
            None => Some(WorkerModel::Client),
            Some(arg) => errors.ok(parse_worker(&arg)),
        };
        let mut trees = [resolve, response_resolve].map(|slot| {
            let tree = slot.and_then(|arg| {
                let parsed = ResolveTree::parse(arg.value, &mut errors);
                errors.ok(parsed)
            });
            let tree = tree.unwrap_or_default();
            for entry in &tree.entries {
                if let ResolveKey::Each(span) = entry.key {
                    errors.at(
                        span,
                        "`$each` applies to a CoList field (`{ list: { $each: true } }`), not to the top level of a resolve query",
                    );
                }
            }
            tree
        });

        check_signature(func, &mut errors);
        let (params, fields, json_spans) =
            request_params(func, param_attrs, &request_ident, &mut errors);
        let output = errors.ok(output(func));

        // The top level of `resolve` names request parameters: check it here, listing them.
        let names: Vec<String> = params.iter().map(|p| p.ident.unraw().to_string()).collect();
        for entry in &trees[0].entries {
            if let ResolveKey::Field(key) = &entry.key
                && !params.iter().any(|p| p.ident == *key)
            {
                errors.at(
                    key.span(),
                    format!(
                        "`{key}` is not a parameter of `{}`; {}",
                        func.sig.ident,
                        describe_params(&names)
                    ),
                );
            }
        }
        // A `Loaded<T>` parameter is loaded even when `resolve` does not name it.
        for param in &params {
            if last_segment_is(&param.ty, "Loaded")
                && trees[0].field(&param.ident.to_string()).is_none()
            {
                trees[0]
                    .entries
                    .push(ResolveEntry::load(param.ident.clone()));
            }
        }

        let serialize = serialize.and_then(|arg| {
            let name = errors.ok(attr::ident(&arg))?;
            match fields.iter().find(|f| f.ident == name) {
                Some(field) => Some((field.json.clone(), field.ty.clone())),
                None => {
                    errors.at(
                        name.span(),
                        format!(
                            "`serialize` names `{name}`, which is not a parameter of `{}`; {}",
                            func.sig.ident,
                            describe_params(&names)
                        ),
                    );
                    None
                }
            }
        });

        let writes =
            writes.map_or_else(Vec::new, |arg| crate::writes::parse(arg.value, &mut errors));
        for path in &writes {
            let Some(first) = path.segments.first() else {
                continue;
            };
            if !params.iter().any(|p| p.ident == *first) {
                errors.at(
                    first.span(),
                    format!(
                        "`writes` names `{first}`, which is not a parameter of `{}`; {}",
                        func.sig.ident,
                        describe_params(&names)
                    ),
                );
            } else if let Some(unloaded) = path.first_unloaded(&trees[0]) {
                errors.at(
                    unloaded.span(),
                    format!(
                        "`writes` names `{}`, which the request resolve does not load: the worker checks it may write there before the handler runs; load it (e.g. `resolve = {{ {} }}`)",
                        path.dotted(),
                        nested_resolve(&path.segments),
                    ),
                );
            }
        }

        // What errors reading a request call its schema: the 400 a client gets for a request
        // that does not fit names the route it sent to, not a Rust type.
        let schema_name = format!(
            "request to {}",
            url.as_ref()
                .map_or_else(|| route.to_string(), LitStr::value)
        );
        let request = CoMapModel::new(
            request_ident,
            func.vis.clone(),
            fields,
            &json_spans,
            &mut errors,
        )
        .into_route_request(schema_name);
        errors.finish()?;
        let (Some(url), Some(worker), Some(output)) = (url, worker, output) else {
            // Unreachable: each `None` above recorded an error, and `finish` returned it.
            return Err(syn::Error::new(attr_span, "invalid #[jazz_request]"));
        };
        let [request_resolve, response_resolve] = trees;
        let (serialize, serialize_ty) = serialize.unzip();
        Ok(Self {
            handler: func.sig.ident.clone(),
            vis: func.vis.clone(),
            route,
            url,
            worker,
            serialize,
            serialize_ty,
            writes,
            params,
            request,
            request_resolve,
            response_resolve,
            output,
        })
    }
}

/// `a: { b: true }` for the path `a.b`, as a resolve query would name it.
fn nested_resolve(segments: &[Ident]) -> String {
    match segments.split_first() {
        None => "true".to_owned(),
        Some((first, [])) => format!("{first}: true"),
        Some((first, rest)) => format!("{first}: {{ {} }}", nested_resolve(rest)),
    }
}

fn describe_params(names: &[String]) -> String {
    if names.is_empty() {
        "the handler has no request parameters".to_owned()
    } else {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        format!("its request parameters are: {}", attr::list(&names))
    }
}

/// A URL is a path on the worker's origin or an absolute http(s) URL.
fn check_url(url: LitStr) -> syn::Result<LitStr> {
    let value = url.value();
    if value.starts_with('/') || value.starts_with("http://") || value.starts_with("https://") {
        Ok(url)
    } else {
        Err(syn::Error::new(
            url.span(),
            "`url` is a path (\"/api/…\") or an absolute http(s) URL",
        ))
    }
}

/// `env("VAR")` or `"co_z…"`.
fn parse_worker(arg: &attr::Arg) -> syn::Result<WorkerModel> {
    let expected = || {
        syn::Error::new(
            arg.value_span(),
            "`worker` is `env(\"VAR\")` (the worker account id read from an environment variable at run time) or an account id \"co_z…\"",
        )
    };
    if let Ok(id) = syn::parse2::<LitStr>(arg.value.clone()) {
        return if id.value().starts_with("co_z") {
            Ok(WorkerModel::Id(id))
        } else {
            Err(syn::Error::new(
                id.span(),
                "a worker account id starts with \"co_z\"",
            ))
        };
    }
    let call: syn::ExprCall = syn::parse2(arg.value.clone()).map_err(|_| expected())?;
    let is_env = matches!(&*call.func, syn::Expr::Path(p) if p.path.is_ident("env"));
    match (is_env, call.args.len(), call.args.first()) {
        (
            true,
            1,
            Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(var),
                ..
            })),
        ) => Ok(WorkerModel::Env(var.clone())),
        _ => Err(expected()),
    }
}

/// `async`, no generics, nothing the generated call cannot make.
fn check_signature(func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token.span,
            "a #[jazz_request] handler must be an `async fn`",
        );
    }
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span,
            "a #[jazz_request] handler cannot be a `const fn`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.at(
            unsafety.span,
            "a #[jazz_request] handler cannot be `unsafe`",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi.span(), "a #[jazz_request] handler cannot have an ABI");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            sig.generics.span(),
            "a #[jazz_request] handler cannot be generic: its request and response are concrete schemas",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(
            variadic.span(),
            "a #[jazz_request] handler cannot be variadic",
        );
    }
}

/// The request parameters (after the context), their fields in the request schema, and the
/// span to report a repeated JSON name at.
fn request_params(
    func: &ItemFn,
    param_attrs: &[Vec<Attribute>],
    request_name: &Ident,
    errors: &mut Errors,
) -> (Vec<Param>, Vec<CoMapField>, Vec<Span>) {
    let sig = &func.sig;
    let inputs: Vec<(&FnArg, &Vec<Attribute>)> = sig.inputs.iter().zip(param_attrs).collect();
    // The context is the first parameter. Written elsewhere, it is one mistake, reported at
    // it, and the parameters before it are still request parameters.
    let context_at = inputs.iter().position(
        |(input, _)| matches!(input, FnArg::Typed(typed) if last_segment_is(&typed.ty, "RequestContext")),
    );
    if let Some(at) = context_at.filter(|at| *at > 0)
        && let (FnArg::Typed(context), _) = inputs[at]
    {
        let name = match &*context.pat {
            Pat::Ident(p) => p.ident.to_string(),
            _ => "ctx".to_owned(),
        };
        errors.at(
            context.span(),
            format!(
                "the request context goes first: write `{name}: RequestContext` as the first parameter of `{}`, before the request parameters",
                sig.ident
            ),
        );
    }
    let context_at = context_at.unwrap_or(0);
    match inputs.first().copied() {
        _ if context_at > 0 => {}
        None => errors.at(
            sig.paren_token.span.join(),
            format!(
                "missing the request context: a #[jazz_request] handler starts with `ctx: RequestContext`, e.g. `async fn {}(ctx: RequestContext, …)`",
                sig.ident
            ),
        ),
        Some((FnArg::Receiver(receiver), _)) => errors.at(
            receiver.span(),
            "a #[jazz_request] handler is a free function: no `self`",
        ),
        Some((FnArg::Typed(first), attrs)) => {
            if !last_segment_is(&first.ty, "RequestContext") {
                let named_like_context = matches!(&*first.pat, Pat::Ident(p)
                    if matches!(p.ident.to_string().trim_start_matches('_'), "ctx" | "context"));
                if named_like_context {
                    errors.at(
                        first.ty.span(),
                        "the request context has type `RequestContext`",
                    );
                } else {
                    errors.at(
                        first.span(),
                        "missing the request context: the first parameter of a #[jazz_request] handler is `ctx: RequestContext`; request parameters come after it",
                    );
                }
            }
            if let Some(attr) = attrs.first() {
                errors.at(attr.span(), "`#[co]` goes on request parameters, not on the context");
            }
        }
    }

    let (mut params, mut fields, mut json_spans) = (Vec::new(), Vec::new(), Vec::new());
    let request_inputs = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != context_at)
        .map(|(_, input)| *input);
    for (input, attrs) in request_inputs {
        let typed = match input {
            FnArg::Typed(typed) => typed,
            FnArg::Receiver(receiver) => {
                errors.at(
                    receiver.span(),
                    "a #[jazz_request] handler is a free function: no `self`",
                );
                continue;
            }
        };
        let ident = match &*typed.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                errors.at(
                    other.span(),
                    "a request parameter is a plain name (`event: Loaded<Event>`): it becomes a field of the request",
                );
                continue;
            }
        };
        match &*typed.ty {
            Type::ImplTrait(_) | Type::Reference(_) | Type::Infer(_) => {
                errors.at(
                    typed.ty.span(),
                    "a request parameter has an owned, concrete type that can live in a CoMap field",
                );
                continue;
            }
            _ => {}
        }
        if let Some(error) = comap_model::misfit_type(&typed.ty, "a request parameter") {
            errors.push(error);
            continue;
        }
        let [rename] = attr::co_slots(attrs, MEMBER_KEYS, "#[co(...)] on a parameter", errors);
        let rename = rename.and_then(|arg| errors.ok(attr::lit_str(&arg)));
        json_spans.push(rename.as_ref().map_or(ident.span(), LitStr::span));
        fields.push(CoMapField::new(
            ident.clone(),
            (*typed.ty).clone(),
            rename,
            None,
            request_name,
        ));
        params.push(Param {
            ident,
            ty: (*typed.ty).clone(),
        });
    }
    (params, fields, json_spans)
}

/// The handler's return type: `Result<Response, Error>` as written, or another path (an
/// alias) left to the type checker.
fn output(func: &ItemFn) -> syn::Result<Output> {
    let expected = "a #[jazz_request] handler returns `Result<Response, JazzRequestError>`, Response a #[derive(CoMap)] struct";
    let ty = match &func.sig.output {
        ReturnType::Default => {
            return Err(syn::Error::new(
                func.sig.ident.span(),
                format!("missing return type: {expected}"),
            ));
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    let Type::Path(path) = ty else {
        return Err(syn::Error::new(ty.span(), expected));
    };
    let Some(last) = path.path.segments.last() else {
        return Err(syn::Error::new(ty.span(), expected));
    };
    // A path not named `…Result` is taken as a mistake here rather than as an alias: the
    // type checker could not tell without reporting it at every use of the response type.
    if !last.ident.to_string().ends_with("Result") {
        return Err(syn::Error::new(
            ty.span(),
            format!("{expected} (or an alias of it named `…Result`)"),
        ));
    }
    let types: Vec<&Type> = match &last.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if path.qself.is_none()
        && last.ident == "Result"
        && let [response, error] = types[..]
    {
        return Ok(Output::Result {
            response: Box::new(response.clone()),
            error: Box::new(error.clone()),
        });
    }
    Ok(Output::Alias {
        ty: Box::new(ty.clone()),
        response: types.first().map(|t| Box::new((*t).clone())),
    })
}

/// Whether `ty` is a path whose last segment is `name` (`RequestContext`,
/// `jazz_req::prelude::RequestContext`, `Loaded<T>`, …).
fn last_segment_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// The route type: `name = "…"` (spanned on the literal), else the handler's name in
/// PascalCase (spanned on the handler's name), so a clash with another item points at the
/// token the name came from.
fn route_ident(name: Option<&attr::Arg>, handler: &Ident, errors: &mut Errors) -> Ident {
    let default = || Ident::new(&route_name(handler), handler.span());
    let Some(arg) = name else {
        return default();
    };
    let Some(lit) = errors.ok(attr::lit_str(arg)) else {
        return default();
    };
    match syn::parse_str::<Ident>(&lit.value()) {
        Ok(ident) => Ident::new(&ident.to_string(), lit.span()),
        Err(_) => {
            errors.at(
                lit.span(),
                "`name` is the route type's name, a Rust identifier such as \"CastVote\"",
            );
            default()
        }
    }
}

/// The route type and its request struct are new items next to the handler: a type of the
/// same name that the handler itself uses (the handler `vote` returning a `Vote`) would
/// clash with them in a cascade of unrelated errors, so it is one error here, at the name.
fn check_generated_names(
    func: &ItemFn,
    route: &Ident,
    request: &Ident,
    named: bool,
    errors: &mut Errors,
) {
    let mut used = Vec::new();
    for input in &func.sig.inputs {
        if let FnArg::Typed(typed) = input {
            idents_in(typed.ty.to_token_stream(), &mut used);
        }
    }
    if let ReturnType::Type(_, ty) = &func.sig.output {
        idents_in(ty.to_token_stream(), &mut used);
    }
    let Some(clash) = [route, request]
        .into_iter()
        .find(|g| used.iter().any(|u| u == *g))
    else {
        return;
    };
    let message = if named {
        format!(
            "`name = \"{route}\"` makes the types `{route}` and `{request}`, but `{clash}` is already a type `{}` uses: choose another name",
            func.sig.ident
        )
    } else {
        format!(
            "the handler `{handler}` makes the route type `{route}` (and its request `{request}`), but `{clash}` is already a type `{handler}` uses: name the handler after what it does (`cast_{handler}` makes `Cast{route}`), or name the route: `#[jazz_request(name = \"{route}Route\", …)]`",
            handler = func.sig.ident
        )
    };
    errors.at(route.span(), message);
}

/// Every identifier in `tokens`, at any depth.
fn idents_in(tokens: TokenStream, out: &mut Vec<Ident>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => out.push(ident),
            TokenTree::Group(group) => idents_in(group.stream(), out),
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
    }
}

/// The route type's name: the handler's in PascalCase (`Route` for a handler named `_`s).
fn route_name(handler: &Ident) -> String {
    let name = pascal_case(&handler.unraw().to_string());
    if name.is_empty() {
        "Route".to_owned()
    } else {
        name
    }
}

/// `book_event_ticket` → `BookEventTicket`.
pub(crate) fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    fn model(args: TokenStream, mut func: ItemFn) -> Result<RequestModel, Vec<String>> {
        let attrs = crate::expand::strip_param_attrs(&mut func);
        RequestModel::new(args, &func, &attrs)
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn errors(args: TokenStream, func: ItemFn) -> Vec<String> {
        model(args, func).err().unwrap_or_default()
    }

    #[test]
    fn the_book_event_ticket_route() -> Result<(), Vec<String>> {
        let m = model(
            quote!(
                url = "/api/book-event-ticket",
                worker = env("JAZZ_WORKER_ACCOUNT"),
                resolve = { event: { reservations: true } },
                response_resolve = { ticket: true },
                serialize = event,
            ),
            parse_quote! {
                pub async fn book_event_ticket(ctx: RequestContext, #[co(rename = "theEvent")] event: Loaded<Event>, note: Option<String>)
                    -> Result<TicketBooked, JazzRequestError> { todo!() }
            },
        )?;
        assert_eq!(m.route, "BookEventTicket");
        assert_eq!(m.request.ident, "BookEventTicketRequest");
        assert_eq!(m.request.schema_name, "request to /api/book-event-ticket");
        assert_eq!(m.serialize.as_deref(), Some("theEvent"));
        assert!(matches!(&m.worker, WorkerModel::Env(v) if v.value() == "JAZZ_WORKER_ACCOUNT"));
        assert_eq!(m.params.len(), 2);
        assert_eq!(m.request_resolve.entries.len(), 1);
        assert_eq!(m.response_resolve.entries.len(), 1);
        assert!(matches!(m.output, Output::Result { .. }));
        Ok(())
    }

    #[test]
    fn loaded_parameters_are_resolved_by_default() -> Result<(), Vec<String>> {
        let m = model(
            quote!(url = "/x"),
            parse_quote!(
                async fn f(ctx: RequestContext, a: Loaded<A>, b: Ref<B>) -> HandlerResult<R> {
                    todo!()
                }
            ),
        )?;
        let keys: Vec<String> = m
            .request_resolve
            .entries
            .iter()
            .map(|e| e.key.name())
            .collect();
        assert_eq!(keys, ["a"]);
        assert!(matches!(&m.output, Output::Alias { response: Some(r), .. }
            if quote::ToTokens::to_token_stream(r).to_string() == "R"));
        assert!(matches!(m.worker, WorkerModel::Client));
        Ok(())
    }

    #[test]
    fn attribute_mistakes_are_reported_together() {
        assert_eq!(
            errors(
                quote!(urll = "/x", worker = "me", resolve = { evnt: true, $each: true }, serialize = nope),
                parse_quote!(
                    async fn f(
                        ctx: RequestContext,
                        event: Loaded<E>,
                    ) -> Result<R, JazzRequestError> {
                        todo!()
                    }
                ),
            ),
            [
                "unknown key `urll` in #[jazz_request(...)]; allowed keys: `url`, `name`, `worker`, `resolve`, `response_resolve`, `serialize`, `writes`",
                "missing required key `url` in #[jazz_request(...)], e.g. `url = \"/api/my-route\"`",
                "a worker account id starts with \"co_z\"",
                "`$each` applies to a CoList field (`{ list: { $each: true } }`), not to the top level of a resolve query",
                "`evnt` is not a parameter of `f`; its request parameters are: `event`",
                "`serialize` names `nope`, which is not a parameter of `f`; its request parameters are: `event`",
            ]
        );
    }

    #[test]
    fn signature_mistakes_are_reported_together() {
        assert_eq!(
            errors(
                quote!(url = "/x"),
                parse_quote!(
                    fn f<T>(event: Loaded<E>, (a, b): (u32, u32), r: &str) {}
                ),
            ),
            [
                "a #[jazz_request] handler must be an `async fn`",
                "a #[jazz_request] handler cannot be generic: its request and response are concrete schemas",
                "missing the request context: the first parameter of a #[jazz_request] handler is `ctx: RequestContext`; request parameters come after it",
                "a request parameter is a plain name (`event: Loaded<Event>`): it becomes a field of the request",
                "a request parameter has an owned, concrete type that can live in a CoMap field",
                "missing return type: a #[jazz_request] handler returns `Result<Response, JazzRequestError>`, Response a #[derive(CoMap)] struct",
            ]
        );
        assert_eq!(
            errors(
                quote!(url = "api"),
                parse_quote!(
                    async fn f(ctx: String) -> (u32, u32) {
                        todo!()
                    }
                ),
            ),
            [
                "`url` is a path (\"/api/…\") or an absolute http(s) URL",
                "the request context has type `RequestContext`",
                "a #[jazz_request] handler returns `Result<Response, JazzRequestError>`, Response a #[derive(CoMap)] struct",
            ]
        );
    }

    #[test]
    fn a_return_type_not_named_result_is_no_alias() {
        assert_eq!(
            errors(
                quote!(url = "/x"),
                parse_quote!(
                    async fn f(ctx: RequestContext) -> TicketBooked {
                        todo!()
                    }
                ),
            ),
            [
                "a #[jazz_request] handler returns `Result<Response, JazzRequestError>`, Response a #[derive(CoMap)] struct (or an alias of it named `…Result`)"
            ]
        );
    }

    #[test]
    fn a_misplaced_context_is_one_error_at_it() {
        assert_eq!(
            errors(
                quote!(url = "/x"),
                parse_quote!(
                    async fn book(
                        event: Loaded<E>,
                        ctx: RequestContext,
                    ) -> Result<R, JazzRequestError> {
                        todo!()
                    }
                ),
            ),
            [
                "the request context goes first: write `ctx: RequestContext` as the first parameter of `book`, before the request parameters"
            ]
        );
    }

    #[test]
    fn vec_and_map_parameters_say_what_to_write_instead() {
        assert_eq!(
            errors(
                quote!(url = "/x"),
                parse_quote!(
                    async fn f(
                        ctx: RequestContext,
                        a: Vec<u8>,
                        b: HashMap<String, u32>,
                    ) -> Result<R, JazzRequestError> {
                        todo!()
                    }
                ),
            ),
            [
                "`Vec<u8>` cannot be a request parameter: write `CoList<u8>` (a Jazz list, jazz-tools' `co.list`) or `Json<Vec<u8>>` (one JSON value, `z.json()`)",
                "`HashMap<String, u32>` cannot be a request parameter: write `Json<HashMap<String, u32>>` (one JSON value, `z.json()`), or a #[derive(CoMap)] struct held as `Ref<T>` when the keys are known",
            ]
        );
    }

    #[test]
    fn the_route_can_be_named() -> Result<(), Vec<String>> {
        let m = model(
            quote!(url = "/api/vote", name = "CastVote"),
            parse_quote!(
                async fn vote(
                    ctx: RequestContext,
                    poll: Loaded<Poll>,
                ) -> Result<Vote, JazzRequestError> {
                    todo!()
                }
            ),
        )?;
        assert_eq!(m.route, "CastVote");
        assert_eq!(m.request.ident, "CastVoteRequest");
        assert_eq!(
            errors(
                quote!(url = "/x", name = "cast vote"),
                parse_quote!(
                    async fn f(ctx: RequestContext) -> Result<R, JazzRequestError> {
                        todo!()
                    }
                ),
            ),
            ["`name` is the route type's name, a Rust identifier such as \"CastVote\""]
        );
        Ok(())
    }

    #[test]
    fn a_route_named_like_a_type_the_handler_uses_is_one_error() {
        assert_eq!(
            errors(
                quote!(url = "/api/vote"),
                parse_quote!(
                    async fn vote(
                        ctx: RequestContext,
                        poll: Loaded<Poll>,
                    ) -> Result<Vote, JazzRequestError> {
                        todo!()
                    }
                ),
            ),
            [
                "the handler `vote` makes the route type `Vote` (and its request `VoteRequest`), but `Vote` is already a type `vote` uses: name the handler after what it does (`cast_vote` makes `CastVote`), or name the route: `#[jazz_request(name = \"VoteRoute\", …)]`"
            ]
        );
        assert_eq!(
            errors(
                quote!(url = "/api/vote", name = "Poll"),
                parse_quote!(
                    async fn vote(
                        ctx: RequestContext,
                        poll: Loaded<Poll>,
                    ) -> Result<Vote, JazzRequestError> {
                        todo!()
                    }
                ),
            ),
            [
                "`name = \"Poll\"` makes the types `Poll` and `PollRequest`, but `Poll` is already a type `vote` uses: choose another name"
            ]
        );
    }

    #[test]
    fn pascal_case_of_handler_names() {
        assert_eq!(pascal_case("book_event_ticket"), "BookEventTicket");
        assert_eq!(pascal_case("echo"), "Echo");
        assert_eq!(pascal_case("_private__x"), "PrivateX");
    }
}
