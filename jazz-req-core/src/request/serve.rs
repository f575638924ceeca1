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
//!
//! [`spawn_server`] returns a [`ServerHandle`]: the address it listens on, and
//! [`ServerHandle::shutdown`], a graceful stop (no new connections; idle ones closed; each
//! request in flight answered, and its connection closed after it). [`serve_until`] is the
//! same stop for a server run in the caller's task. Then
//! [`RequestWorker::shutdown`](super::RequestWorker::shutdown) stores (and pushes) whatever
//! is left.

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
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

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
    listener: L,
    worker: RequestWorker,
    options: ServeOptions,
) -> std::io::Result<()> {
    serve_until(listener, worker, options, std::future::pending()).await
}

/// Serves `worker` on the connections `listener` accepts until `shutdown` completes, then
/// stops gracefully: the listener is closed (new connections are refused), idle connections
/// are closed, and each request in flight is answered before its connection closes. Returns
/// once every connection has ended.
pub async fn serve_until<L: Listener>(
    mut listener: L,
    worker: RequestWorker,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections()));
    // Each connection holds a receiver of `stop` (told to finish) and a sender of `ended`
    // (dropped when it ends: once all are, `ended` closes).
    let (stop, stopping) = watch::channel(false);
    let (ended_tx, mut ended) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = FIRST_BACKOFF;
    loop {
        // A slot is taken before `accept`: past the cap, connections wait in the kernel's
        // backlog rather than as tasks in memory (see `ServeOptions`).
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else {
            // The semaphore is never closed; if it were, nothing more could be served.
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = FIRST_BACKOFF;
                accepted
            }
            Err(error) => {
                tracing::error!(%error, pause_ms = backoff.as_millis() as u64, "accept failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        tokio::spawn(serve_one(
            stream,
            peer,
            worker.clone(),
            options.clone(),
            Finish {
                _slot: slot,
                stopping: stopping.clone(),
                _ended: ended_tx.clone(),
            },
        ));
    }
    drop(listener);
    tracing::info!("server stopping: no new connections, finishing the requests in flight");
    // Nobody listening means no connection is left to tell.
    let _ = stop.send(true);
    drop(ended_tx);
    // `None` once every connection's sender is dropped: every connection has ended.
    let _ = ended.recv().await;
    Ok(())
}

/// What a connection's task holds besides the connection: its slot, the server's stop signal
/// and its part of the server's count of live connections.
struct Finish {
    _slot: OwnedSemaphorePermit,
    stopping: watch::Receiver<bool>,
    _ended: mpsc::Sender<()>,
}

/// Serves one connection until it ends, is closed by a timeout, cannot send the 408 of a
/// body that came too slowly, or the server stops (then it ends once the request in flight
/// is answered); its slot is given back then.
async fn serve_one<S>(
    stream: S,
    peer: SocketAddr,
    worker: RequestWorker,
    options: ServeOptions,
    finish: Finish,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Finish {
        _slot,
        mut stopping,
        _ended,
    } = finish;
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
    let mut connection = std::pin::pin!(connection);
    // Once a body has timed out, its 408 gets as long as a request's head to be written;
    // a client that reads nothing either cannot keep the connection past that.
    let grace = options.header_read_timeout();
    let cut = async {
        body_expired.notified().await;
        tokio::time::sleep(grace).await;
    };
    let mut cut = std::pin::pin!(cut);
    let mut told_to_stop = false;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                break;
            }
            () = &mut cut => {
                tracing::debug!(%peer, "connection closed: a body came too slowly and its answer could not be sent");
                break;
            }
            // The server stops (or is gone): answer what is in flight, then close.
            _ = stopping.wait_for(|stop| *stop), if !told_to_stop => {
                told_to_stop = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Binds `addr` and serves `worker` on a background task with the default
/// [`ServeOptions`]; returns a handle with the bound address (port 0: the one picked) and a
/// graceful [`ServerHandle::shutdown`]. Dropping the handle leaves the server running.
pub async fn spawn_server(
    addr: SocketAddr,
    worker: RequestWorker,
) -> std::io::Result<ServerHandle> {
    spawn_server_with(addr, worker, ServeOptions::default()).await
}

/// [`spawn_server`] with the limits of `options`.
pub async fn spawn_server_with(
    addr: SocketAddr,
    worker: RequestWorker,
    options: ServeOptions,
) -> std::io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        if stopped.await.is_err() {
            // The handle was dropped without a shutdown: serve on.
            std::future::pending::<()>().await;
        }
    };
    let task = tokio::spawn(async move {
        let served = serve_until(listener, worker, options, shutdown).await;
        if let Err(error) = &served {
            tracing::error!(%error, "server stopped");
        }
        served
    });
    Ok(ServerHandle {
        addr: local,
        stop: Some(stop),
        task,
    })
}

/// A server started with [`spawn_server`]: where it listens, and how to stop it.
#[derive(Debug)]
#[must_use = "dropping the handle leaves the server running with no way to stop it gracefully"]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops gracefully: no new connections (the port is closed), idle connections closed,
    /// each request in flight answered (its writes stored, and synced as it waits) before
    /// its connection closes; returns once every connection has ended. Then
    /// [`RequestWorker::shutdown`](super::RequestWorker::shutdown) stores and pushes what is
    /// left, and dropping the worker's last clone lets another worker take its store.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            // The server may have stopped by itself: no matter.
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|error| std::io::Error::other(format!("the server task failed: {error}")))?
    }

    /// Whether the server has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
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
