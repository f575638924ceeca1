//! `jazz-req inspect`: verifies and decrypts a captured request body as a worker and prints
//! what the worker would see, as one JSON object.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::Args;
use jazz_req_core::cojson::clock::now_ms;
use jazz_req_core::request::inspect;

use super::secret::SecretArg;
use super::{CliError, Run};

/// Options of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The worker's agent secret (`sealerSecret_z…/signerSecret_z…`).
    #[arg(
        long,
        env = "JAZZ_WORKER_SECRET",
        hide_env_values = true,
        value_name = "AGENT_SECRET"
    )]
    pub worker_secret: SecretArg,
    /// The time to check expiry against, in ms since the epoch (default: now). Captured
    /// requests older than 60 s are expired unless you set this near their `createdAt`.
    #[arg(long, value_name = "UNIX_MS")]
    pub now: Option<u64>,
    /// The captured request body (a JSON file), or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
}

impl Run for InspectArgs {
    fn run(self, out: &mut dyn Write) -> Result<(), CliError> {
        let secret = self.worker_secret.agent_secret()?;
        let mut body = Vec::new();
        let read = if self.file.as_os_str() == "-" {
            std::io::stdin().read_to_end(&mut body).map(|_| ())
        } else {
            std::fs::File::open(&self.file).and_then(|mut f| f.read_to_end(&mut body).map(|_| ()))
        };
        read.map_err(|source| CliError::ReadInput {
            path: self.file.clone(),
            source,
        })?;
        let report = inspect(&body, &secret, self.now.unwrap_or_else(now_ms));
        writeln!(out, "{}", report.to_json())?;
        if report.valid {
            Ok(())
        } else {
            Err(CliError::InvalidRequest)
        }
    }
}
