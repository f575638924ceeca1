//! `jazz-req account …`: create a worker account (like `npx jazz-run account create`) and
//! show who an agent secret is.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use jazz_req_core::cojson::LocalNode;
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{AgentSecret, CoID, account_id_for_agent};
use jazz_req_core::storage::SqliteStorage;
use serde_json::json;

use super::secret::SecretArg;
use super::{CliError, Run};

/// The `account` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account with a profile and a new random agent, and print its credentials
    /// as `JAZZ_WORKER_ACCOUNT=…` and `JAZZ_WORKER_SECRET=…` lines.
    Create(CreateArgs),
    /// Print the account id and agent id of an agent secret as JSON (never the secret).
    Show(ShowArgs),
}

impl Run for AccountCommand {
    fn run(self, out: &mut dyn Write) -> Result<(), CliError> {
        match self {
            Self::Create(args) => args.run(out),
            Self::Show(args) => args.run(out),
        }
    }
}

/// Options of `account create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The name in the account's profile.
    #[arg(short, long, default_value = "Jazz Worker")]
    pub name: String,
    /// Also write the account into this SQLite store (created if missing), so that a worker
    /// using it as its embedded store starts with its account.
    #[arg(long, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Print `{"accountID": …, "agentSecret": …}` instead of environment lines.
    #[arg(long)]
    pub json: bool,
}

impl Run for CreateArgs {
    fn run(self, out: &mut dyn Write) -> Result<(), CliError> {
        let secret = new_random_agent_secret().map_err(CliError::Random)?;
        let (mut node, account) = LocalNode::create_account(secret.clone(), &self.name)
            .map_err(CliError::CreateAccount)?;
        if let Some(path) = &self.store {
            store(&mut node, path)?;
        }
        write_credentials(out, &self, &account, &secret)
    }
}

/// Writes everything `node` holds into the SQLite file at `path`, durably.
fn store(node: &mut LocalNode, path: &PathBuf) -> Result<(), CliError> {
    let storage = SqliteStorage::open(path).map_err(|source| CliError::OpenStore {
        path: path.clone(),
        source,
    })?;
    node.attach_storage(Arc::new(storage));
    node.flush().map_err(|source| CliError::WriteStore {
        path: path.clone(),
        source,
    })?;
    Ok(())
}

/// The credentials, as `jazz-run account create` prints them (the secret is the point of
/// this output).
fn write_credentials(
    out: &mut dyn Write,
    args: &CreateArgs,
    account: &CoID,
    secret: &AgentSecret,
) -> Result<(), CliError> {
    let secret = secret.to_secret_string();
    if args.json {
        let mut value = json!({"accountID": account.as_str(), "agentSecret": secret.as_str()});
        if let Some(path) = &args.store {
            value["store"] = json!(path.display().to_string());
        }
        writeln!(out, "{value}")?;
        return Ok(());
    }
    // JSON-quoting keeps a name with a line break on one comment line.
    writeln!(out, "# Credentials for Jazz account {}:", json!(args.name))?;
    if let Some(path) = &args.store {
        writeln!(out, "# Stored in {}", json!(path.display().to_string()))?;
    }
    writeln!(out, "JAZZ_WORKER_ACCOUNT={account}")?;
    writeln!(out, "JAZZ_WORKER_SECRET={}", secret.as_str())?;
    Ok(())
}

/// Options of `account show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The agent secret (`sealerSecret_z…/signerSecret_z…`).
    #[arg(
        long,
        env = "JAZZ_WORKER_SECRET",
        hide_env_values = true,
        value_name = "AGENT_SECRET"
    )]
    pub secret: SecretArg,
}

impl Run for ShowArgs {
    fn run(self, out: &mut dyn Write) -> Result<(), CliError> {
        let agent = self.secret.agent_secret()?.agent_id();
        let account = account_id_for_agent(&agent);
        let value = json!({
            "accountID": account.as_str(),
            "agentID": agent.to_string(),
            "signerID": agent.signer.to_string(),
            "sealerID": agent.sealer.to_string(),
        });
        writeln!(out, "{value}")?;
        Ok(())
    }
}
