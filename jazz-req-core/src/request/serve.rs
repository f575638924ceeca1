//! Serving a [`RequestWorker`] over HTTP/1.1 with hyper: every connection on its own task,
//! bodies read up to the worker's limit (larger ones get 413 without being read further).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::error::JazzRequestError;
use super::worker::RequestWorker;

/// Serves `worker` on `listener` until the task is dropped or the listener fails.
pub async fn serve(listener: TcpListener, worker: RequestWorker) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let worker = worker.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let worker = worker.clone();
                async move { Ok::<_, Infallible>(answer(&worker, request, peer).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
}

/// Binds `addr` and serves `worker` on a background task; returns the bound address.
pub async fn spawn_server(addr: SocketAddr, worker: RequestWorker) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = serve(listener, worker).await {
            tracing::error!(%error, "server stopped");
        }
    });
    Ok(local)
}

async fn answer(
    worker: &RequestWorker,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let limit = worker.max_body_bytes();
    let response = match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let request = http::Request::from_parts(parts, collected.to_bytes());
            worker.handle(request).await
        }
        Err(error) => {
            tracing::debug!(%peer, %error, "request body refused");
            let too_large = error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            if too_large {
                JazzRequestError::new(format!("Request body is larger than {limit} bytes"), 413)
                    .to_response()
            } else {
                JazzRequestError::new("The request body could not be read", 400).to_response()
            }
        }
    };
    response.map(Full::new)
}
