//! The Node.js side of the tests: the real `cojson@0.20.19` / `jazz-tools@0.20.19` npm
//! packages installed under `tests/js`, the vector generator scripts, and helper scripts
//! such as `read-pieces.mjs`.
//!
//! Every function here needs `node` (20 or newer) and `npm` on `PATH`. The first call of
//! [`ensure_npm_installed`] (made by all the other functions) runs `npm ci` when
//! `tests/js/node_modules` is missing or older than `package-lock.json`; it is safe when
//! several test threads and test binaries call it at once.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::child_process::{ChildError, ChildProcess};

/// The files the generator scripts write.
pub const VECTOR_FILES: [&str; 5] = [
    "crypto.json",
    "covalues.json",
    "requests.json",
    "scenarios.json",
    "meta.json",
];

/// How long [`run_node_script`] lets a script run (and `npm ci` take) before killing it.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// Written into `node_modules` once `npm ci` succeeded; its age tells whether the install
/// is older than `package-lock.json`.
const INSTALL_STAMP: &str = ".jazz-req-npm-ci.stamp";

/// Everything that can go wrong while driving Node.js and npm.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// `node` or `npm` is not on `PATH`.
    #[error(
        "`{tool}` was not found on PATH; the interop tests need Node.js 20+ and npm \
         (install them and make sure `{tool}` runs in a shell)"
    )]
    ToolMissing {
        /// The program that was not found (`node` or `npm`).
        tool: &'static str,
        /// The error from starting it.
        #[source]
        source: io::Error,
    },
    /// A program was started but failed, timed out or could not be waited for (see
    /// [`ChildError`], which quotes its stderr).
    #[error(transparent)]
    Child(#[from] ChildError),
    /// `npm ci` exited with an error.
    #[error(
        "`npm ci --no-audit --no-fund` failed in {dir} ({status}); npm said:\n{stderr}",
        dir = .dir.display()
    )]
    InstallFailed {
        /// The directory npm ran in (`tests/js`).
        dir: PathBuf,
        /// npm's exit status.
        status: ExitStatus,
        /// npm's standard error output.
        stderr: String,
    },
    /// A script printed something that is not UTF-8.
    #[error("`{command}` printed output that is not UTF-8")]
    OutputNotUtf8 {
        /// The command line.
        command: String,
        /// The decoding error.
        #[source]
        source: std::string::FromUtf8Error,
    },
    /// A generator script ended without writing one of its files.
    #[error("the generator scripts did not write {}", .path.display())]
    MissingOutput {
        /// The file that should exist.
        path: PathBuf,
    },
    /// A script's output is not what its contract says (e.g. not JSON).
    #[error("unexpected script output: {0}")]
    BadOutput(String),
    /// A file system operation failed.
    #[error("{action} {}", .path.display())]
    Io {
        /// What was being done, e.g. "could not create".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl NodeError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The npm project of the tests: `tests/js` (next to this crate's `Cargo.toml`).
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Makes sure `tests/js/node_modules` matches `tests/js/package-lock.json` and returns
/// the `tests/js` directory.
///
/// Runs `npm ci --no-audit --no-fund` there when `node_modules` is missing or older than
/// `package-lock.json` (or `package.json`). Calls are serialised inside the process (the
/// result is remembered in a `OnceLock`) and across processes (an exclusive lock on a file
/// in the system temporary directory), so concurrently running test binaries install once.
/// A failed install is not remembered: the next call tries again.
///
/// # Errors
/// [`NodeError::ToolMissing`] when npm is not installed, [`NodeError::InstallFailed`]
/// (with npm's stderr) when `npm ci` fails, [`NodeError::Io`] for file system errors.
pub fn ensure_npm_installed() -> Result<PathBuf, NodeError> {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    static IN_PROCESS: Mutex<()> = Mutex::new(());

    if let Some(dir) = INSTALLED.get() {
        return Ok(dir.clone());
    }
    // A panic while holding this guard leaves nothing half-done that the lock protects
    // (the state lives on disk and is re-checked), so a poisoned lock is still usable.
    let _in_process = IN_PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(dir) = INSTALLED.get() {
        return Ok(dir.clone());
    }

    let dir = js_dir();
    if install_is_stale(&dir)? {
        let lock_path = install_lock_path(&dir);
        let lock =
            File::create(&lock_path).map_err(NodeError::io("could not create", &lock_path))?;
        lock.lock()
            .map_err(NodeError::io("could not lock", &lock_path))?;
        // Another process may have installed while we waited for the lock.
        if install_is_stale(&dir)? {
            run_npm_ci(&dir)?;
        }
        // Dropping `lock` closes the file, which releases the lock.
        drop(lock);
    }
    Ok(INSTALLED.get_or_init(|| dir).clone())
}

/// Whether `node_modules` is missing or older than the npm manifest and lock file.
fn install_is_stale(dir: &Path) -> Result<bool, NodeError> {
    let stamp = dir.join("node_modules").join(INSTALL_STAMP);
    let installed_at = match fs::metadata(&stamp).and_then(|m| m.modified()) {
        Ok(time) => time,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => {
            return Err(NodeError::io(
                "could not read the modification time of",
                &stamp,
            )(e));
        }
    };
    for input in ["package-lock.json", "package.json"] {
        let path = dir.join(input);
        let changed_at = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(NodeError::io(
                "could not read the modification time of",
                &path,
            ))?;
        if changed_at > installed_at {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A lock file outside the source tree, one per checkout (keyed by the `tests/js` path).
fn install_lock_path(dir: &Path) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    dir.hash(&mut hasher);
    std::env::temp_dir().join(format!("jazz-req-npm-ci-{:016x}.lock", hasher.finish()))
}

fn run_npm_ci(dir: &Path) -> Result<(), NodeError> {
    let mut command = Command::new(npm_program());
    command
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir);
    let mut npm = spawn_tool("npm ci", "npm", command)?;
    npm.close_stdin();
    match npm.output_within(SCRIPT_TIMEOUT) {
        Ok(_) => {}
        Err(ChildError::Failed { status, stderr, .. }) => {
            return Err(NodeError::InstallFailed {
                dir: dir.to_path_buf(),
                status,
                stderr,
            });
        }
        Err(other) => return Err(other.into()),
    }
    let stamp = dir.join("node_modules").join(INSTALL_STAMP);
    fs::write(&stamp, b"npm ci succeeded\n").map_err(NodeError::io("could not write", &stamp))
}

/// Runs the vector generators (`generator/gen-vectors.mjs`, `gen-scenarios.mjs` and
/// `gen-meta.mjs`) of the real packages with `salt` into a fresh directory and returns that
/// directory, which then holds [`VECTOR_FILES`].
///
/// The directory is created under `$CARGO_TARGET_TMPDIR` when that variable is set at run
/// time, else under the system temporary directory. Integration tests, for which Cargo
/// sets `CARGO_TARGET_TMPDIR` at compile time only, can pass it with
/// [`regenerate_vectors_in`]. A non-zero salt gives fresh secrets and random JSON values;
/// each generator takes about half a second.
///
/// # Errors
/// Those of [`run_node_script`] when a generator fails; [`NodeError::MissingOutput`] when one of the files was not written;
/// [`NodeError::Io`] when the directory cannot be created.
pub fn regenerate_vectors(salt: u32) -> Result<PathBuf, NodeError> {
    let base = match std::env::var_os("CARGO_TARGET_TMPDIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir(),
    };
    regenerate_vectors_in(salt, &base)
}

/// Like [`regenerate_vectors`], with the fresh directory created under `base`
/// (e.g. `Path::new(env!("CARGO_TARGET_TMPDIR"))` in an integration test).
///
/// # Errors
/// As [`regenerate_vectors`].
pub fn regenerate_vectors_in(salt: u32, base: &Path) -> Result<PathBuf, NodeError> {
    let js = ensure_npm_installed()?;
    let out = fresh_dir(base, &format!("jazz-req-vectors-salt{salt}"))?;
    let salt = salt.to_string();
    for script in ["gen-vectors.mjs", "gen-scenarios.mjs", "gen-meta.mjs"] {
        let script = js.join("generator").join(script);
        let mut generator = spawn_node_script(&script, [out.as_os_str(), OsStr::new(&salt)])?;
        generator.close_stdin();
        generator.output_within(SCRIPT_TIMEOUT)?;
    }
    for file in VECTOR_FILES {
        let path = out.join(file);
        if !path.is_file() {
            return Err(NodeError::MissingOutput { path });
        }
    }
    Ok(out)
}

/// Creates a new, empty directory under `base` whose name starts with `prefix`.
fn fresh_dir(base: &Path, prefix: &str) -> Result<PathBuf, NodeError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    fs::create_dir_all(base).map_err(NodeError::io("could not create", base))?;
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{prefix}-{}-{n}-{nanos:09}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(NodeError::io("could not create", &dir)(e)),
        }
    }
}

/// Starts `node <script> <args…>` in `tests/js` (so the script resolves `cojson` and
/// `jazz-tools` from `tests/js/node_modules`; a relative `script` is relative to `tests/js`),
/// named after the script: for servers and workers that print a ready line
/// ([`ChildProcess::ready_line`]) as for scripts run to their end.
///
/// Calls [`ensure_npm_installed`] first.
///
/// # Errors
/// Those of [`ensure_npm_installed`]; [`NodeError::ToolMissing`] without `node`;
/// [`NodeError::Child`] when it cannot be started.
pub fn spawn_node_script<I, S>(script: &Path, args: I) -> Result<ChildProcess, NodeError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let js = ensure_npm_installed()?;
    let mut command = Command::new("node");
    command.arg(script).args(args).current_dir(&js);
    let name = script.file_name().map_or_else(
        || script.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    spawn_tool(&name, "node", command)
}

/// Runs `node <script>` in `tests/js` (see [`spawn_node_script`]), writes `stdin` to its
/// standard input and returns its standard output, killing it after [`SCRIPT_TIMEOUT`].
///
/// # Errors
/// As [`run_node_script_within`].
pub fn run_node_script(script: &Path, stdin: &str) -> Result<String, NodeError> {
    run_node_script_within(script, stdin, SCRIPT_TIMEOUT)
}

/// Like [`run_node_script`], killing the script after `limit`.
///
/// # Errors
/// Those of [`spawn_node_script`]; [`NodeError::Child`] (quoting the script's stderr) when it
/// exits unsuccessfully or runs longer than `limit`; [`NodeError::OutputNotUtf8`] when
/// stdout is not UTF-8.
pub fn run_node_script_within(
    script: &Path,
    stdin: &str,
    limit: Duration,
) -> Result<String, NodeError> {
    let mut node = spawn_node_script(script, std::iter::empty::<&OsStr>())?;
    node.feed_and_close(stdin.as_bytes().to_vec());
    let stdout = node.output_within(limit)?;
    String::from_utf8(stdout).map_err(|source| NodeError::OutputNotUtf8 {
        command: format!("node {}", script.display()),
        source,
    })
}

/// Starts `command` (which runs `tool`) as a [`ChildProcess`] called `name`; a `tool` that
/// is not installed is [`NodeError::ToolMissing`].
fn spawn_tool(name: &str, tool: &'static str, command: Command) -> Result<ChildProcess, NodeError> {
    ChildProcess::spawn(name, command).map_err(|error| match error {
        ChildError::Spawn { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            NodeError::ToolMissing { tool, source }
        }
        other => NodeError::Child(other),
    })
}

/// `npm` is a batch file on Windows, which `Command` only finds under its full name.
fn npm_program() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}
