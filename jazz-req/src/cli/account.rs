//! `jazz-req account …`: create a worker account (like `npx jazz-run account create`) and
//! show who an agent secret is.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use jazz_req_core::cojson::{LocalNode, ResolveQuery};
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{AgentSecret, CoID, account_id_for_agent};
use jazz_req_core::storage::SqliteStorage;
use jazz_req_core::sync::{SyncClient, SyncOptions};
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
    /// Upload the account to this Jazz sync server (e.g. `wss://cloud.jazz.tools/?key=…`),
    /// so that a worker started with `JAZZ_SYNC_SERVER` and jazz-tools clients load it there.
    #[arg(long, value_name = "URL")]
    pub sync_server: Option<String>,
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
        if let Some(url) = &self.sync_server {
            upload(&node, &account, url)?;
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

/// Pushes the account (and its profile) to the sync server at `url` and waits until the
/// server has acknowledged it, as `jazz-run account create` does.
fn upload(node: &LocalNode, account: &CoID, url: &str) -> Result<(), CliError> {
    let content = node
        .export(account, &ResolveQuery::Value)
        .map_err(CliError::CreateAccount)?;
    let profile = node
        .read(account)
        .ok()
        .and_then(|read| {
            read.value
                .get("profile")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        })
        .and_then(|id| CoID::parse(&id).ok());
    let mut content = content;
    if let Some(profile) = profile {
        for message in node
            .export(&profile, &ResolveQuery::Value)
            .map_err(CliError::CreateAccount)?
        {
            if !content.iter().any(|m| m.id == message.id) {
                content.push(message);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let failed = |source| CliError::Upload {
        url: url.to_owned(),
        source,
    };
    runtime.block_on(async {
        let client = SyncClient::connect(url, SyncOptions::default())
            .await
            .map_err(failed)?;
        client.push(content).await.map_err(failed)?;
        client.shutdown().await.map_err(failed)
    })
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
