//! `jazz-req auth-token`: jazz-tools' `generateAuthToken` for the account of an agent secret.

use std::io::Write;

use clap::Args;
use jazz_req_core::auth_token::generate_auth_token;
use jazz_req_core::cojson::clock::now_ms;
use jazz_req_core::crypto::account_id_for_agent;

use super::secret::SecretArg;
use super::{CliError, Run};

/// `Number.MAX_SAFE_INTEGER`: jazz-tools reads the time back as a JS number.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Options of `auth-token`.
#[derive(Debug, Args)]
pub struct AuthTokenArgs {
    /// The agent secret of the account (`sealerSecret_z…/signerSecret_z…`).
    #[arg(
        long,
        env = "JAZZ_WORKER_SECRET",
        hide_env_values = true,
        value_name = "AGENT_SECRET"
    )]
    pub secret: SecretArg,
    /// The creation time in ms since the epoch (default: now). Servers refuse tokens older
    /// than their expiration (60 s by default).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(..=MAX_SAFE_INTEGER))]
    pub now: Option<u64>,
    /// Print the whole header line, `Authorization: Jazz <token>`.
    #[arg(long)]
    pub header: bool,
}

impl Run for AuthTokenArgs {
    fn run(self, out: &mut dyn Write) -> Result<(), CliError> {
        let secret = self.secret.agent_secret()?;
        let account = account_id_for_agent(&secret.agent_id());
        let token = generate_auth_token(&account, &secret, self.now.unwrap_or_else(now_ms));
        if self.header {
            writeln!(out, "Authorization: Jazz {token}")?;
        } else {
            writeln!(out, "{token}")?;
        }
        Ok(())
    }
}
