//! Child processes that die with their owner (the sync server, the workers), and the npm
//! project of `tests/js` that runs the Node ones.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::LoadError;

/// How much of a child's stderr an error quotes.
const STDERR_QUOTED: u64 = 4000;

/// The npm project of the interop tests, `tests/js` of this checkout: the real
/// `cojson`/`jazz-tools` 0.20.19 packages and the Node scripts that drive them.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("js")
}

/// Runs `npm ci --no-audit --no-fund` in `dir` when its `node_modules` has no `jazz-tools`
/// (the tests install it the same way; see `tests/src/node.rs`).
///
/// # Errors
/// [`LoadError::Io`] when npm cannot be started, [`LoadError::CommandFailed`] when it fails.
pub fn ensure_npm_installed(dir: &Path) -> Result<(), LoadError> {
    if dir
        .join("node_modules")
        .join("jazz-tools")
        .join("package.json")
        .is_file()
    {
        return Ok(());
    }
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let status = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .map_err(LoadError::io("start", npm))?;
    if status.success() {
        Ok(())
    } else {
        Err(LoadError::CommandFailed {
            command: format!("npm ci (in {})", dir.display()),
            status,
        })
    }
}

/// `node <script> <args…>` in `dir`, so that the script finds the packages installed there.
pub fn node_script(dir: &Path, script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("node");
    command.arg(script).args(args).current_dir(dir);
    command
}

/// A running child process: its stdin stays open (the Node scripts exit when it closes),
/// its stdout is read line by line, its stderr goes to a log file. Killed on drop.
pub struct Spawned {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: PathBuf,
}

impl Spawned {
    /// Starts `command` as `name`, its stderr going to `log` (created or truncated).
    ///
    /// # Errors
    /// [`LoadError::Io`] when the log cannot be created or the program cannot be started.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Result<Self, LoadError> {
        let stderr = File::create(log).map_err(LoadError::io("create", log))?;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(LoadError::io("start", command.get_program()))?;
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            // Reads to the end, so the child never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    // Nobody listening any more: keep draining.
                    let _ = tx.send(line);
                }
            });
        }
        Ok(Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            log: log.to_path_buf(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its stderr goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Writes `line` and a line break to its stdin.
    ///
    /// # Errors
    /// [`LoadError::Io`] when the process no longer reads it.
    pub fn write_line(&mut self, line: &str) -> Result<(), LoadError> {
        let name = self.name.clone();
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(self.not_ready("its stdin is closed".to_owned()));
        };
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(LoadError::io("write to", name))
    }

    /// The first line of its stdout that is a JSON object, waiting up to `limit`.
    ///
    /// # Errors
    /// [`LoadError::NotReady`] (quoting its stderr) when it ends or stays silent.
    pub fn ready_line(&mut self, limit: Duration) -> Result<Value, LoadError> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(value @ Value::Object(_)) = serde_json::from_str(&line) {
                        return Ok(value);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.not_ready(format!("no ready line within {limit:?}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map_or_else(
                        |e| format!("could not be waited for: {e}"),
                        |s| s.to_string(),
                    );
                    return Err(self.not_ready(format!("it ended ({status})")));
                }
            }
        }
    }

    fn not_ready(&self, reason: String) -> LoadError {
        LoadError::NotReady {
            name: self.name.clone(),
            reason,
            log: self.log.clone(),
            stderr: tail(&self.log),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // Either it is gone already or it goes now.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last [`STDERR_QUOTED`] bytes of `log`.
fn tail(log: &Path) -> String {
    let Ok(mut file) = File::open(log) else {
        return String::new();
    };
    let length = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(STDERR_QUOTED)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
