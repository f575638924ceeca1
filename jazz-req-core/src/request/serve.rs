//! Serving a [`RequestWorker`] over HTTP/1.1 with hyper: every connection on its own task,
//! bodies read up to the worker's limit (larger ones get 413 without being read further).
//!
//! A failed `accept` (out of file descriptors, a connection reset before it was accepted)
//! does not stop the server: it is logged, and the next `accept` waits a little longer each
//! time it fails again in a row (from 10 ms up to 1 s), so a lasting failure neither spins a
//! core nor floods the log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::tower_service::answer_http;
use super::worker::RequestWorker;

/// The first pause after a failed `accept`.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// The longest pause between failed `accept`s.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Where [`serve_connections`] takes connections from: a [`TcpListener`], or anything that
/// accepts streams the same way (a Unix socket, a wrapper in a test).
pub trait Listener: Send + 'static {
    /// A connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection and says who it is from.
    fn accept(
        &mut self,
    ) -> impl Future<Output = std::io::Result<(Self::Stream, SocketAddr)>> + Send;
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    fn accept(&mut self) -> impl Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }
}

/// Serves `worker` on `listener` until the task is dropped. A failed `accept` is logged and
/// retried after a pause (see the module documentation); it never stops the server.
pub async fn serve(listener: TcpListener, worker: RequestWorker) -> std::io::Result<()> {
    serve_connections(listener, worker).await
}

/// Serves `worker` on the connections `listener` accepts until the task is dropped, as
/// [`serve`] does for a [`TcpListener`].
pub async fn serve_connections<L: Listener>(
    mut listener: L,
    worker: RequestWorker,
) -> std::io::Result<()> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = FIRST_BACKOFF;
                accepted
            }
            Err(error) => {
                tracing::error!(%error, pause_ms = backoff.as_millis() as u64, "accept failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
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
/// Answers one request of `peer` (reading its body as every server of the worker does).
async fn answer(
    worker: &RequestWorker,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    use tracing::Instrument as _;
    answer_http(worker, request)
        .instrument(tracing::debug_span!("connection", %peer))
        .await
        .map(Full::new)
}
