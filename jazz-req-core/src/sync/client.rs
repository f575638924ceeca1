//! [`SyncClient`]: the handle a worker shares between its tasks. Every call is a message to
//! the connection task and a wait for its answer; the client holds no lock of the caller's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::connection::{Channels, Command, Connection, ConnectionState, open};
use super::deps::missing_dependencies;
use super::error::SyncError;
use super::options::SyncOptions;
use crate::cojson::{ContentMessage, KnownState};
use crate::crypto::CoID;

/// A client of a Jazz sync server (cojson 0.20.19's sync protocol over WebSocket), shared by
/// cloning.
///
/// - [`SyncClient::load`] gets everything the server has of a CoValue, with what it depends
///   on; the caller imports it into its node.
/// - [`SyncClient::push`] sends content and returns once the server has acknowledged it.
/// - [`SyncClient::updates`] yields what the server pushes unasked: later changes of the
///   CoValues this client loaded or pushed.
/// - The server's own questions (`load` of a dependency of pushed content, corrections) are
///   answered from [`SyncOptions::source`].
/// - The connection is kept alive and re-established with backoff; what the server had not
///   acknowledged is sent again. [`SyncClient::shutdown`] waits for acknowledgements.
#[derive(Clone)]
pub struct SyncClient {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    options: SyncOptions,
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<ConnectionState>,
    updates: Mutex<Option<mpsc::UnboundedReceiver<ContentMessage>>>,
    updates_wanted: Arc<AtomicBool>,
    /// Without a content source: the CoValues whose content loads handed out (taken to be
    /// held by the caller when later loads depend on them).
    delivered: Mutex<HashSet<CoID>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Content handed to the connection by [`SyncClient::submit`], not yet acknowledged.
#[derive(Debug)]
#[must_use = "submitted content is on the server only once `acknowledged` says so"]
pub struct PendingPush {
    /// `None` when nothing was pushed.
    waiting: Option<AwaitedAck>,
}

/// Where a push's acknowledgement comes, the CoValues pushed and how long to wait.
#[derive(Debug)]
struct AwaitedAck {
    answer: oneshot::Receiver<Result<(), SyncError>>,
    ids: Vec<CoID>,
    after: std::time::Duration,
}

impl PendingPush {
    /// Waits until the server acknowledged the content (at most the options' `ack_timeout`).
    pub async fn acknowledged(self) -> Result<(), SyncError> {
        let Some(AwaitedAck { answer, ids, after }) = self.waiting else {
            return Ok(());
        };
        match tokio::time::timeout(after, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SyncError::Closed),
            Err(_) => Err(SyncError::AckTimeout {
                pending: ids,
                after,
            }),
        }
    }

    /// Waits until the server acknowledged the content, however long that takes (the content
    /// stays queued and is sent again on every reconnection): for a caller that must not take
    /// a timeout for a failure, e.g. one that releases what it holds only once the server has
    /// the content. Ends with an error only when the content can no longer be delivered
    /// ([`SyncError::MissingEarlierContent`], [`SyncError::Closed`]).
    pub async fn acknowledged_eventually(self) -> Result<(), SyncError> {
        let Some(AwaitedAck { answer, .. }) = self.waiting else {
            return Ok(());
        };
        answer.await.unwrap_or(Err(SyncError::Closed))
    }
}

/// What the sync server pushes unasked, from [`SyncClient::updates`].
#[derive(Debug)]
pub struct Updates {
    receiver: mpsc::UnboundedReceiver<ContentMessage>,
}

impl Updates {
    /// The next update; `None` once the client is shut down.
    pub async fn recv(&mut self) -> Option<ContentMessage> {
        self.receiver.recv().await
    }

    /// The next update if one is waiting.
    pub fn try_recv(&mut self) -> Option<ContentMessage> {
        self.receiver.try_recv().ok()
    }
}

fn check_url(url: &str) -> Result<(), SyncError> {
    let invalid = |reason| SyncError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| invalid("it must start with ws:// or wss://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("it names no host"));
    }
    Ok(())
}

impl SyncClient {
    /// Connects to the sync server at `url` (`ws://…` or `wss://…`) and starts the connection
    /// task (on the current tokio runtime).
    ///
    /// # Errors
    /// [`SyncError::InvalidUrl`]; [`SyncError::Connect`] or [`SyncError::ConnectTimeout`] when
    /// the first connection fails (later connections are retried with backoff).
    pub async fn connect(url: &str, options: SyncOptions) -> Result<Self, SyncError> {
        check_url(url)?;
        let socket = open(url, &options).await?;
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (status, status_rx) = watch::channel(ConnectionState::Reconnecting { attempt: 0 });
        let (updates_tx, updates_rx) = mpsc::unbounded_channel();
        let updates_wanted = Arc::new(AtomicBool::new(false));
        let channels = Channels {
            commands,
            status,
            updates: updates_tx,
            updates_wanted: updates_wanted.clone(),
        };
        let connection = Connection::new(url.to_owned(), options.clone(), channels);
        let span = tracing::info_span!("sync_client", url);
        let task = tokio::spawn(connection.run(socket).instrument(span));
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                options,
                commands: commands_tx,
                status: status_rx,
                updates: Mutex::new(Some(updates_rx)),
                updates_wanted,
                delivered: Mutex::new(HashSet::new()),
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// The sync server's URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The options the client was connected with.
    pub fn options(&self) -> &SyncOptions {
        &self.inner.options
    }

    /// How many CoValues the client follows: what it loaded (and the server had), what it
    /// received, and what it pushed and was not told to forget. Each is loaded again on every
    /// reconnection.
    ///
    /// # Errors
    /// [`SyncError::Closed`] once the client is shut down.
    pub async fn followed_count(&self) -> Result<usize, SyncError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Followed(reply))?;
        answer.await.map_err(|_| SyncError::Closed)
    }

    /// Where the connection stands, and its changes.
    pub fn status(&self) -> watch::Receiver<ConnectionState> {
        self.inner.status.clone()
    }

    fn send(&self, command: Command) -> Result<(), SyncError> {
        self.inner
            .commands
            .send(command)
            .map_err(|_| SyncError::Closed)
    }

    /// Everything the server has of `id`, with what it depends on (owner and parent groups,
    /// member and author accounts), dependencies first: import the messages in order. `None`
    /// when the server does not have `id`.
    ///
    /// The server sends a dependency once per connection; when an earlier load already got
    /// it, this load asks for it again unless the caller holds it (by
    /// [`SyncOptions::source`], or without one, by what earlier loads returned).
    ///
    /// # Errors
    /// [`SyncError::LoadTimeout`] after [`SyncOptions::load_timeout`] (e.g. while the server is
    /// unreachable); [`SyncError::Closed`] after [`SyncClient::shutdown`].
    pub async fn load(&self, id: &CoID) -> Result<Option<Vec<ContentMessage>>, SyncError> {
        self.load_since(KnownState::empty(id.clone())).await
    }

    /// Like [`SyncClient::load`], for a caller that already holds `known` of the CoValue:
    /// only what it lacks is sent (and the header only if `known.header` is false).
    ///
    /// # Errors
    /// As [`SyncClient::load`].
    pub async fn load_since(
        &self,
        known: KnownState,
    ) -> Result<Option<Vec<ContentMessage>>, SyncError> {
        let deadline = Instant::now() + self.inner.options.load_timeout;
        let id = known.id.clone();
        let Some(mut messages) = self.load_one(known, deadline).await? else {
            return Ok(None);
        };
        let mut asked: HashSet<CoID> = HashSet::from([id]);
        loop {
            let missing: Vec<CoID> = missing_dependencies(&messages)
                .into_iter()
                .filter(|dependency| !asked.contains(dependency))
                .collect();
            let missing = self.not_held(missing).await;
            if missing.is_empty() {
                break;
            }
            let mut dependencies = Vec::new();
            for dependency in missing {
                asked.insert(dependency.clone());
                tracing::debug!(%dependency, "loading a dependency sent to an earlier load");
                if let Some(found) = self
                    .load_one(KnownState::empty(dependency), deadline)
                    .await?
                {
                    dependencies.extend(found);
                }
            }
            dependencies.append(&mut messages);
            messages = dependencies;
        }
        if self.inner.options.source.is_none() {
            let mut delivered = self
                .inner
                .delivered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            delivered.extend(messages.iter().map(|m| m.id.clone()));
        }
        Ok(Some(messages))
    }

    async fn load_one(
        &self,
        since: KnownState,
        deadline: Instant,
    ) -> Result<Option<Vec<ContentMessage>>, SyncError> {
        let id = since.id.clone();
        let (reply, answer) = oneshot::channel();
        self.send(Command::Load { since, reply })?;
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SyncError::Closed),
            Err(_) => Err(SyncError::LoadTimeout {
                id,
                after: self.inner.options.load_timeout,
            }),
        }
    }

    /// Which of `ids` the caller does not hold.
    async fn not_held(&self, ids: Vec<CoID>) -> Vec<CoID> {
        if ids.is_empty() {
            return ids;
        }
        match self.inner.options.source.clone() {
            Some(source) => {
                let check = tokio::task::spawn_blocking(move || {
                    ids.into_iter()
                        .filter(|id| source.known_state(id).is_none())
                        .collect::<Vec<_>>()
                });
                // A panicking source answers nothing: the caller's import reports what it misses.
                check.await.unwrap_or_default()
            }
            None => {
                let delivered = self
                    .inner
                    .delivered
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                ids.into_iter()
                    .filter(|id| !delivered.contains(id))
                    .collect()
            }
        }
    }

    /// Sends `content` (pieces of one or more CoValues, dependencies first, as
    /// [`LocalNode::export`](crate::cojson::LocalNode::export) or `take_unsaved` give them) and
    /// returns once the server's known state covers all of it (cojson's "uploaded").
    ///
    /// While the server is unreachable the content waits and is sent on reconnection; what
    /// the server lacks to accept it (accounts, groups) it asks for, and the
    /// [`SyncOptions::source`] answers.
    ///
    /// # Errors
    /// [`SyncError::AckTimeout`] after [`SyncOptions::ack_timeout`] (the content stays queued
    /// and is still delivered); [`SyncError::MissingEarlierContent`] when the server needs
    /// content from before it that nobody holds; [`SyncError::Closed`] after shutdown.
    pub async fn push(&self, content: Vec<ContentMessage>) -> Result<(), SyncError> {
        self.submit(content)?.acknowledged().await
    }

    /// Hands content to the connection and returns at once; [`PendingPush::acknowledged`]
    /// waits for the server's acknowledgement (errors as [`SyncClient::push`]). Content
    /// submitted one after another is sent in that order, so a caller that takes content and
    /// submits it under one lock keeps the order it took it in.
    pub fn submit(&self, content: Vec<ContentMessage>) -> Result<PendingPush, SyncError> {
        if content.is_empty() {
            return Ok(PendingPush { waiting: None });
        }
        let mut ids: Vec<CoID> = Vec::new();
        for piece in &content {
            if !ids.contains(&piece.id) {
                ids.push(piece.id.clone());
            }
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Push { content, reply })?;
        Ok(PendingPush {
            waiting: Some(AwaitedAck {
                answer,
                ids,
                after: self.inner.options.ack_timeout,
            }),
        })
    }

    /// What the server pushes unasked from now on: changes of CoValues this client loaded
    /// or pushed, as content messages to import. The first call takes the stream; later calls
    /// get `None`. Until it is taken, updates are dropped.
    pub fn updates(&self) -> Option<Updates> {
        let receiver = self
            .inner
            .updates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        self.inner.updates_wanted.store(true, Ordering::Relaxed);
        Some(Updates { receiver })
    }

    /// Stops following these CoValues (e.g. handled request envelopes): they are not loaded
    /// again on reconnection. Content of theirs not yet acknowledged is still delivered: they
    /// are forgotten once it is.
    pub fn forget(&self, ids: &[CoID]) {
        // After shutdown there is nothing to forget.
        let _ = self.send(Command::Forget(ids.to_vec()));
    }

    /// Stops following those of `ids` that this client brought to the server: first followed
    /// by a push that carried their header, and neither loaded nor sent by the server since
    /// (e.g. CoValues a worker's handler created, which only the worker writes). As with
    /// [`SyncClient::forget`], once their pushed content is acknowledged. What was loaded, or
    /// what others write, stays followed: its updates still arrive.
    pub fn forget_created(&self, ids: &[CoID]) {
        // After shutdown there is nothing to forget.
        let _ = self.send(Command::ForgetCreated(ids.to_vec()));
    }

    /// Stops the client: new loads and pushes fail with [`SyncError::Closed`]; content not
    /// yet acknowledged is given up to [`SyncOptions::shutdown_timeout`] to be acknowledged
    /// (reconnecting if needed); then the connection is closed. (Dropping every handle
    /// without shutting down closes the connection at once, giving up what is unacknowledged.)
    ///
    /// # Errors
    /// [`SyncError::Unflushed`] naming the CoValues the server did not acknowledge in time.
    pub async fn shutdown(&self) -> Result<(), SyncError> {
        let (reply, answer) = oneshot::channel();
        let outcome = match self.send(Command::Shutdown { reply }) {
            Ok(()) => answer.await.unwrap_or(Ok(())),
            Err(_) => Ok(()),
        };
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "the sync connection task failed");
        }
        outcome
    }
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("url", &self.inner.url)
            .field("status", &*self.inner.status.borrow())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("ws://127.0.0.1:4200").is_ok());
        assert!(check_url("wss://cloud.jazz.tools/?key=x").is_ok());
        for bad in ["http://x", "ws://", "ws:///path", "127.0.0.1:4200", ""] {
            assert!(
                matches!(check_url(bad), Err(SyncError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
