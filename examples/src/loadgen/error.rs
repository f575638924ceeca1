//! Why a load run could not be made.

use std::path::PathBuf;
use std::process::ExitStatus;

use jazz_req::cojson::{ContentError, NodeError};
use jazz_req::crypto::{CoID, CryptoError};
use jazz_req::request::SendError;
use jazz_req::sync::SyncError;

/// Everything that can stop a load run before it measures anything.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Talking to the sync server failed.
    #[error("the sync server: {0}")]
    Sync(#[from] SyncError),
    /// Making an account, an event or a sender's node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Signing a request body failed.
    #[error("signing a request: {0}")]
    Sign(#[from] SendError),
    /// No randomness for a new account's secret.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A signed body holds a content piece that is not one.
    #[error("a content piece of a signed body: {0}")]
    Content(#[from] ContentError),
    /// The HTTP client could not be made.
    #[error("the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The worker's account is not on the sync server.
    #[error("the sync server does not have the worker's account {0}")]
    WorkerNotOnServer(CoID),
    /// An event cannot have that many seats.
    #[error("an event cannot have {0} seats")]
    TooManySeats(usize),
    /// A file or a process could not be made, read or waited for.
    #[error("could not {action} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "start".
        action: &'static str,
        /// The file, or the program.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A child process ended, or stayed silent, before the JSON line that says it is ready.
    #[error("{name} is not ready: {reason}; the end of its stderr ({}):\n{stderr}", .log.display())]
    NotReady {
        /// The process.
        name: String,
        /// What happened instead.
        reason: String,
        /// Where its stderr goes.
        log: PathBuf,
        /// The end of its stderr.
        stderr: String,
    },
    /// A child process's ready line lacks what it should say.
    #[error("{name} said {line}, not what its ready line holds")]
    BadReadyLine {
        /// The process.
        name: String,
        /// The line.
        line: String,
    },
    /// A command run to its end failed (`npm ci`, `cargo build`).
    #[error("`{command}` failed ({status})")]
    CommandFailed {
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
    },
}

impl LoadError {
    /// A closure making an [`LoadError::Io`] for `action` on `path`.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
