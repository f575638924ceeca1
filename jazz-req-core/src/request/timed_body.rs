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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    /// A body whose client never sends another byte.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_stalled_body_is_cut_and_the_connection_told() {
        let expired = Arc::new(Notify::new());
        let limit = Duration::from_millis(20);
        let body = TimedBody::new(Stalled, limit, Arc::clone(&expired));
        // A bounded wait: without the deadline, this body is never read to its end.
        let read = tokio::time::timeout(Duration::from_secs(30), body.collect()).await;
        let Ok(Err(error)) = read else {
            panic!("a body that never ends was read, or not cut");
        };
        assert!(
            matches!(error, BodyReadError::TimedOut(l) if l == limit),
            "{error}"
        );
        // The permit `notify_one` left is there for the connection to see.
        expired.notified().await;
    }

    #[tokio::test]
    async fn a_body_that_has_arrived_is_read_even_past_its_deadline() -> Result<(), BodyReadError> {
        let body = TimedBody::new(
            Full::new(Bytes::from_static(b"all here")),
            Duration::ZERO,
            Arc::new(Notify::new()),
        );
        assert_eq!(body.collect().await?.to_bytes(), "all here");
        Ok(())
    }
}
