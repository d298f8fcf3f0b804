//! A package manager run as a child process that the poll loop drives
//! without ever blocking on it.
//!
//! Invariants: both pipes are non-blocking and read on every
//! [`RunningChild::poll`], at most [`READ_PER_POLL`] bytes per stream per
//! call, so a child that writes without pause cannot hold the loop; at most
//! [`OUTPUT_CAP`] bytes per stream are kept (the rest is read and counted),
//! and a child that writes more than [`READ_CAP`] on a stream is killed
//! like one that timed out ([`Exit::TooMuchOutput`]): no package list is
//! that long, and reading on would cost the loop without end;
//! the child leads its own process group, and on timeout or [`RunningChild::kill`]
//! the whole group and the child itself (which may have left it) get
//! SIGKILL and the child is reaped, so nothing it started outlives the
//! audit; [`RunningChild::kill`] never waits long for the reaping (what it
//! leaves, [`crate::orphans`] reaps), so the loop cannot hang on a child.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::sys;

/// Bytes kept per stream; a manager that prints more is truncated (counted).
pub const OUTPUT_CAP: usize = 4 << 20;
/// Bytes read per stream before the child is killed.
pub const READ_CAP: u64 = 16 << 20;
/// Bytes read per stream in one [`RunningChild::poll`].
pub const READ_PER_POLL: usize = 1 << 20;
/// How long [`RunningChild::kill`] waits for the killed child's end: a
/// SIGKILLed process is usually gone within a millisecond.
const REAP_WAIT: Duration = Duration::from_millis(20);

/// What to run: an absolute program path and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Step {
    /// The command line as shown in logs (arguments quoted when needed).
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"\\$<>|&;*?".contains(c))
            {
                s.push('\'');
                s.push_str(&a.replace('\'', "'\\''"));
                s.push('\'');
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Killed by us at its deadline, after running `ran`; `timeout` is
    /// the time all of its job's steps were given (`update_timeout` for an
    /// audit), so a later step of a job runs less than `timeout`.
    TimedOut {
        ran: Duration,
        timeout: Duration,
    },
    /// Not started: its job's deadline had passed (why, and the step that
    /// used the time).
    NotStarted(String),
    /// Killed by us after it wrote more than [`READ_CAP`] bytes on a stream.
    TooMuchOutput,
    /// Could not be started (the error).
    SpawnFailed(String),
}

impl Exit {
    pub fn describe(&self) -> String {
        match self {
            Exit::Code(c) => format!("exit status {c}"),
            Exit::Signal(s) => format!("killed by signal {s}"),
            Exit::TimedOut { ran, timeout } if ran >= timeout => format!(
                "timed out after {}; its process group was killed",
                crate::config::format_duration(*timeout)
            ),
            Exit::TimedOut { ran, timeout } => format!(
                "timed out after {}: the {} timeout is for all the steps, and those before it took {}; its process group was killed",
                crate::config::format_duration(*ran),
                crate::config::format_duration(*timeout),
                crate::config::format_duration(timeout.saturating_sub(*ran))
            ),
            Exit::NotStarted(why) => format!("not started: {why}"),
            Exit::TooMuchOutput => format!(
                "printed more than {} MiB, more than any package list; its process group was killed",
                READ_CAP >> 20
            ),
            Exit::SpawnFailed(e) => format!("could not start: {e}"),
        }
    }
}

/// A finished step with everything it said.
#[derive(Clone, Debug)]
pub struct StepRun {
    pub step: Step,
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes read beyond [`OUTPUT_CAP`] and dropped, per stream.
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
    pub duration: Duration,
}

impl StepRun {
    pub fn code(&self) -> Option<i32> {
        match self.exit {
            Exit::Code(c) => Some(c),
            _ => None,
        }
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

struct Capture<R> {
    pipe: Option<R>,
    kept: Vec<u8>,
    dropped: u64,
    /// Every byte read so far (kept or dropped).
    read: u64,
}

impl<R: Read> Capture<R> {
    fn new(pipe: Option<R>) -> Self {
        Capture {
            pipe,
            kept: Vec::new(),
            dropped: 0,
            read: 0,
        }
    }

    fn over_cap(&self) -> bool {
        self.read > READ_CAP
    }

    /// After the child exited: what is left in the pipe, which may be more
    /// than one poll's share (a pipe can hold 1 MiB), up to [`READ_CAP`] in
    /// all (a descendant may still hold the pipe open and write).
    fn drain_after_exit(&mut self, buf: &mut [u8]) {
        loop {
            let before = self.read;
            self.drain(buf);
            if self.read - before < READ_PER_POLL as u64 {
                return;
            }
        }
    }

    /// Reads what is available now, up to [`READ_PER_POLL`] bytes and not
    /// past [`READ_CAP`]; closes the pipe at EOF or on error.
    fn drain(&mut self, buf: &mut [u8]) {
        let mut budget = READ_PER_POLL;
        while let Some(pipe) = self.pipe.as_mut() {
            if budget == 0 || self.read > READ_CAP {
                return;
            }
            let want = buf.len().min(budget);
            match pipe.read(&mut buf[..want]) {
                Ok(0) => self.pipe = None,
                Ok(n) => {
                    budget -= n;
                    self.read += n as u64;
                    let room = OUTPUT_CAP.saturating_sub(self.kept.len()).min(n);
                    self.kept.extend_from_slice(&buf[..room]);
                    self.dropped += (n - room) as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.pipe = None,
            }
        }
    }
}

pub struct RunningChild {
    step: Step,
    child: Child,
    stdout: Capture<ChildStdout>,
    stderr: Capture<ChildStderr>,
    started_at: Instant,
    kill_at: Instant,
    /// What the job's steps were given in all ([`Exit::TimedOut`]).
    timeout: Duration,
}

/// The environment every manager runs with: messages untranslated.
pub fn command_for(step: &Step, path: &OsString) -> Command {
    let mut cmd = Command::new(&step.program);
    cmd.args(&step.args)
        .env("PATH", path)
        .env("LC_ALL", "C")
        .env_remove("LANG")
        .env_remove("LANGUAGE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::sys::child_of_daemon(&mut cmd);
    cmd
}

impl RunningChild {
    /// Starts `step`; it is killed if still running at `now + timeout`.
    pub fn spawn(
        step: Step,
        path: &OsString,
        now: Instant,
        timeout: Duration,
    ) -> Result<RunningChild, Box<StepRun>> {
        RunningChild::spawn_until(step, path, now, now + timeout, timeout)
    }

    /// Starts `step`, one of a job's steps that were given `timeout` in
    /// all; it is killed if still running at `kill_at`, the job's deadline.
    pub fn spawn_until(
        step: Step,
        path: &OsString,
        now: Instant,
        kill_at: Instant,
        timeout: Duration,
    ) -> Result<RunningChild, Box<StepRun>> {
        let failed = |step: Step, e: String| StepRun {
            step,
            exit: Exit::SpawnFailed(e),
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            duration: Duration::ZERO,
        };
        let mut child = match command_for(&step, path).spawn() {
            Ok(c) => c,
            Err(e) => return Err(Box::new(failed(step, e.to_string()))),
        };
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let nonblocking = [
            stdout.as_ref().map(AsRawFd::as_raw_fd),
            stderr.as_ref().map(AsRawFd::as_raw_fd),
        ]
        .into_iter()
        .flatten()
        .try_for_each(sys::set_nonblocking);
        let mut running = RunningChild {
            step,
            child,
            stdout: Capture::new(stdout),
            stderr: Capture::new(stderr),
            started_at: now,
            kill_at,
            timeout,
        };
        if let Err(e) = nonblocking {
            // Never risk blocking the loop on a pipe: give up on this child.
            running.kill();
            let step = running.step.clone();
            return Err(Box::new(failed(
                step,
                format!("cannot make its pipes non-blocking: {e}"),
            )));
        }
        Ok(running)
    }

    pub fn kill_at(&self) -> Instant {
        self.kill_at
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads what is available, then checks for exit and timeout. Returns
    /// the finished run once the child has exited or was killed.
    pub fn poll(&mut self, now: Instant) -> Option<StepRun> {
        let mut buf = [0u8; 16 * 1024];
        self.stdout.drain(&mut buf);
        self.stderr.drain(&mut buf);
        let flooding = self.stdout.over_cap() || self.stderr.over_cap();
        let exit = match self.child.try_wait() {
            Ok(None) if flooding => {
                self.kill();
                Exit::TooMuchOutput
            }
            Ok(Some(status)) => {
                // What it wrote before exiting is still in the pipes.
                self.stdout.drain_after_exit(&mut buf);
                self.stderr.drain_after_exit(&mut buf);
                exit_of(status)
            }
            Ok(None) if now >= self.kill_at => {
                self.kill();
                self.stdout.drain(&mut buf);
                self.stderr.drain(&mut buf);
                Exit::TimedOut {
                    ran: self.kill_at.saturating_duration_since(self.started_at),
                    timeout: self.timeout,
                }
            }
            Ok(None) => return None,
            Err(e) => {
                self.kill();
                Exit::SpawnFailed(format!("cannot wait for it: {e}"))
            }
        };
        Some(StepRun {
            step: self.step.clone(),
            exit,
            stdout: std::mem::take(&mut self.stdout.kept),
            stderr: std::mem::take(&mut self.stderr.kept),
            stdout_dropped: self.stdout.dropped,
            stderr_dropped: self.stderr.dropped,
            duration: now.saturating_duration_since(self.started_at),
        })
    }

    /// SIGKILL to the child's whole process group and to the child itself
    /// (it may have left its group: `setpgid` into sysmon's own, while what
    /// it started stays in the old one), then reaps it. Never waits for
    /// more than [`REAP_WAIT`]: a child the kernel has not finished off by
    /// then (asleep in a driver) is left unreaped, a child of sysmon no job
    /// tracks, which [`crate::orphans`] reaps.
    pub fn kill(&mut self) {
        sys::kill_child_and_its_group(&mut self.child, REAP_WAIT);
    }
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(-1),
    }
}
