//! The one way the tests run a child process (a Node script, a sync server, a worker
//! example): spawned with piped stdin, stdout and stderr; stderr kept (its last
//! [`STDERR_KEPT`] bytes) by a collector thread, for every error to quote; stdout read by
//! another thread, either for its first line (a server's JSON "ready" line, the rest then
//! drained so the child never blocks on a full pipe) or to its end (a script's output);
//! killed and reaped on drop, its stderr printed when a test is failing.
//!
//! ```no_run
//! # use std::process::Command;
//! # use std::time::Duration;
//! # use jazz_req_tests::child_process::ChildProcess;
//! # fn demo() -> Result<(), jazz_req_tests::child_process::ChildError> {
//! let mut server = ChildProcess::spawn("sync-server.mjs", Command::new("node"))?;
//! let ready = server.ready_line(Duration::from_secs(30))?; // {"port": N}
//! # Ok(()) }
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How many bytes of a child's stderr are kept (the last ones) for error messages.
pub const STDERR_KEPT: usize = 64 * 1024;

/// How much of that a failing test prints when it drops the child.
const STDERR_PRINTED: usize = 8 * 1024;

/// How long to wait, once the child exited, for the end of its stdout and stderr (a
/// grandchild may hold the pipes open).
const PIPES_DRAIN: Duration = Duration::from_secs(10);

/// How long [`ChildProcess::write_line`] waits for a child whose stdin broke to exit, so
/// that its stderr says why.
const EXIT_AFTER_BROKEN_PIPE: Duration = Duration::from_secs(2);

/// Everything that can go wrong while running a child process. Every variant that follows
/// from what the child did quotes the end of its stderr.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The program could not be started.
    #[error("could not start `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing to its stdin failed (it exited, or closed stdin).
    #[error("could not write to the stdin of {name} ({status:?}); its stderr:\n{stderr}")]
    Stdin {
        /// The child's name.
        name: String,
        /// Its exit status, if it exited.
        status: Option<ExitStatus>,
        /// The end of its stderr.
        stderr: String,
        /// The write error.
        #[source]
        source: io::Error,
    },
    /// It printed no line within the time allowed.
    #[error("{name} printed no line within {waited:?}; its stderr:\n{stderr}")]
    Silent {
        /// The child's name.
        name: String,
        /// How long we waited.
        waited: Duration,
        /// The end of its stderr.
        stderr: String,
    },
    /// It closed stdout (it exited, most likely) before printing its first line.
    #[error("{name} exited ({status:?}) before printing its line; its stderr:\n{stderr}")]
    NoLine {
        /// The child's name.
        name: String,
        /// Its exit status, if it exited.
        status: Option<ExitStatus>,
        /// The end of its stderr.
        stderr: String,
    },
    /// Its first line is not JSON.
    #[error("{name} printed {line:?}, not a JSON line; its stderr:\n{stderr}")]
    NotJson {
        /// The child's name.
        name: String,
        /// The line (cut at 2,000 characters).
        line: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// It ran longer than allowed, and was killed.
    #[error("{name} did not finish within {waited:?}; its stderr:\n{stderr}")]
    Timeout {
        /// The child's name.
        name: String,
        /// How long it ran.
        waited: Duration,
        /// The end of its stderr.
        stderr: String,
    },
    /// It exited unsuccessfully.
    #[error("{name} failed ({status}); its stderr:\n{stderr}")]
    Failed {
        /// The child's name.
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its stderr.
        stderr: String,
    },
    /// Waiting for it, killing it or signalling it failed.
    #[error("could not {action} {name}")]
    Control {
        /// The child's name.
        name: String,
        /// What was being done (`wait for`, `kill`, `send SIGTERM to`).
        action: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It still ran after SIGTERM and the time allowed.
    #[error("{name} still runs {waited:?} after SIGTERM; its stderr:\n{stderr}")]
    NoExit {
        /// The child's name.
        name: String,
        /// How long we waited.
        waited: Duration,
        /// The end of its stderr.
        stderr: String,
    },
}

impl ChildError {
    /// Whether this is a [`ChildError::Spawn`] because the program does not exist.
    pub fn is_program_missing(&self) -> bool {
        matches!(self, Self::Spawn { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// A running child process; killed and reaped on drop.
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: Child,
    /// Open until [`ChildProcess::close_stdin`] or drop (some children exit when it closes).
    stdin: Option<ChildStdin>,
    /// Its stdout, line by line (each with its `\n`), until dropped: then the reader thread
    /// reads on and discards. (In a mutex only to make the process `Sync`; reached through
    /// `&mut self`, never locked.)
    stdout: Mutex<Option<Receiver<Vec<u8>>>>,
    stderr: Arc<Mutex<String>>,
    /// Disconnected once the stderr thread reached the end of the pipe (a mutex as above).
    stderr_closed: Mutex<Receiver<()>>,
    /// Set once it was reaped.
    status: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `command` with stdin, stdout and stderr piped (whatever the command said),
    /// under `name` (what errors and messages call it).
    ///
    /// # Errors
    /// [`ChildError::Spawn`] ([`ChildError::is_program_missing`] tells a missing program).
    pub fn spawn(name: impl Into<String>, mut command: Command) -> Result<Self, ChildError> {
        let name = name.into();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ChildError::Spawn {
                program: command.get_program().to_string_lossy().into_owned(),
                source,
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let (stderr_done, stderr_closed) = mpsc::channel::<()>();
        if let Some(pipe) = child.stderr.take() {
            let kept = stderr.clone();
            std::thread::spawn(move || {
                keep_tail(pipe, &kept);
                drop(stderr_done);
            });
        }
        let (lines, stdout) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            std::thread::spawn(move || read_lines(pipe, &lines));
        }
        Ok(Self {
            name,
            stdin: child.stdin.take(),
            child,
            stdout: Mutex::new(Some(stdout)),
            stderr,
            stderr_closed: Mutex::new(stderr_closed),
            status: None,
        })
    }

    /// What errors and messages call it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of what it wrote on stderr so far (the last [`STDERR_KEPT`] bytes).
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Writes `line` and a newline to its stdin and flushes; stdin stays open.
    ///
    /// # Errors
    /// [`ChildError::Stdin`] (after giving the child a moment to exit, so that its status
    /// and stderr say why), also when stdin was closed already.
    pub fn write_line(&mut self, line: &str) -> Result<(), ChildError> {
        let written = match self.stdin.as_mut() {
            Some(pipe) => writeln!(pipe, "{line}").and_then(|()| pipe.flush()),
            None => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "stdin is closed already",
            )),
        };
        written.map_err(|source| {
            let status = self
                .wait_until(Instant::now() + EXIT_AFTER_BROKEN_PIPE)
                .ok();
            ChildError::Stdin {
                name: self.name.clone(),
                status: status.flatten(),
                stderr: self.stderr_text(),
                source,
            }
        })
    }

    /// Writes `input` to its stdin from another thread (so that a child filling its stdout
    /// cannot deadlock us), then closes stdin. A child that exits without reading it all
    /// breaks the pipe; its exit status and stderr then say more than the write error.
    pub fn feed_and_close(&mut self, input: Vec<u8>) {
        if let Some(mut pipe) = self.stdin.take() {
            std::thread::spawn(move || pipe.write_all(&input));
        }
    }

    /// Closes its stdin (a child that exits when stdin closes then exits).
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Waits up to `limit` for its first stdout line and parses it as JSON; the rest of its
    /// stdout is read and dropped from then on.
    ///
    /// # Errors
    /// [`ChildError::Silent`], [`ChildError::NoLine`], [`ChildError::NotJson`]; also when
    /// called a second time ([`ChildError::NoLine`]).
    pub fn ready_line(&mut self, limit: Duration) -> Result<Value, ChildError> {
        let lines = self.take_stdout();
        self.json_line_from(lines.as_ref(), limit)
    }

    /// Waits up to `limit` for its next stdout line and parses it as JSON, keeping the rest
    /// of stdout for the next call: for a child that answers each command written with
    /// [`ChildProcess::write_line`] with one JSON line. (Use it instead of
    /// [`ChildProcess::ready_line`], which drops what follows the first line.)
    ///
    /// # Errors
    /// As [`ChildProcess::ready_line`].
    pub fn next_line(&mut self, limit: Duration) -> Result<Value, ChildError> {
        let lines = self.take_stdout();
        let line = self.json_line_from(lines.as_ref(), limit);
        *self
            .stdout
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = lines;
        line
    }

    /// The next line of `lines` (within `limit`) as JSON.
    fn json_line_from(
        &mut self,
        lines: Option<&Receiver<Vec<u8>>>,
        limit: Duration,
    ) -> Result<Value, ChildError> {
        let received = match lines {
            Some(lines) => lines.recv_timeout(limit),
            None => Err(RecvTimeoutError::Disconnected),
        };
        let line = match received {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                return Err(ChildError::Silent {
                    name: self.name.clone(),
                    waited: limit,
                    stderr: self.stderr_text(),
                });
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.wait_until(Instant::now() + EXIT_AFTER_BROKEN_PIPE);
                self.wait_for_stderr(Instant::now() + EXIT_AFTER_BROKEN_PIPE);
                return Err(ChildError::NoLine {
                    name: self.name.clone(),
                    status: status.ok().flatten(),
                    stderr: self.stderr_text(),
                });
            }
        };
        let text = String::from_utf8_lossy(&line);
        serde_json::from_str(text.trim_end()).map_err(|_| ChildError::NotJson {
            name: self.name.clone(),
            line: text.chars().take(2000).collect(),
            stderr: self.stderr_text(),
        })
    }

    /// Waits up to `limit` for it to exit and returns all it printed on stdout; kills it
    /// when the time is up. Use it once, without [`ChildProcess::ready_line`].
    ///
    /// # Errors
    /// [`ChildError::Timeout`]; [`ChildError::Failed`] on an unsuccessful exit;
    /// [`ChildError::Control`] when it cannot be waited for.
    pub fn output_within(&mut self, limit: Duration) -> Result<Vec<u8>, ChildError> {
        let deadline = Instant::now() + limit;
        let mut stdout = Vec::new();
        if let Some(lines) = self.take_stdout() {
            loop {
                match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(line) => stdout.extend_from_slice(&line),
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => return Err(self.timed_out(limit)),
                }
            }
        }
        let Some(status) = self.wait_until(deadline)? else {
            return Err(self.timed_out(limit));
        };
        self.wait_for_stderr(Instant::now() + PIPES_DRAIN);
        if !status.success() {
            return Err(ChildError::Failed {
                name: self.name.clone(),
                status,
                stderr: self.stderr_text(),
            });
        }
        Ok(stdout)
    }

    /// SIGKILL (what [`Child::kill`] sends on unix), then reaps it.
    ///
    /// # Errors
    /// [`ChildError::Control`].
    pub fn kill(&mut self) -> Result<ExitStatus, ChildError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        self.child
            .kill()
            .map_err(|source| self.control_error("kill", source))?;
        let status = self
            .child
            .wait()
            .map_err(|source| self.control_error("wait for", source))?;
        self.status = Some(status);
        Ok(status)
    }

    /// SIGTERM (through `kill -TERM PID`), then waits up to `limit` for it to exit.
    ///
    /// # Errors
    /// [`ChildError::Control`] when the signal cannot be sent; [`ChildError::NoExit`].
    pub fn terminate(&mut self, limit: Duration) -> Result<ExitStatus, ChildError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .stdin(Stdio::null())
            .status()
            .and_then(|status| {
                if status.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "`kill -TERM` exited with {status}"
                    )))
                }
            });
        sent.map_err(|source| self.control_error("send SIGTERM to", source))?;
        match self.wait_until(Instant::now() + limit)? {
            Some(status) => Ok(status),
            None => Err(ChildError::NoExit {
                name: self.name.clone(),
                waited: limit,
                stderr: self.stderr_text(),
            }),
        }
    }

    /// Its exit status once it exited, waiting until `deadline` at the most.
    fn wait_until(&mut self, deadline: Instant) -> Result<Option<ExitStatus>, ChildError> {
        loop {
            if self.status.is_some() {
                return Ok(self.status);
            }
            self.status = self
                .child
                .try_wait()
                .map_err(|source| self.control_error("wait for", source))?;
            if self.status.is_none() {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Its stdout's lines, which only the first caller gets.
    fn take_stdout(&mut self) -> Option<Receiver<Vec<u8>>> {
        self.stdout
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Waits (until `deadline` at the most) until the stderr thread read the pipe's end.
    fn wait_for_stderr(&mut self, deadline: Instant) {
        let closed = self
            .stderr_closed
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        // Only ever disconnected (the thread ended) or timed out: both mean stop waiting.
        let _ = closed.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }

    fn timed_out(&mut self, limit: Duration) -> ChildError {
        // Gone already is fine: it is killed either way.
        let _ = self.kill();
        self.wait_for_stderr(Instant::now() + EXIT_AFTER_BROKEN_PIPE);
        ChildError::Timeout {
            name: self.name.clone(),
            waited: limit,
            stderr: self.stderr_text(),
        }
    }

    fn control_error(&self, action: &'static str, source: io::Error) -> ChildError {
        ChildError::Control {
            name: self.name.clone(),
            action,
            source,
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.close_stdin();
        // An error means it is gone already: nothing is left to clean up.
        let _ = self.kill();
        if std::thread::panicking() {
            self.wait_for_stderr(Instant::now() + Duration::from_millis(200));
            let text = self.stderr_text();
            let mut cut = text.len().saturating_sub(STDERR_PRINTED);
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            eprintln!(
                "{} (pid {}) stderr, its end:\n{}",
                self.name,
                self.child.id(),
                &text[cut..]
            );
        }
    }
}

/// Sends `pipe` line by line (each with its `\n`) to `lines` until the receiver is gone,
/// then reads on to the end, so that the child never blocks on a full pipe.
fn read_lines(pipe: impl Read, lines: &mpsc::Sender<Vec<u8>>) {
    let mut reader = BufReader::new(pipe);
    let mut wanted = true;
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if wanted => wanted = lines.send(line).is_ok(),
            Ok(_) => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn the_ready_line_is_json_and_the_rest_of_stdout_is_drained() -> Result<(), ChildError> {
        let mut child = ChildProcess::spawn(
            "ready",
            sh(r#"echo '{"port": 7}'; yes | head -c 1000000; exec sleep 30"#),
        )?;
        assert_eq!(child.ready_line(Duration::from_secs(10))?["port"], 7);
        assert!(child.terminate(Duration::from_secs(10))?.code().is_none());
        Ok(())
    }

    /// What [`ChildProcess::ready_line`] says of a child running `script`.
    fn ready_line_error(script: &str, limit: Duration) -> Option<ChildError> {
        let mut child = ChildProcess::spawn("child", sh(script)).ok()?;
        child.ready_line(limit).err()
    }

    #[test]
    fn no_json_line_is_an_error_that_quotes_stderr() {
        let exited = ready_line_error("echo 'no config' >&2; exit 3", Duration::from_secs(10));
        assert!(
            matches!(&exited, Some(ChildError::NoLine { status: Some(s), stderr, .. })
                if s.code() == Some(3) && stderr.contains("no config")),
            "{exited:?}"
        );
        let silent = ready_line_error(
            "echo starting >&2; exec sleep 30",
            Duration::from_millis(300),
        );
        assert!(
            matches!(&silent, Some(ChildError::Silent { stderr, .. }) if stderr.contains("starting")),
            "{silent:?}"
        );
        let chatty = ready_line_error("echo hello; exec sleep 30", Duration::from_secs(10));
        assert!(
            matches!(&chatty, Some(ChildError::NotJson { line, .. }) if line.trim() == "hello"),
            "{chatty:?}"
        );
    }

    #[test]
    fn output_within_feeds_stdin_and_reports_failures_and_timeouts() -> Result<(), ChildError> {
        let mut cat = ChildProcess::spawn("cat", Command::new("cat"))?;
        cat.feed_and_close(b"one\ntwo".to_vec());
        assert_eq!(cat.output_within(Duration::from_secs(10))?, b"one\ntwo");

        let mut failing = ChildProcess::spawn("failing", sh("echo out; echo why >&2; exit 2"))?;
        let error = failing.output_within(Duration::from_secs(10));
        assert!(
            matches!(&error, Err(ChildError::Failed { status, stderr, .. })
                if status.code() == Some(2) && stderr == "why\n"),
            "{error:?}"
        );

        let mut slow = ChildProcess::spawn("slow", sh("exec sleep 30"))?;
        let error = slow.output_within(Duration::from_millis(300));
        assert!(
            matches!(error, Err(ChildError::Timeout { .. })),
            "{error:?}"
        );
        Ok(())
    }

    #[test]
    fn a_missing_program_is_told_apart() {
        let error = ChildProcess::spawn("nothing", Command::new("/nonexistent/program"));
        assert!(
            matches!(&error, Err(e) if e.is_program_missing()),
            "{error:?}"
        );
    }

    #[test]
    fn sigterm_that_is_ignored_is_no_exit() -> Result<(), ChildError> {
        let mut stubborn =
            ChildProcess::spawn("stubborn", sh(r#"trap '' TERM; echo '{}'; exec sleep 30"#))?;
        stubborn.ready_line(Duration::from_secs(10))?;
        let error = stubborn.terminate(Duration::from_millis(300));
        assert!(matches!(error, Err(ChildError::NoExit { .. })), "{error:?}");
        // Killed on drop.
        Ok(())
    }
}
