//! How long [`serve`](super::serve::serve) waits for slow and idle clients, and how many
//! connections it holds at once.

use std::time::Duration;

/// The limits a server puts on its clients, so that slow, idle or too many connections
/// cannot stop it from answering the others.
///
/// | limit | default | what happens past it |
/// |---|---|---|
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | the connection is closed |
/// | [`body_read_timeout`](Self::body_read_timeout) | 30 s | 408, then the connection is closed |
/// | [`max_connections`](Self::max_connections) | 1,024 | new connections wait to be accepted |
///
/// The header read timeout is also the keep-alive idle timeout: hyper starts it whenever a
/// connection begins to wait for a request's head — when it is accepted and after each
/// answer — so a connection that sends nothing is closed once it has passed, as is one that
/// trickles its head in.
///
/// Past [`max_connections`](Self::max_connections), the server stops calling `accept`
/// until a connection ends: new connections wait in the kernel's listen backlog (which the
/// kernel bounds), not in the server's memory, and are served in turn. The timeouts are what
/// make room: a client holding a connection without sending a request loses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    max_connections: usize,
}

/// The default [`ServeOptions::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`ServeOptions::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [`ServeOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServeOptions {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a connection may take to send a request's head (and how long it may stay
    /// idle between requests) before it is closed.
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a request's whole body may take to arrive, counted from its head: past it
    /// the request is answered 408 and the connection closed (at once if the answer cannot
    /// be sent within the header read timeout either).
    #[must_use]
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// How many connections are served at once (at least 1).
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self
    }

    /// See [`ServeOptions::with_header_read_timeout`].
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// See [`ServeOptions::with_body_read_timeout`].
    pub fn body_read_timeout(&self) -> Duration {
        self.body_read_timeout
    }

    /// See [`ServeOptions::with_max_connections`].
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ServeOptions;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let options = ServeOptions::default();
        assert_eq!(options.header_read_timeout(), Duration::from_secs(10));
        assert_eq!(options.body_read_timeout(), Duration::from_secs(30));
        assert_eq!(options.max_connections(), 1_024);
        assert_eq!(ServeOptions::new().max_connections(), 1_024);
        assert_eq!(options.with_max_connections(0).max_connections(), 1);
    }
}
