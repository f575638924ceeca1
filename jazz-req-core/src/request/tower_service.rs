//! A worker is a tower [`Service`](tower_service::Service) over `http::Request<B>` for any
//! body `B`: it mounts in axum (`Router::route_service(MyRoute::URL, worker)`), hyper, tonic
//! or anything else built on tower and the `http` crate.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};

use super::error::JazzRequestError;
use super::timed_body::BodyReadError;
use super::worker::RequestWorker;

/// The message of the 408 answered to a body that did not arrive in time.
pub const BODY_TIMEOUT_MESSAGE: &str = "The request body did not arrive in time";

/// Reads a request's body up to the worker's limit and answers it: 413 for a larger body
/// (read no further), 408 for one that did not arrive in time (a [`TimedBody`](super::timed_body::TimedBody) cut it), 400
/// for one that cannot be read.
pub async fn answer_http<B>(
    worker: &RequestWorker,
    request: http::Request<B>,
) -> http::Response<Bytes>
where
    B: http_body::Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = request.into_parts();
    let limit = worker.max_body_bytes();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let request = http::Request::from_parts(parts, collected.to_bytes());
            worker.handle(request).await
        }
        Err(error) => {
            tracing::debug!(%error, "request body refused");
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                JazzRequestError::body_too_large(limit).to_response()
            } else if let Some(BodyReadError::TimedOut(_)) = error.downcast_ref::<BodyReadError>() {
                JazzRequestError::new(BODY_TIMEOUT_MESSAGE, 408).to_response()
            } else {
                JazzRequestError::new("The request body could not be read", 400).to_response()
            }
        }
    }
}

impl<B> tower_service::Service<http::Request<B>> for RequestWorker
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = http::Response<http_body_util::Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    /// Always ready: requests are answered on their own futures.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let worker = self.clone();
        Box::pin(async move {
            Ok(answer_http(&worker, request)
                .await
                .map(http_body_util::Full::new))
        })
    }
}
