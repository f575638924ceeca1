//! The connection task: one WebSocket to the sync server at a time, carrying out what
//! [`SyncState`] decides. It batches outgoing messages into frames, sends a WebSocket ping every
//! `keepalive_interval`, replaces a connection that stays silent for `idle_timeout`, and
//! reconnects with exponential backoff, resending what the server has not acknowledged.
//!
//! Content-source questions run on the blocking pool and come back as [`Answer`]s, so neither
//! the node's lock nor its storage is ever touched on this task.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use super::backoff::random_unit;
use super::error::{SyncError, TransportError};
use super::frame::{FrameBatcher, parse_frame};
use super::message::Incoming;
use super::options::SyncOptions;
use super::state::{Action, LoadReply, PushReply, Question, SyncState};
use crate::cojson::{ContentMessage, KnownState};
use crate::crypto::CoID;

/// The WebSocket of one connection.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the connection stands, as [`SyncClient::status`](super::SyncClient::status) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected; `connection` counts the connections made so far (1 for the first).
    Connected {
        /// 1 for the first connection, 2 after the first reconnection, …
        connection: u64,
    },
    /// Waiting to reconnect (or connecting); `attempt` counts failed attempts since the last
    /// connection was lost.
    Reconnecting {
        /// Attempts made since the connection was lost.
        attempt: u32,
    },
    /// The client was shut down (or every handle dropped).
    Closed,
}

/// What the handle asks the connection task to do.
pub(crate) enum Command {
    Load {
        since: KnownState,
        reply: LoadReply,
    },
    Push {
        content: Vec<ContentMessage>,
        reply: PushReply,
    },
    Forget(Vec<CoID>),
    /// Forget what of these the client brought to the server (see `SyncState::forget_created`).
    ForgetCreated(Vec<CoID>),
    /// How many CoValues are followed.
    Followed(oneshot::Sender<usize>),
    Shutdown {
        reply: oneshot::Sender<Result<(), SyncError>>,
    },
}

/// A content source's answer to a question asked on connection `connection`.
struct Answer {
    connection: u64,
    question: Question,
    ours: Option<KnownState>,
    content: Option<Vec<ContentMessage>>,
}

/// A requested shutdown: when to give up on unacknowledged content, and who waits.
struct Shutdown {
    deadline: Instant,
    replies: Vec<oneshot::Sender<Result<(), SyncError>>>,
}

/// Opens a WebSocket to `url` within the connect timeout.
pub(crate) async fn open(url: &str, options: &SyncOptions) -> Result<Socket, SyncError> {
    let connect = connect_async_with_config(url, None, true);
    match tokio::time::timeout(options.connect_timeout, connect).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(error)) => Err(SyncError::Connect {
            url: url.to_owned(),
            source: TransportError::from(error),
        }),
        Err(_) => Err(SyncError::ConnectTimeout {
            url: url.to_owned(),
            after: options.connect_timeout,
        }),
    }
}

/// The channels between the handle and the task.
pub(crate) struct Channels {
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub status: watch::Sender<ConnectionState>,
    pub updates: mpsc::UnboundedSender<ContentMessage>,
    pub updates_wanted: Arc<AtomicBool>,
}

/// The connection task's state.
pub(crate) struct Connection {
    url: String,
    options: SyncOptions,
    state: SyncState,
    channels: Channels,
    answers_tx: mpsc::UnboundedSender<Answer>,
    answers_rx: mpsc::UnboundedReceiver<Answer>,
    shutdown: Option<Shutdown>,
    /// Connections made so far.
    connection: u64,
    /// Every handle was dropped.
    orphaned: bool,
}

impl Connection {
    pub(crate) fn new(url: String, options: SyncOptions, channels: Channels) -> Self {
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        Self {
            url,
            options,
            state: SyncState::default(),
            channels,
            answers_tx,
            answers_rx,
            shutdown: None,
            connection: 0,
            orphaned: false,
        }
    }

    /// Runs until shut down (or every handle is dropped), starting on `first`.
    pub(crate) async fn run(mut self, first: Socket) {
        let mut socket = Some(first);
        let mut attempt: u32 = 0;
        loop {
            if let Some(open) = socket.take() {
                self.serve(open).await;
                attempt = 0;
            }
            if self.stopped() {
                break;
            }
            let delay = self.options.backoff.delay(attempt, random_unit());
            attempt = attempt.saturating_add(1);
            self.channels
                .status
                .send_replace(ConnectionState::Reconnecting { attempt });
            if !self.wait_offline(delay).await {
                break;
            }
            match open(&self.url, &self.options).await {
                Ok(open) => socket = Some(open),
                Err(error) => tracing::debug!(%error, attempt, "reconnection failed"),
            }
        }
        self.finish();
    }

    /// Whether the task should end: every handle dropped, or a shutdown whose content is
    /// acknowledged (or whose time is up).
    fn stopped(&self) -> bool {
        self.orphaned
            || self.shutdown.as_ref().is_some_and(|shutdown| {
                self.state.unacknowledged().is_empty() || Instant::now() >= shutdown.deadline
            })
    }

    fn finish(&mut self) {
        let pending = self.state.unacknowledged();
        if let Some(shutdown) = self.shutdown.take() {
            for reply in shutdown.replies {
                let outcome = if pending.is_empty() {
                    Ok(())
                } else {
                    Err(SyncError::Unflushed {
                        pending: pending.clone(),
                    })
                };
                // The caller of `shutdown` may have gone; nothing else to tell.
                let _ = reply.send(outcome);
            }
        } else if !pending.is_empty() {
            tracing::warn!(?pending, "sync client dropped with unacknowledged content");
        }
        self.state.close(|| SyncError::Closed);
        self.channels.status.send_replace(ConnectionState::Closed);
    }

    /// Waits `delay` before the next attempt, handling commands meanwhile. `false` when the
    /// task should end instead.
    async fn wait_offline(&mut self, delay: std::time::Duration) -> bool {
        let wake = sleep(delay);
        tokio::pin!(wake);
        loop {
            let deadline = self.shutdown.as_ref().map(|s| s.deadline);
            tokio::select! {
                () = &mut wake => return true,
                command = self.channels.commands.recv() => match command {
                    Some(command) => {
                        // Offline, the state only queues: it sends everything queued once
                        // connected, so there is nothing to carry out here.
                        let _queued = self.command(command);
                    }
                    None => self.orphaned = true,
                },
                () = until(deadline) => {}
            }
            if self.stopped() {
                return false;
            }
        }
    }

    /// Serves one connection until it is lost or the task should end.
    async fn serve(&mut self, socket: Socket) {
        self.connection += 1;
        let connection = self.connection;
        tracing::info!(connection, url = %self.url, "connected to the sync server");
        self.channels
            .status
            .send_replace(ConnectionState::Connected { connection });
        let (mut sink, mut stream) = socket.split();
        let mut out = FrameBatcher::new(self.options.max_frame_chars);
        let actions = self.state.on_connected();
        self.perform(actions, &mut out);
        let start = Instant::now() + self.options.keepalive_interval;
        let mut keepalive = tokio::time::interval_at(start, self.options.keepalive_interval);
        let mut last_heard = Instant::now();
        let mut ping = false;
        loop {
            if let Err(error) = flush(&mut sink, &mut out, ping).await {
                tracing::warn!(%error, "sending to the sync server failed");
                break;
            }
            ping = false;
            if self.stopped() {
                // A polite close; the server drops the connection either way.
                let _ = sink.send(Message::Close(None)).await;
                let _ = sink.close().await;
                break;
            }
            let deadline = self.shutdown.as_ref().map(|s| s.deadline);
            tokio::select! {
                frame = stream.next() => {
                    last_heard = Instant::now();
                    match frame {
                        Some(Ok(Message::Text(text))) => self.on_frame(text.as_str(), &mut out),
                        Some(Ok(Message::Binary(bytes))) => {
                            tracing::warn!(len = bytes.len(), "ignoring a binary frame");
                        }
                        Some(Ok(Message::Close(frame))) => {
                            tracing::info!(?frame, "the sync server closed the connection");
                            break;
                        }
                        Some(Ok(_)) => {} // ping, pong: liveness only
                        Some(Err(error)) => {
                            tracing::warn!(%error, "the connection to the sync server failed");
                            break;
                        }
                        None => {
                            tracing::info!("the connection to the sync server ended");
                            break;
                        }
                    }
                }
                command = self.channels.commands.recv() => match command {
                    Some(command) => {
                        let actions = self.command(command);
                        self.perform(actions, &mut out);
                    }
                    None => {
                        self.orphaned = true;
                    }
                },
                Some(answer) = self.answers_rx.recv() => {
                    // Answers to questions of an earlier connection are stale.
                    if answer.connection == self.connection {
                        let actions = self.state.answered(answer.question, answer.ours, answer.content);
                        self.perform(actions, &mut out);
                    }
                }
                _ = keepalive.tick() => {
                    if last_heard.elapsed() >= self.options.idle_timeout {
                        tracing::warn!(silent = ?last_heard.elapsed(), "the sync server went silent");
                        break;
                    }
                    ping = true;
                    self.state.prune();
                }
                () = until(deadline) => {}
            }
        }
        self.state.on_disconnected();
    }

    fn on_frame(&mut self, frame: &str, out: &mut FrameBatcher) {
        for message in parse_frame(frame) {
            match message {
                Ok(Incoming::Sync(message)) => {
                    tracing::trace!(
                        action = message.action(),
                        id = ?message.covalue(),
                        "from the sync server"
                    );
                    let actions = self.state.handle(message);
                    self.perform(actions, out);
                }
                Ok(Incoming::Ping { .. }) => {}
                Err(error) => {
                    // One bad message is skipped; the connection and the rest go on.
                    tracing::warn!(%error, "skipping a malformed message from the sync server");
                }
            }
        }
    }

    fn command(&mut self, command: Command) -> Vec<Action> {
        if let Some(shutdown) = &mut self.shutdown {
            match command {
                Command::Load { reply, .. } => {
                    let _ = reply.send(Err(SyncError::Closed));
                }
                Command::Push { reply, .. } => {
                    let _ = reply.send(Err(SyncError::Closed));
                }
                Command::Forget(ids) => self.state.forget(&ids),
                Command::ForgetCreated(ids) => self.state.forget_created(&ids),
                Command::Followed(reply) => {
                    let _ = reply.send(self.state.followed_count());
                }
                Command::Shutdown { reply } => shutdown.replies.push(reply),
            }
            return Vec::new();
        }
        match command {
            Command::Load { since, reply } => self.state.load(since, reply),
            Command::Push { content, reply } => self.state.push(content, reply),
            Command::Forget(ids) => {
                self.state.forget(&ids);
                Vec::new()
            }
            Command::ForgetCreated(ids) => {
                self.state.forget_created(&ids);
                Vec::new()
            }
            Command::Followed(reply) => {
                // The caller may have stopped asking.
                let _ = reply.send(self.state.followed_count());
                Vec::new()
            }
            Command::Shutdown { reply } => {
                self.shutdown = Some(Shutdown {
                    deadline: Instant::now() + self.options.shutdown_timeout,
                    replies: vec![reply],
                });
                Vec::new()
            }
        }
    }

    fn perform(&mut self, actions: Vec<Action>, out: &mut FrameBatcher) {
        let mut queue = VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(message) => {
                    tracing::trace!(
                        action = message.action(),
                        id = ?message.covalue(),
                        "to the sync server"
                    );
                    out.push(&message.to_json_string());
                }
                Action::Ask(question) => match self.options.source.clone() {
                    Some(source) => {
                        let answers = self.answers_tx.clone();
                        let connection = self.connection;
                        tokio::task::spawn_blocking(move || {
                            let ours = source.known_state(&question.server.id);
                            let content = source.content_since(&question.server);
                            // The task may have ended meanwhile; then nobody needs this.
                            let _ = answers.send(Answer {
                                connection,
                                question,
                                ours,
                                content,
                            });
                        });
                    }
                    None => queue.extend(self.state.answered(question, None, None)),
                },
                Action::Update(content) => {
                    if self.channels.updates_wanted.load(Ordering::Relaxed) {
                        // The receiver may be dropped; updates are then not wanted.
                        let _ = self.channels.updates.send(*content);
                    }
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Sends the batched frames (and a ping when due).
async fn flush<S>(
    sink: &mut S,
    out: &mut FrameBatcher,
    ping: bool,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let frames = out.take();
    let count = frames.len();
    for (i, frame) in frames.into_iter().enumerate() {
        // Feed all but the last, then send (which flushes) the last: one write for a burst.
        if i + 1 < count {
            sink.feed(Message::text(frame)).await?;
        } else {
            sink.send(Message::text(frame)).await?;
        }
    }
    if ping {
        sink.send(Message::Ping(Vec::new().into())).await?;
    }
    Ok(())
}
