//! Workers as real child processes: the `interop_worker` and `seed_event` examples, built
//! once per test binary with the cargo that runs the tests, started on a SQLite store with a
//! worker account made for them, killed (SIGKILL) or stopped (SIGTERM) at will.
//!
//! `JAZZ_REQ_INTEROP_WORKER=/path/to/interop_worker` runs the tests against another build of
//! the worker (e.g. a deliberately broken one) instead of building this workspace's.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use jazz_req_core::cojson::LocalNode;
use jazz_req_core::crypto::random::new_random_agent_secret;
use jazz_req_core::crypto::{AgentSecret, CoID};
use jazz_req_core::storage::SqliteStorage;
use serde_json::Value;

/// The examples this module runs.
pub const EXAMPLES: [&str; 2] = ["interop_worker", "seed_event"];

/// The variable naming another `interop_worker` binary to test.
pub const WORKER_OVERRIDE: &str = "JAZZ_REQ_INTEROP_WORKER";

/// How long a worker may take to print its first line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The last this many bytes of a worker's stderr are kept for error messages.
const STDERR_KEPT: usize = 16 * 1024;

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
    /// The worker exited or went silent before saying where it listens.
    #[error("the worker did not start ({reason}); its stderr:\n{stderr}")]
    NotStarted {
        /// What happened.
        reason: String,
        /// The end of its stderr.
        stderr: String,
    },
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
    /// The worker did not exit in time after SIGTERM.
    #[error("the worker still runs {0:?} after SIGTERM")]
    NoExit(Duration),
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

/// Builds the examples (once per process, in the dev profile: after `cargo test
/// --workspace`, which builds the examples too, the build finds them up to date) and
/// returns their paths.
pub fn examples() -> Result<Examples, Arc<ProcessError>> {
    static BUILT: OnceLock<Result<Examples, Arc<ProcessError>>> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(PoisonError::into_inner);
    BUILT
        .get_or_init(|| build_examples().map_err(Arc::new))
        .clone()
}

fn build_examples() -> Result<Examples, ProcessError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--workspace", "--message-format=json-render-diagnostics"]);
    for example in EXAMPLES {
        command.args(["--example", example]);
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
            && EXAMPLES.contains(&name)
            && let Some(executable) = message["executable"].as_str()
        {
            paths.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    if let Some(path) = std::env::var_os(WORKER_OVERRIDE) {
        paths.insert("interop_worker".to_owned(), PathBuf::from(path));
    }
    for example in EXAMPLES {
        if !paths.contains_key(example) {
            return Err(ProcessError::NotBuilt(example.to_owned()));
        }
    }
    Ok(Examples { paths })
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
    child: Child,
    addr: SocketAddr,
    account: CoID,
    stderr: Arc<Mutex<String>>,
}

impl WorkerProcess {
    /// Starts `interop_worker --listen 127.0.0.1:0 --store STORE` and waits for its first
    /// line.
    pub fn start(
        examples: &Examples,
        credentials: &Credentials,
        store: &Path,
    ) -> Result<Self, ProcessError> {
        let program = examples.interop_worker();
        let mut command = Command::new(program);
        credentials.apply(&mut command);
        command
            .args(["--listen", "127.0.0.1:0", "--store"])
            .arg(store)
            .env(
                "RUST_LOG",
                std::env::var("WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
            command: program.display().to_string(),
            source,
        })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let kept = stderr.clone();
            std::thread::spawn(move || keep_tail(pipe, &kept));
        }
        let (first_line, line) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut lines = BufReader::new(pipe).lines();
                let _ = first_line.send(lines.next());
                // Read on, so that the worker never blocks on a full pipe.
                for _ in lines {}
            });
        }
        let not_started = |reason: String, child: &mut Child| {
            let _ = child.kill();
            let _ = child.wait();
            // Give the stderr thread a moment to read the end.
            std::thread::sleep(Duration::from_millis(50));
            ProcessError::NotStarted {
                reason,
                stderr: stderr.lock().map(|s| s.clone()).unwrap_or_default(),
            }
        };
        let line = match line.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(_) => return Err(not_started("it closed stdout".into(), &mut child)),
            Err(_) => {
                return Err(not_started(
                    format!("no line on stdout after {START_TIMEOUT:?}"),
                    &mut child,
                ));
            }
        };
        let parsed: Option<(SocketAddr, CoID)> =
            serde_json::from_str::<Value>(&line).ok().and_then(|v| {
                let addr = v["listening"].as_str()?.parse().ok()?;
                let account = CoID::parse(v["account"].as_str()?).ok()?;
                Some((addr, account))
            });
        let Some((addr, account)) = parsed else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ProcessError::UnexpectedOutput {
                program: "interop_worker",
                line,
            });
        };
        Ok(Self {
            child,
            addr,
            account,
            stderr,
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
        self.child.id()
    }

    /// The end of what it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reaps it.
    pub fn kill(mut self) -> Result<ExitStatus, ProcessError> {
        let spawn_error = |source| ProcessError::Spawn {
            command: "kill -KILL".into(),
            source,
        };
        self.child.kill().map_err(spawn_error)?;
        self.child.wait().map_err(spawn_error)
    }

    /// SIGTERM (through `kill -TERM PID`), then waits up to `timeout` for it to exit.
    pub fn terminate(mut self, timeout: Duration) -> Result<ExitStatus, ProcessError> {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|source| ProcessError::Spawn {
                command: format!("kill -TERM {pid}"),
                source,
            })?;
        if !status.success() {
            return Err(ProcessError::Spawn {
                command: format!("kill -TERM {pid}"),
                source: io::Error::other(format!("kill exited with {status}")),
            });
        }
        let started = Instant::now();
        loop {
            let waited = self
                .child
                .try_wait()
                .map_err(|source| ProcessError::Spawn {
                    command: "waiting for the worker".into(),
                    source,
                })?;
            if let Some(status) = waited {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                return Err(ProcessError::NoExit(timeout));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `pipe` to its end, keeping the last [`STDERR_KEPT`] bytes in `kept`.
fn keep_tail(mut pipe: impl Read, kept: &Mutex<String>) {
    let mut buffer = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buffer) {
        if n == 0 {
            break;
        }
        let Ok(mut text) = kept.lock() else {
            break;
        };
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if text.len() > STDERR_KEPT {
            let mut cut = text.len() - STDERR_KEPT;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
        }
    }
}
