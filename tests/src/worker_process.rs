//! Workers as real child processes: the `interop_worker` and `seed_event` examples, built
//! once per test binary with the cargo that runs the tests, started on a SQLite store with a
//! worker account made for them (alone, or as a peer of a sync server), killed (SIGKILL) or
//! stopped (SIGTERM) at will.
//!
//! `JAZZ_REQ_INTEROP_WORKER=/path/to/interop_worker` runs the tests against another build of
//! the worker (e.g. a deliberately broken one) instead of building this workspace's.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use jazz_req_core::cojson::LocalNode;
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{AgentSecret, CoID};
use jazz_req_core::storage::SqliteStorage;
use serde_json::Value;

use crate::child_process::{ChildError, ChildProcess};

/// The examples this module runs.
pub const EXAMPLES: [&str; 2] = ["interop_worker", "seed_event"];

/// The variable naming another `interop_worker` binary to test.
pub const WORKER_OVERRIDE: &str = "JAZZ_REQ_INTEROP_WORKER";

/// The log filter that makes the worker say when it has read a request, and what it says.
const ARRIVALS_LOG: &str = "jazz_req_core::request::worker=debug";
const ARRIVAL: &str = "request received";

/// How long a worker may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What can go wrong while building, starting or stopping the examples.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A program could not be started or waited for.
    #[error("could not run {command}")]
    Spawn {
        /// The program.
        command: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `cargo build` of the examples failed.
    #[error("`cargo build` of the examples failed ({status}):\n{stderr}")]
    Build {
        /// Cargo's exit status.
        status: ExitStatus,
        /// What cargo said.
        stderr: String,
    },
    /// Cargo built, but did not name one of the examples' executables.
    #[error("cargo did not report the executable of the example {0}")]
    NotBuilt(String),
    /// The worker did not start (it exited or went silent before saying where it listens),
    /// or could not be stopped (with its stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A program printed something else than the JSON line expected.
    #[error("{program} printed {line:?}, not the JSON line expected")]
    UnexpectedOutput {
        /// The program.
        program: &'static str,
        /// What it printed.
        line: String,
    },
    /// `seed_event` failed.
    #[error("seed_event failed ({status}): {stderr}")]
    Seed {
        /// Its exit status.
        status: ExitStatus,
        /// What it said.
        stderr: String,
    },
    /// Creating the worker account failed.
    #[error("creating the worker account: {0}")]
    Account(String),
}

/// The paths of the built examples, by name.
#[derive(Clone, Debug)]
pub struct Examples {
    paths: HashMap<String, PathBuf>,
}

impl Examples {
    /// The `interop_worker` to test ([`WORKER_OVERRIDE`] if set).
    pub fn interop_worker(&self) -> &Path {
        self.paths
            .get("interop_worker")
            .map_or_else(|| Path::new("interop_worker"), PathBuf::as_path)
    }

    /// The `seed_event` example.
    pub fn seed_event(&self) -> &Path {
        self.paths
            .get("seed_event")
            .map_or_else(|| Path::new("seed_event"), PathBuf::as_path)
    }
}

/// Which cargo profile to build in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// `dev`, what `cargo test` builds the examples in (up to date after it).
    Dev,
    /// `--release`, for measurements.
    Release,
}

/// Builds the examples (once per process, in the dev profile: after `cargo test
/// --workspace`, which builds the examples too, the build finds them up to date) and
/// returns their paths; [`WORKER_OVERRIDE`] names another `interop_worker`.
pub fn examples() -> Result<Examples, Arc<ProcessError>> {
    static BUILT: OnceLock<Result<Examples, Arc<ProcessError>>> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    BUILT
        .get_or_init(|| {
            let mut paths = build_examples(&EXAMPLES, Profile::Dev)?;
            if let Some(path) = std::env::var_os(WORKER_OVERRIDE) {
                paths.insert("interop_worker".to_owned(), PathBuf::from(path));
            }
            Ok(Examples { paths })
        })
        .clone()
}

/// Builds the examples `names` of this workspace with the cargo running the tests (the
/// whole workspace's features, as `cargo test --workspace` resolves them, so that a dev
/// build after it is up to date at once) and returns their executables, by name.
///
/// # Errors
/// [`ProcessError::Spawn`] when cargo cannot be run, [`ProcessError::Build`] (with cargo's
/// stderr) when the build fails, [`ProcessError::NotBuilt`] when cargo names no executable
/// for one of `names`.
pub fn build_examples(
    names: &[&str],
    profile: Profile,
) -> Result<HashMap<String, PathBuf>, ProcessError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--workspace", "--message-format=json-render-diagnostics"]);
    if profile == Profile::Release {
        command.arg("--release");
    }
    for name in names {
        command.args(["--example", name]);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ProcessError::Spawn {
            command: format!("{} build", cargo.to_string_lossy()),
            source,
        })?;
    if !output.status.success() {
        return Err(ProcessError::Build {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let mut paths = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let name = message["target"]["name"].as_str().unwrap_or_default();
        if message["reason"] == "compiler-artifact"
            && names.contains(&name)
            && let Some(executable) = message["executable"].as_str()
        {
            paths.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    match names.iter().find(|name| !paths.contains_key(**name)) {
        Some(missing) => Err(ProcessError::NotBuilt((*missing).to_owned())),
        None => Ok(paths),
    }
}

/// A worker's credentials (`JAZZ_WORKER_ACCOUNT`, `JAZZ_WORKER_SECRET`).
#[derive(Clone)]
pub struct Credentials {
    /// The worker's account.
    pub account: CoID,
    /// Its agent secret.
    pub secret: AgentSecret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Sets the two variables on `command`, and clears the store variable (the store is
    /// always passed as an option) and the sync server's (these workers live on their store).
    pub fn apply(&self, command: &mut Command) {
        command
            .env("JAZZ_WORKER_ACCOUNT", self.account.as_str())
            .env(
                "JAZZ_WORKER_SECRET",
                self.secret.to_secret_string().as_str(),
            )
            .env_remove("JAZZ_REQ_STORE")
            .env_remove("JAZZ_SYNC_SERVER");
    }
}

/// Creates a worker account and writes it into the SQLite store at `store`, as
/// `jazz-req account create --store FILE` does.
pub fn create_worker_account(store: &Path) -> Result<Credentials, ProcessError> {
    let account_error = |e: &dyn std::fmt::Display| ProcessError::Account(e.to_string());
    let secret = new_random_agent_secret().map_err(|e| account_error(&e))?;
    let (mut node, account) =
        LocalNode::create_account(secret.clone(), "Worker").map_err(|e| account_error(&e))?;
    let storage = SqliteStorage::open(store).map_err(|e| account_error(&e))?;
    node.attach_storage(Arc::new(storage));
    node.flush().map_err(|e| account_error(&e))?;
    Ok(Credentials { account, secret })
}

/// An event `seed_event` put into a store.
#[derive(Clone, Debug)]
pub struct SeededEvent {
    /// The event's id.
    pub event: CoID,
    /// The worker's account and the event with its reservations, to import into clients.
    pub pieces: Vec<Value>,
}

/// Runs `seed_event` on `store`: an event of `capacity` seats, created by the worker.
pub fn seed_event(
    examples: &Examples,
    credentials: &Credentials,
    store: &Path,
    name: &str,
    capacity: u32,
) -> Result<SeededEvent, ProcessError> {
    let mut command = Command::new(examples.seed_event());
    credentials.apply(&mut command);
    command
        .arg("--store")
        .arg(store)
        .args(["--name", name, "--capacity", &capacity.to_string()]);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ProcessError::Spawn {
            command: "seed_event".into(),
            source,
        })?;
    if !output.status.success() {
        return Err(ProcessError::Seed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let unexpected = || ProcessError::UnexpectedOutput {
        program: "seed_event",
        line: line.clone(),
    };
    let value: Value = serde_json::from_str(&line).map_err(|_| unexpected())?;
    let event = value["event"]
        .as_str()
        .and_then(|s| CoID::parse(s).ok())
        .ok_or_else(unexpected)?;
    let pieces = value["pieces"].as_array().cloned().ok_or_else(unexpected)?;
    Ok(SeededEvent { event, pieces })
}

/// A running `interop_worker`. Dropping it kills it.
#[derive(Debug)]
pub struct WorkerProcess {
    process: ChildProcess,
    addr: SocketAddr,
    account: CoID,
}

impl WorkerProcess {
    /// Starts `interop_worker --listen 127.0.0.1:0 --store STORE`, a worker on its store
    /// alone, and waits for its first line.
    ///
    /// # Errors
    /// [`ProcessError::Child`] when it cannot be started, or exits or stays silent before
    /// its line; [`ProcessError::UnexpectedOutput`].
    pub fn start(
        examples: &Examples,
        credentials: &Credentials,
        store: &Path,
    ) -> Result<Self, ProcessError> {
        Self::spawn(examples, credentials, store, &[], None)
    }

    /// As [`WorkerProcess::start`], and the worker says on stderr when it has read a
    /// request ([`WorkerProcess::requests_received`] counts them).
    ///
    /// # Errors
    /// As [`WorkerProcess::start`].
    pub fn start_telling_arrivals(
        examples: &Examples,
        credentials: &Credentials,
        store: &Path,
    ) -> Result<Self, ProcessError> {
        Self::spawn(examples, credentials, store, &[], Some(ARRIVALS_LOG))
    }

    /// Starts `interop_worker --listen 127.0.0.1:0 --store STORE --sync-server URL`: a worker
    /// on its store that is a peer of the sync server at `sync_server` (its account may be
    /// on the server only), and waits for its first line.
    ///
    /// # Errors
    /// As [`WorkerProcess::start`].
    pub fn start_with_sync_server(
        examples: &Examples,
        credentials: &Credentials,
        store: &Path,
        sync_server: &str,
    ) -> Result<Self, ProcessError> {
        Self::spawn(
            examples,
            credentials,
            store,
            &["--sync-server", sync_server],
            None,
        )
    }

    /// Starts the worker with `more_args`; its log filter is `WORKER_LOG` (or `warn`), plus
    /// `more_log` when given.
    fn spawn(
        examples: &Examples,
        credentials: &Credentials,
        store: &Path,
        more_args: &[&str],
        more_log: Option<&str>,
    ) -> Result<Self, ProcessError> {
        let program = examples.interop_worker();
        let mut command = Command::new(program);
        credentials.apply(&mut command);
        let mut log = std::env::var("WORKER_LOG").unwrap_or_else(|_| "warn".into());
        if let Some(more) = more_log {
            log = format!("{log},{more}");
        }
        command
            .args(["--listen", "127.0.0.1:0", "--store"])
            .arg(store)
            .args(more_args)
            .env("RUST_LOG", log);
        let mut process = ChildProcess::spawn("interop_worker", command)?;
        // Nothing to read: it exits on signals only.
        process.close_stdin();
        let line = process.ready_line(START_TIMEOUT)?;
        let parsed: Option<(SocketAddr, CoID)> = (|| {
            let addr = line["listening"].as_str()?.parse().ok()?;
            let account = CoID::parse(line["account"].as_str()?).ok()?;
            Some((addr, account))
        })();
        let Some((addr, account)) = parsed else {
            return Err(ProcessError::UnexpectedOutput {
                program: "interop_worker",
                line: line.to_string(),
            });
        };
        Ok(Self {
            process,
            addr,
            account,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The account it printed.
    pub fn account(&self) -> &CoID {
        &self.account
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The end of what it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.process.stderr_text()
    }

    /// How many requests it said it has read, when started with
    /// [`WorkerProcess::start_telling_arrivals`] (0 otherwise).
    pub fn requests_received(&self) -> usize {
        self.process.stderr_text().matches(ARRIVAL).count()
    }

    /// SIGKILL, then reaps it.
    ///
    /// # Errors
    /// [`ProcessError::Child`] when it cannot be killed or waited for.
    pub fn kill(mut self) -> Result<ExitStatus, ProcessError> {
        Ok(self.process.kill()?)
    }

    /// SIGTERM, then waits up to `timeout` for it to exit.
    ///
    /// # Errors
    /// [`ProcessError::Child`] when the signal cannot be sent or it still runs after
    /// `timeout` (with its stderr).
    pub fn terminate(mut self, timeout: Duration) -> Result<ExitStatus, ProcessError> {
        Ok(self.process.terminate(timeout)?)
    }
}
