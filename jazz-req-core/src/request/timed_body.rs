//! A request body that must arrive by a deadline: a client that trickles its body in (or
//! stops sending it) cannot hold a connection and the worker's read of it for ever.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use thiserror::Error;
use tokio::sync::Notify;
use tokio::time::Sleep;

/// Why a [`TimedBody`] could not be read.
#[derive(Debug, Error)]
pub enum BodyReadError {
    /// The whole body did not arrive within the time allowed (answered 408).
    #[error("the request body did not arrive within {0:?}")]
    TimedOut(Duration),
    /// The connection failed while the body was read.
    #[error("the request body could not be read")]
    Read(#[source] Box<dyn StdError + Send + Sync>),
}

/// `inner`, cut with [`BodyReadError::TimedOut`] once `limit` has passed since it was
/// wrapped (when its request's head was read); `expired` is told when that happens, so that
/// the connection can be closed if the answer cannot be sent either.
pub struct TimedBody<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
    expired: Arc<Notify>,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`, whose whole body must arrive within `limit` from now.
    pub fn new(inner: B, limit: Duration, expired: Arc<Notify>) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
            expired,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Data = B::Data;
    type Error = BodyReadError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BodyReadError>>> {
        let this = self.get_mut();
        // What has arrived is taken before the deadline is looked at: a body that is all
        // there is never cut.
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(|e| BodyReadError::Read(e.into()))));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.notify_one();
            return Poll::Ready(Some(Err(BodyReadError::TimedOut(this.limit))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
