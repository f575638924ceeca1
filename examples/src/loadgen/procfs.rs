//! A process's (or thread's) CPU time and resident memory, read from `/proc` (Linux only:
//! elsewhere every figure is `None`).

use std::path::PathBuf;

/// The `/proc` stat file of a process, or of one thread of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatFile(PathBuf);

impl StatFile {
    /// The whole process `pid`.
    pub fn process(pid: u32) -> Self {
        Self(PathBuf::from(format!("/proc/{pid}/stat")))
    }

    /// Thread `tid` of process `pid` (`tid == pid`: its main thread).
    pub fn thread(pid: u32, tid: u32) -> Self {
        Self(PathBuf::from(format!("/proc/{pid}/task/{tid}/stat")))
    }

    /// This process.
    pub fn this_process() -> Self {
        Self(PathBuf::from("/proc/self/stat"))
    }

    /// `PID` or `PID/TID` (see [`StatFile::process`] and [`StatFile::thread`]).
    ///
    /// # Errors
    /// The text, when it is neither.
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = |n: &str| n.parse::<u32>().map_err(|e| format!("{n:?}: {e}"));
        match text.split_once('/') {
            Some((pid, tid)) => Ok(Self::thread(number(pid)?, number(tid)?)),
            None => Ok(Self::process(number(text)?)),
        }
    }

    /// The CPU time (user + system) so far, in seconds; `None` where `/proc` does not say.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(&self.0).ok()?;
        // After the command name in parentheses: utime is field 14, stime 15.
        let rest = stat.rsplit_once(')')?.1;
        let mut fields = rest.split_whitespace().skip(11);
        let utime: f64 = fields.next()?.parse().ok()?;
        let stime: f64 = fields.next()?.parse().ok()?;
        // The kernel's USER_HZ is 100 on every Linux this runs on.
        Some((utime + stime) / 100.0)
    }
}

/// The resident memory of process `pid` (`VmRSS`), in kB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The load averages over 1, 5 and 15 minutes (`/proc/loadavg`).
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}
