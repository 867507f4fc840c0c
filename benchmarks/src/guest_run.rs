//! Running one tender + unikernel: start-up, waiting for the guest's
//! "Ready", its result lines, exit status and the tender's peak RSS.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::BenchError;

/// How long the harness waits for what must come (a guest's Ready, its exit,
/// its last lines) beyond the measurement itself: only a guard against a hang,
/// generous so that a loaded machine (the test suite's smoke run) cannot
/// make a run fail. Figures never depend on it.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// A tender running a unikernel.
pub struct GuestRun {
    child: Child,
    lines: Receiver<String>,
    stdout: Vec<String>,
    /// When it was started (monotonic).
    pub started: Instant,
    /// When it was started (wall clock, ns since the epoch).
    pub started_wall_ns: u64,
    what: String,
}

/// What a finished run left.
pub struct Finished {
    /// Its stdout, line by line.
    pub stdout: Vec<String>,
    /// Time from start to exit.
    pub elapsed: Duration,
    /// The tender's peak resident set, KiB.
    pub max_rss_kib: u64,
}

impl Finished {
    /// The numbers of the guest's `result NAME N ns T` line.
    pub fn result(&self, name: &str) -> Result<(u64, u64), BenchError> {
        let prefix = format!("result {name} ");
        let line = self
            .stdout
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .ok_or_else(|| BenchError::Run(format!("no '{prefix}' line: {:?}", self.stdout)))?;
        let mut words = line.split_whitespace();
        let count = words.next().and_then(|w| w.parse().ok());
        let ns = words.nth(1).and_then(|w| w.parse().ok());
        match (count, ns) {
            (Some(c), Some(n)) => Ok((c, n)),
            _ => Err(BenchError::Run(format!("bad result line: {line}"))),
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl GuestRun {
    /// Starts `tender` with `args` (in the harness's namespace).
    pub fn start(tender: &str, args: &[String]) -> Result<Self, BenchError> {
        let what = format!("{tender} {}", args.join(" "));
        let started_wall_ns = wall_ns();
        let started = Instant::now();
        let mut child = Command::new(tender)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| BenchError::Setup(format!("{tender}: {e}")))?;
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            lines,
            stdout: Vec::new(),
            started,
            started_wall_ns,
            what,
        })
    }

    /// The tender's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the guest printed "Ready".
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.starts_with("Ready");
                    self.stdout.push(line);
                    if ready {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    self.kill();
                    return Err(BenchError::Run(format!(
                        "{}: no Ready: {:?}",
                        self.what, self.stdout
                    )));
                }
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the exit (at most `limit`); it must be status 0.
    pub fn finish(mut self, limit: Duration) -> Result<Finished, BenchError> {
        let pid = self.child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: rusage is plain data; all-zero is valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let exited = loop {
            // SAFETY: wait4 on our own child with valid out-pointers.
            let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if rc == pid {
                break Instant::now();
            }
            if self.started.elapsed() > limit {
                self.kill();
                return Err(BenchError::Run(format!("{}: timed out", self.what)));
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        // The reader thread ends at the pipe's end, which normally comes with
        // the exit; the timeout only guards against a pipe left open.
        while let Ok(line) = self.lines.recv_timeout(HANG_GUARD) {
            self.stdout.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(BenchError::Run(format!(
                "{}: exit status {status:#x}: {stderr}{:?}",
                self.what, self.stdout
            )));
        }
        Ok(Finished {
            stdout: std::mem::take(&mut self.stdout),
            elapsed: exited - self.started,
            max_rss_kib: usage.ru_maxrss as u64,
        })
    }
}
