//! Serving a [`RequestWorker`] over HTTP/1.1 with hyper: every connection on its own task,
//! bodies read up to the worker's limit (larger ones get 413 without being read further).
//!
//! Slow, idle and too many clients are held to the limits of [`ServeOptions`]: a request's
//! head must arrive within the header read timeout (also the time a connection may stay
//! idle), its body within the body read timeout (else 408 and the connection is closed), and
//! past the connection cap new connections wait to be accepted.
//!
//! A failed `accept` (out of file descriptors, a connection reset before it was accepted)
//! does not stop the server: it is logged, and the next `accept` waits a little longer each
//! time it fails again in a row (from 10 ms up to 1 s), so a lasting failure neither spins a
//! core nor floods the log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::serve_options::ServeOptions;
use super::timed_body::TimedBody;
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

/// Serves `worker` on `listener` until the task is dropped, with the default
/// [`ServeOptions`]. A failed `accept` is logged and retried after a pause (see the module
/// documentation); it never stops the server.
pub async fn serve(listener: TcpListener, worker: RequestWorker) -> std::io::Result<()> {
    serve_with(listener, worker, ServeOptions::default()).await
}

/// [`serve`] with the limits of `options`.
pub async fn serve_with(
    listener: TcpListener,
    worker: RequestWorker,
    options: ServeOptions,
) -> std::io::Result<()> {
    serve_connections_with(listener, worker, options).await
}

/// Serves `worker` on the connections `listener` accepts until the task is dropped, as
/// [`serve`] does for a [`TcpListener`], with the default [`ServeOptions`].
pub async fn serve_connections<L: Listener>(
    listener: L,
    worker: RequestWorker,
) -> std::io::Result<()> {
    serve_connections_with(listener, worker, ServeOptions::default()).await
}

/// [`serve_connections`] with the limits of `options`.
pub async fn serve_connections_with<L: Listener>(
    mut listener: L,
    worker: RequestWorker,
    options: ServeOptions,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections()));
    let mut backoff = FIRST_BACKOFF;
    loop {
        // A slot is taken before `accept`: past the cap, connections wait in the kernel's
        // backlog rather than as tasks in memory (see `ServeOptions`).
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            // The semaphore is never closed; if it were, nothing more could be served.
            return Ok(());
        };
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
        tokio::spawn(serve_one(
            stream,
            peer,
            worker.clone(),
            options.clone(),
            slot,
        ));
    }
}

/// Serves one connection until it ends, is closed by a timeout, or cannot send the 408 of a
/// body that came too slowly; its slot is given back then.
async fn serve_one<S>(
    stream: S,
    peer: SocketAddr,
    worker: RequestWorker,
    options: ServeOptions,
    _slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let body_expired = Arc::new(Notify::new());
    let expired = Arc::clone(&body_expired);
    let body_timeout = options.body_read_timeout();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let worker = worker.clone();
        let expired = Arc::clone(&expired);
        async move {
            let request = request.map(|body| TimedBody::new(body, body_timeout, expired));
            Ok::<_, Infallible>(answer(&worker, request, peer).await)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout())
        .serve_connection(TokioIo::new(stream), service);
    // Once a body has timed out, its 408 gets as long as a request's head to be written;
    // a client that reads nothing either cannot keep the connection past that.
    let grace = options.header_read_timeout();
    let cut = async {
        body_expired.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        ended = connection => {
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        () = cut => tracing::debug!(%peer, "connection closed: a body came too slowly and its answer could not be sent"),
    }
}

/// Binds `addr` and serves `worker` on a background task with the default
/// [`ServeOptions`]; returns the bound address.
pub async fn spawn_server(addr: SocketAddr, worker: RequestWorker) -> std::io::Result<SocketAddr> {
    spawn_server_with(addr, worker, ServeOptions::default()).await
}

/// [`spawn_server`] with the limits of `options`.
pub async fn spawn_server_with(
    addr: SocketAddr,
    worker: RequestWorker,
    options: ServeOptions,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = serve_with(listener, worker, options).await {
            tracing::error!(%error, "server stopped");
        }
    });
    Ok(local)
}

/// Answers one request of `peer` (reading its body as every server of the worker does).
async fn answer(
    worker: &RequestWorker,
    request: hyper::Request<TimedBody<Incoming>>,
    peer: SocketAddr,
) -> hyper::Response<Full<Bytes>> {
    use tracing::Instrument as _;
    let mut response = answer_http(worker, request)
        .instrument(tracing::debug_span!("connection", %peer))
        .await
        .map(Full::new);
    if response.status() == http::StatusCode::REQUEST_TIMEOUT {
        // The rest of the body may still trickle in: the connection is not kept for the
        // next request (hyper would otherwise try to read past it).
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    response
}
