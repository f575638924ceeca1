//! A request route: where it is served and what its request and response carry.

use crate::cojson::ResolveQuery;

/// What jazz-tools' `experimental_defineRequest` defines, minus the schemas (which the
/// typed layer adds): the URL (or path) and the resolve queries of request and response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The URL the client posts to; the server matches its path.
    pub url: String,
    /// What the worker loads of the request before calling the handler.
    pub request_resolve: ResolveQuery,
    /// What the response carries (and the client loads).
    pub response_resolve: ResolveQuery,
    /// The request field (JSON name) whose CoValue requests are serialised on: requests
    /// naming the same CoValue run their handlers one at a time.
    pub serialize: Option<String>,
    /// The CoValues the handler writes to, each a path of request fields (JSON names) from
    /// the envelope, e.g. `["event", "reservations"]`: before a request is claimed, the
    /// worker checks it may write to each (403 "The worker cannot write to co_z…" if not),
    /// and a serialised route also holds each of them for the handler (two requests writing
    /// to one CoValue run one at a time, whatever they name at the top).
    pub writes: Vec<Vec<String>>,
}

impl RouteSpec {
    /// A route at `url` whose request and response are the envelopes alone (`resolve: true`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            request_resolve: ResolveQuery::Value,
            response_resolve: ResolveQuery::Value,
            serialize: None,
            writes: Vec::new(),
        }
    }

    /// The same route at another URL (e.g. a typed route's path joined to a base URL).
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The same route loading `resolve` of the request.
    #[must_use]
    pub fn with_request_resolve(mut self, resolve: ResolveQuery) -> Self {
        self.request_resolve = resolve;
        self
    }

    /// The same route sending `resolve` of the response.
    #[must_use]
    pub fn with_response_resolve(mut self, resolve: ResolveQuery) -> Self {
        self.response_resolve = resolve;
        self
    }

    /// The same route, its requests serialised on the CoValue of the request field `field`.
    #[must_use]
    pub fn serialized_on(mut self, field: impl Into<String>) -> Self {
        self.serialize = Some(field.into());
        self
    }

    /// The same route, its handler writing to the CoValue at `path` (request fields from the
    /// envelope; see [`RouteSpec::writes`]).
    #[must_use]
    pub fn writing_to<S: Into<String>>(mut self, path: impl IntoIterator<Item = S>) -> Self {
        self.writes.push(path.into_iter().map(Into::into).collect());
        self
    }

    /// The path part of the URL (what a server matches).
    pub fn path(&self) -> &str {
        let without_scheme = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        if self.url.contains("://") {
            without_scheme
                .find('/')
                .map_or("/", |i| &without_scheme[i..])
        } else {
            &self.url
        }
    }
}
