//! What can make a `jazz-req` subcommand fail. No message ever contains a secret.

use std::path::PathBuf;

use jazz_req_core::cojson::NodeError;
use jazz_req_core::crypto::CryptoError;
use jazz_req_core::storage::StorageError;

/// A failed subcommand; `main` prints it on stderr and exits with code 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The agent secret given does not parse (its text is not repeated here).
    #[error(
        "the agent secret is not valid: expected `sealerSecret_z…/signerSecret_z…` \
         (as `JAZZ_WORKER_SECRET` holds it)"
    )]
    InvalidSecret,
    /// The system's random number generator failed.
    #[error("could not make a random agent secret")]
    Random(#[source] CryptoError),
    /// Creating the account failed.
    #[error("could not create the account")]
    CreateAccount(#[source] NodeError),
    /// The SQLite store could not be opened.
    #[error("could not open the store {}", .path.display())]
    OpenStore {
        /// The store file.
        path: PathBuf,
        /// Why.
        #[source]
        source: StorageError,
    },
    /// Writing the account to the store failed.
    #[error("could not write the account to the store {}", .path.display())]
    WriteStore {
        /// The store file.
        path: PathBuf,
        /// Why.
        #[source]
        source: NodeError,
    },
    /// The account could not be uploaded to the sync server.
    #[error("could not upload the account to the sync server {url}")]
    Upload {
        /// The server's URL.
        url: String,
        /// Why.
        #[source]
        source: jazz_req_core::sync::SyncError,
    },
    /// The async runtime for talking to the sync server could not start.
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The input file could not be read.
    #[error("could not read {}", .path.display())]
    ReadInput {
        /// The file (`-` for standard input).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The inspected request is not valid (the report says why).
    #[error("the request is not valid")]
    InvalidRequest,
    /// Printing the result failed (e.g. a closed pipe).
    #[error("could not write the output")]
    Output {
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    /// This error and its causes, `: `-separated, for one line on stderr.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

impl From<std::io::Error> for CliError {
    fn from(source: std::io::Error) -> Self {
        Self::Output { source }
    }
}
