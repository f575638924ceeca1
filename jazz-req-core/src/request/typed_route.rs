//! Typed routes: what `#[jazz_request]` implements ([`Route`]), how a worker serves one
//! ([`RequestWorker::register`]) and how a client sends to one
//! ([`RequestClient::send_route`](super::RequestClient::send_route)).

use std::future::Future;
use std::marker::PhantomData;

use super::error::JazzRequestError;
use super::handler::{Handler, HandlerFuture, RequestContext};
use super::route::RouteSpec;
use super::worker::RequestWorker;
use crate::cojson::ResolveQuery;
use crate::crypto::CoID;
use crate::schema::{
    CoMapSchema, LoadError, Loaded, NotLoaded, ResolveBuilder, SchemaError, load_resolved,
    read_fields, read_loaded, to_json_fields,
};

/// Which worker a route's requests go to (jazz-tools' `workerId`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerRef {
    /// The client's default worker ([`RequestClient::with_worker`](super::RequestClient::with_worker)).
    Client,
    /// This account id.
    Id(&'static str),
    /// The account id in this environment variable (read when sending).
    Env(&'static str),
}

/// Why a route's worker id is not known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkerIdError {
    /// The route leaves the worker to the client, and the client has none.
    #[error("the route names no worker and the client has none (RequestClient::with_worker)")]
    NotConfigured,
    /// The environment variable the route names is not set.
    #[error("{0} is not set (the route's worker account)")]
    EnvMissing(&'static str),
    /// The id is not a CoValue id.
    #[error("the route's worker id is not a co_z… id")]
    Invalid,
}

impl WorkerRef {
    /// The worker's account id (`default`: the client's default worker).
    pub fn resolve(self, default: Option<&CoID>) -> Result<CoID, WorkerIdError> {
        match self {
            Self::Client => default.cloned().ok_or(WorkerIdError::NotConfigured),
            Self::Id(id) => CoID::parse(id).map_err(|_| WorkerIdError::Invalid),
            Self::Env(var) => {
                let value = std::env::var(var).map_err(|_| WorkerIdError::EnvMissing(var))?;
                CoID::parse(value.trim()).map_err(|_| WorkerIdError::Invalid)
            }
        }
    }
}

/// A typed request route (jazz-tools' `experimental_defineRequest`): URL, worker, request
/// and response schemas with their resolve queries, and the handler. `#[jazz_request]`
/// implements it on a unit struct named after the handler.
pub trait Route: Send + Sync + 'static {
    /// The request's fields.
    type Request: CoMapSchema;
    /// The response's fields.
    type Response: CoMapSchema;
    /// The URL: a path (joined to the client's base URL) or an absolute URL.
    const URL: &'static str;
    /// Which worker the requests go to.
    const WORKER: WorkerRef;
    /// The JSON name of the request field whose CoValue the route serialises on: requests
    /// naming the same CoValue run one at a time (check-then-write cannot interleave).
    const SERIALIZE: Option<&'static str>;

    /// What the worker loads of the request before the handler runs (and the client sends).
    fn request_resolve() -> ResolveQuery;

    /// What the response carries and the client loads.
    fn response_resolve() -> ResolveQuery;

    /// The CoValues the handler writes to (`writes = [event.reservations]`), each a path
    /// from the request written as a resolve query of one field per level (`{ event: {
    /// reservations: true } }`): the worker checks it may write to each before a request is
    /// claimed, and a serialised route holds each (see [`RouteSpec::writes`]).
    fn writes() -> Vec<ResolveQuery> {
        Vec::new()
    }

    /// The handler.
    fn handle(
        ctx: RequestContext,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, JazzRequestError>> + Send + 'static;

    /// The untyped description the worker and the client run on.
    fn spec() -> RouteSpec {
        let mut spec = RouteSpec::new(Self::URL)
            .with_request_resolve(Self::request_resolve())
            .with_response_resolve(Self::response_resolve());
        spec.serialize = Self::SERIALIZE.map(str::to_owned);
        for query in Self::writes() {
            spec = spec.writing_to(super::writes::path_of(&query));
        }
        spec
    }
}

/// Serves a [`Route`] on the untyped worker: reads the request as `R::Request` (400 when it
/// does not fit), runs the handler, writes `R::Response` as the response's fields.
struct TypedHandler<R> {
    request_resolve: ResolveQuery,
    route: PhantomData<fn() -> R>,
}

impl<R: Route> Handler for TypedHandler<R> {
    fn check(
        &self,
        request: &CoID,
        values: &serde_json::Map<String, serde_json::Value>,
        node: &crate::cojson::LocalNode,
    ) -> Result<(), JazzRequestError> {
        // A request that does not fit the schema is refused before it is claimed.
        read_fields::<R::Request>(request, values, &self.request_resolve, Some(node))
            .map(|_| ())
            .map_err(|e| crate::schema::invalid_request(&e))
    }

    fn call(&self, ctx: RequestContext) -> HandlerFuture {
        let request = read_request::<R>(&ctx, &self.request_resolve);
        Box::pin(async move {
            let response = R::handle(ctx, request?).await?;
            Ok(to_json_fields(&response))
        })
    }
}

/// Reads the request's values as the route's schema: the references the resolve names are
/// in the node by now (the worker loaded them before the handler).
fn read_request<R: Route>(
    ctx: &RequestContext,
    resolve: &ResolveQuery,
) -> Result<R::Request, JazzRequestError> {
    let read = |node| {
        read_fields::<R::Request>(ctx.request_id(), ctx.values(), resolve, node)
            .map(crate::schema::Loaded::into_inner)
    };
    let result = if *resolve == ResolveQuery::Value {
        // Plain values only: no need to hold the node.
        read(None)
    } else {
        let node = ctx.worker.lock_node()?;
        read(Some(&node))
    };
    result.map_err(|e| crate::schema::invalid_request(&e))
}

impl RequestWorker {
    /// Reads the CoMap `id` as `T`, loading from the worker's store what `resolve` names and
    /// memory lacks (e.g. after a restart).
    pub fn load<T: CoMapSchema>(
        &self,
        id: &CoID,
        resolve: impl ResolveBuilder,
    ) -> Result<Loaded<T>, JazzRequestError> {
        let query = resolve.into_query();
        let read = {
            let mut node = self.shared.lock_node()?;
            load_resolved(&mut node, id, &query).map(|()| read_loaded(&node, id, &query))
        };
        match read {
            Ok(value) => Ok(value?),
            Err(LoadError::NotFound(missing)) => Err(SchemaError::from(NotLoaded(missing)).into()),
            Err(LoadError::Storage(e)) => {
                Err(JazzRequestError::internal_while("loading from storage", e))
            }
        }
    }

    /// Serves the typed route `R` (made by `#[jazz_request]`): one line per route.
    #[must_use]
    pub fn register<R: Route>(self, _route: R) -> Self {
        let spec = R::spec();
        let handler = TypedHandler::<R> {
            request_resolve: spec.request_resolve.clone(),
            route: PhantomData,
        };
        self.route(spec, handler)
    }
}
