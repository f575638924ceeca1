//! How a [`SyncClient`](super::SyncClient) behaves: timeouts, keep-alive, reconnect backoff,
//! and where it finds content the server asks for.

use std::sync::Arc;
use std::time::Duration;

use super::backoff::Backoff;
use super::frame::MAX_FRAME_CHARS;
use super::source::ContentSource;

/// The default of [`SyncOptions::max_answered_unacknowledged`].
pub const DEFAULT_MAX_ANSWERED_UNACKNOWLEDGED: usize = 256;

/// Options of a [`SyncClient`](super::SyncClient); `SyncOptions::default()` suits a worker
/// talking to a Jazz sync server.
#[derive(Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// How long [`SyncClient::connect`](super::SyncClient::connect) waits for the first
    /// connection (later ones are retried without end). Default 10 s.
    pub connect_timeout: Duration,
    /// How long a load waits for the server's answer, including time spent reconnecting.
    /// Default 30 s.
    pub load_timeout: Duration,
    /// How long a push waits for the server's acknowledgement (jazz-tools' `waitForSync`
    /// waits 60 s). Default 60 s.
    pub ack_timeout: Duration,
    /// How often a WebSocket ping is sent (the server answers with a pong). Default 5 s.
    pub keepalive_interval: Duration,
    /// A connection that received nothing (no frame, pong or server ping) for this long is
    /// considered dead and replaced (TS clients wait 10 s). Default 10 s.
    pub idle_timeout: Duration,
    /// Delays between reconnection attempts.
    pub backoff: Backoff,
    /// How long [`SyncClient::shutdown`](super::SyncClient::shutdown) waits for unacknowledged
    /// pushes. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Batched frames stay under this many characters (cojson-transport-ws: 25,000).
    pub max_frame_chars: usize,
    /// Answers the server's `load`s and corrections with this node's content (see
    /// [`ContentSource`]). Without one, only content pushed through the client can be sent.
    pub source: Option<Arc<dyn ContentSource>>,
    /// For a worker that is a peer of the server: how many of its answers may have left
    /// before the server acknowledged what they stored (requests that wrote only their
    /// bookkeeping; a handler's writes always wait for the acknowledgement). Past this, such
    /// an answer waits (up to [`Self::ack_timeout`], then a 503) until the server caught up,
    /// so a slow or unreachable server slows the answers instead of growing what is queued
    /// for it. Default [`DEFAULT_MAX_ANSWERED_UNACKNOWLEDGED`].
    pub max_answered_unacknowledged: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            load_timeout: Duration::from_secs(30),
            ack_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            shutdown_timeout: Duration::from_secs(10),
            max_frame_chars: MAX_FRAME_CHARS,
            source: None,
            max_answered_unacknowledged: DEFAULT_MAX_ANSWERED_UNACKNOWLEDGED,
        }
    }
}

impl SyncOptions {
    /// Sets [`Self::source`].
    #[must_use]
    pub fn with_source(mut self, source: Arc<dyn ContentSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets [`Self::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`Self::load_timeout`].
    #[must_use]
    pub fn with_load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// Sets [`Self::ack_timeout`].
    #[must_use]
    pub fn with_ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Sets [`Self::keepalive_interval`] and [`Self::idle_timeout`].
    #[must_use]
    pub fn with_keepalive(mut self, interval: Duration, idle_timeout: Duration) -> Self {
        self.keepalive_interval = interval;
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets [`Self::backoff`].
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets [`Self::max_answered_unacknowledged`].
    #[must_use]
    pub fn with_max_answered_unacknowledged(mut self, answers: usize) -> Self {
        self.max_answered_unacknowledged = answers;
        self
    }

    /// Sets [`Self::shutdown_timeout`].
    #[must_use]
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("load_timeout", &self.load_timeout)
            .field("ack_timeout", &self.ack_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("idle_timeout", &self.idle_timeout)
            .field("backoff", &self.backoff)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("max_frame_chars", &self.max_frame_chars)
            .field("source", &self.source.is_some())
            .field(
                "max_answered_unacknowledged",
                &self.max_answered_unacknowledged,
            )
            .finish()
    }
}
