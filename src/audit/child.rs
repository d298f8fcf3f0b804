//! A package manager run as a child process that the poll loop drives
//! without ever blocking on it.
//!
//! Invariants: both pipes are non-blocking, grown to [`PIPE_BYTES`] (as
//! far as the kernel lets), and read on every [`RunningChild::poll`], at
//! most [`READ_PER_POLL`] bytes per stream per call, so a child that writes
//! without pause cannot hold the loop; a poll that used a stream's whole
//! share, or saw the exit, leaves the child [`RunningChild::behind`], its
//! next poll due at once, not after the poll period, so a pipe filled
//! between two polls holds the writer a period at most once per
//! [`PIPE_BYTES`] (10 MB are 10 periods, not the 150 of a 64 KiB pipe).
//! The output is read to its end, both pipes closed, as a shell's `$(...)`
//! reads it, or, after the child's exit, until a descendant that still
//! holds the pipes (a daemon it started, a background job) has been
//! quiet for [`QUIET_AFTER_EXIT`]: output it prints after a shorter
//! pause is kept, and one that prints nothing does not hold the run to
//! its deadline; it is killed with the group. The deadline (`kill_at`)
//! bounds that: a descendant still writing then is [`Exit::HeldOpen`], as
//! what would still come is unknown. At
//! most [`OUTPUT_CAP`] bytes per stream are kept (the rest is read and
//! counted), and a child (or what it left writing after its exit) that
//! writes more than [`READ_CAP`] on a stream is killed like one that timed
//! out ([`Exit::TooMuchOutput`]): no package list is that long, and
//! reading on would cost the loop without end;
//! the child leads its own process group, and on timeout or [`RunningChild::kill`]
//! the whole group and the child itself (which may have left it) get
//! SIGKILL and the child is reaped; once an exited child's output is read,
//! what is left in its group (holding the pipes or not) gets SIGKILL before
//! the child is reaped (unreaped, its pid still names the group and
//! nothing else), so nothing it started outlives the step (what left the
//! group, [`crate::orphans`] kills); [`RunningChild::kill`] never waits
//! long for the reaping (what it leaves, [`crate::orphans`] reaps), so the
//! loop cannot hang on a child.

use crate::owned::{owned, text_of};
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
/// The size each pipe is grown to: a poll's share, the most an
/// unprivileged process may ask for by default (`pipe-max-size`).
pub const PIPE_BYTES: usize = READ_PER_POLL;
/// How long [`RunningChild::kill`] waits for the killed child's end: a
/// SIGKILLed process is usually gone within a millisecond.
const REAP_WAIT: Duration = Duration::from_millis(20);
/// How long a descendant that holds the pipes after the child's exit may
/// be quiet before the output is taken as whole (module docs): long
/// enough for a late line after a short pause, short enough that a
/// background process the command left costs the run little.
pub const QUIET_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What to run: an absolute program path and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Step {
    /// The command line as shown in logs (arguments quoted when needed).
    pub fn display(&self) -> String {
        let mut s = text_of(&self.program.display());
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
    /// Exited (`exited`: how), but a process it started still held its
    /// pipes open at the deadline, so what it printed is not known to be
    /// whole; its group was killed. `timeout` as for [`Exit::TimedOut`].
    HeldOpen {
        exited: String,
        timeout: Duration,
    },
    /// Could not be started (the error).
    SpawnFailed(String),
    /// Started, but waiting for its exit failed (the error, with its
    /// errno); what it printed until then is kept.
    WaitFailed(String),
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
            Exit::HeldOpen { exited, timeout } => format!(
                "{exited}, but a process it started still held its output open when the {} timeout ran out; its process group was killed",
                crate::config::format_duration(*timeout)
            ),
            Exit::SpawnFailed(e) => format!("could not start: {e}"),
            Exit::WaitFailed(e) => format!("could not wait for it: {e}"),
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

    /// Reads what is available now, up to `budget` bytes and not past
    /// [`READ_CAP`]; closes the pipe at EOF or on error. Whether it caught
    /// up: the pipe is closed or had nothing more now (not when the budget
    /// or the cap ran out first).
    fn drain(&mut self, buf: &mut [u8], mut budget: usize) -> bool {
        while let Some(pipe) = self.pipe.as_mut() {
            if budget == 0 || self.read > READ_CAP {
                return false;
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
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.pipe = None,
            }
        }
        true
    }
}

#[cfg(test)]
thread_local! {
    /// The most bytes one [`RunningChild::poll`] read from one stream.
    pub(crate) static MOST_READ_IN_ONE_POLL: std::cell::Cell<u64> =
        const { std::cell::Cell::new(0) };
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
    /// The child has exited (seen at a poll, left unreaped so its group
    /// can still be killed) and its pipes are being read to the end.
    exited: bool,
    /// Since when nothing was read, once the child has exited.
    quiet_since: Option<Instant>,
    /// The last poll used a stream's whole share, or saw the exit.
    behind: bool,
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
            Err(e) => return Err(Box::new(failed(step, text_of(&e)))),
        };
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let fds = [
            stdout.as_ref().map(AsRawFd::as_raw_fd),
            stderr.as_ref().map(AsRawFd::as_raw_fd),
        ];
        // Not grown (the user's pipes at their limit): read as fast, a
        // period lost per 64 KiB.
        fds.iter().flatten().for_each(|fd| {
            let _ = sys::grow_pipe(*fd, PIPE_BYTES);
        });
        let nonblocking = fds.into_iter().flatten().try_for_each(sys::set_nonblocking);
        let mut running = RunningChild {
            step,
            child,
            stdout: Capture::new(stdout),
            stderr: Capture::new(stderr),
            started_at: now,
            kill_at,
            timeout,
            exited: false,
            quiet_since: None,
            behind: false,
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

    /// The last [`RunningChild::poll`] read a whole share of a stream, so
    /// more is waiting (the writer may be held on a full pipe), or saw the
    /// exit: it wants to be called again at the next turn of the loop, not
    /// after a pause.
    pub fn behind(&self) -> bool {
        self.behind
    }

    /// Reads what is available, then checks for exit and timeout. Returns
    /// the finished run once the child has exited and its output was read
    /// to the end, or it was killed.
    pub fn poll(&mut self, now: Instant) -> Option<StepRun> {
        let mut buf = [0u8; 16 * 1024];
        let read_before = (self.stdout.read, self.stderr.read);
        self.behind = !self.read_streams(&mut buf, read_before);
        if !self.exited {
            match sys::has_exited(self.child.id()) {
                // Its last output, and the end of the pipes it held, may
                // have come after this poll's read: read them next turn.
                Ok(exited) => (self.exited, self.behind) = (exited, self.behind || exited),
                Err(e) => {
                    self.kill();
                    return Some(self.finish(Exit::WaitFailed(text_of(&e)), now));
                }
            }
        }
        // Read to the end: both pipes closed, by the child and whatever it
        // left holding them, or that quiet for QUIET_AFTER_EXIT after the
        // exit. Still written to at the deadline, it timed out.
        if self.exited {
            let read_now = (self.stdout.read, self.stderr.read) != read_before;
            if read_now || self.quiet_since.is_none() {
                self.quiet_since = Some(now);
            }
        }
        let quiet_long_enough = self
            .quiet_since
            .is_some_and(|since| now.saturating_duration_since(since) >= QUIET_AFTER_EXIT);
        let all_read =
            (self.stdout.pipe.is_none() && self.stderr.pipe.is_none()) || quiet_long_enough;
        let exit = if self.stdout.over_cap() || self.stderr.over_cap() {
            self.kill();
            Exit::TooMuchOutput
        } else if self.exited && all_read {
            self.reap_after_exit()
        } else if now >= self.kill_at {
            let exit = if self.exited {
                Exit::HeldOpen {
                    exited: self.reap_after_exit().describe(),
                    timeout: self.timeout,
                }
            } else {
                self.kill();
                Exit::TimedOut {
                    ran: self.kill_at.saturating_duration_since(self.started_at),
                    timeout: self.timeout,
                }
            };
            // What it wrote until it died, within this poll's share.
            self.read_streams(&mut buf, read_before);
            exit
        } else {
            return None;
        };
        Some(self.finish(exit, now))
    }

    /// Reads both streams, at most [`READ_PER_POLL`] per stream since
    /// `read_before` ([`Capture::read`] of each when this poll began).
    /// Whether both caught up ([`Capture::drain`]).
    fn read_streams(&mut self, buf: &mut [u8], read_before: (u64, u64)) -> bool {
        let (out_before, err_before) = read_before;
        let share = |read: u64, before: u64| READ_PER_POLL.saturating_sub((read - before) as usize);
        let out_caught_up = self.stdout.drain(buf, share(self.stdout.read, out_before));
        let err_caught_up = self.stderr.drain(buf, share(self.stderr.read, err_before));
        #[cfg(test)]
        MOST_READ_IN_ONE_POLL.with(|most| {
            let read = (self.stdout.read - out_before).max(self.stderr.read - err_before);
            most.set(most.get().max(read));
        });
        out_caught_up && err_caught_up
    }

    /// The exited child's status, once its output is all read: what it
    /// left in its process group (holding the pipes or not) is killed
    /// first, while the unreaped child still keeps the group's id from
    /// being reused.
    fn reap_after_exit(&mut self) -> Exit {
        let _ = sys::kill_process_group(self.child.id(), libc::SIGKILL);
        match self.child.try_wait() {
            Ok(Some(status)) => exit_of(status),
            // Not after waitid saw its exit; said as a failed wait would be.
            Ok(None) => Exit::WaitFailed(owned("its exit status is gone")),
            Err(e) => Exit::WaitFailed(text_of(&e)),
        }
    }

    fn finish(&mut self, exit: Exit, now: Instant) -> StepRun {
        StepRun {
            step: self.step.clone(),
            exit,
            stdout: std::mem::take(&mut self.stdout.kept),
            stderr: std::mem::take(&mut self.stderr.kept),
            stdout_dropped: self.stdout.dropped,
            stderr_dropped: self.stderr.dropped,
            duration: now.saturating_duration_since(self.started_at),
        }
    }

    /// SIGKILL to the child's whole process group and to the child itself
    /// (it may have left its group: `setpgid` into sysmon's own, while what
    /// it started stays in the old one), then reaps it. Never waits for
    /// more than [`REAP_WAIT`]: a child the kernel has not finished off by
    /// then (asleep in a driver) is left unreaped, a child of sysmon no job
    /// tracks, which [`crate::orphans`] reaps.
    pub fn kill(&mut self) {
        if self.exited {
            // Unreaped, so its pid still names its group and nothing else;
            // the call below reaps it at once and would skip the group.
            let _ = sys::kill_process_group(self.child.id(), libc::SIGKILL);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `sh -c SCRIPT`, run as a manager would be.
    fn spawn_sh(script: &str) -> RunningChild {
        let step = Step {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
        };
        let path = OsString::from("/usr/bin:/bin");
        match RunningChild::spawn(step, &path, Instant::now(), Duration::from_secs(60)) {
            Ok(child) => child,
            Err(run) => panic!("{}", run.exit.describe()),
        }
    }

    /// Polls until the run ends, as the loop would; at most `polls` times.
    fn poll_to_the_end(child: &mut RunningChild, polls: usize) -> (StepRun, usize) {
        for done in 1..=polls {
            if let Some(run) = child.poll(Instant::now()) {
                return (run, done);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("still running after {polls} polls");
    }

    /// The pid the script printed on stderr (`echo $! >&2`).
    fn pid_printed(run: &StepRun) -> u32 {
        let text = run.stderr_text();
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no pid on stderr: {text:?}"))
    }

    /// Gone: no longer in /proc, or a zombie (dead; its new parent reaps
    /// it). Waits up to 5 s, the failure mode being "never".
    fn is_gone(pid: u32) -> bool {
        let stat = format!("/proc/{pid}/stat");
        for _ in 0..500 {
            match std::fs::read_to_string(&stat) {
                Err(_) => return true,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z') =>
                {
                    return true;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        false
    }

    /// A manager that exits at once, leaving a descendant that enlarges the
    /// pipe to 1 MiB (F_SETPIPE_SZ, the most an unprivileged process may)
    /// and writes into it without pause; its pid on stderr.
    const FLOODING_DESCENDANT: &str = "perl -e 'fcntl(STDOUT, 1031, 1 << 20); \
        $b = \"x\" x 65536; while (1) { syswrite(STDOUT, $b) }' & echo $! >&2; exit 0";

    /// The manager exits at once; the descendant it left fills the 1 MiB
    /// pipe and writes on without pause. Every poll reads at most its
    /// share; the run ends at the read cap like a child that floods, and
    /// the descendant is killed with the group.
    #[test]
    fn a_descendant_writing_after_the_exit_is_read_a_share_a_poll() {
        let mut child = spawn_sh(FLOODING_DESCENDANT);
        // Let the manager exit and the descendant fill the pipe.
        std::thread::sleep(Duration::from_millis(300));
        MOST_READ_IN_ONE_POLL.with(|most| most.set(0));
        let (run, polls) = poll_to_the_end(&mut child, 10_000);
        let most = MOST_READ_IN_ONE_POLL.with(std::cell::Cell::get);
        assert!(
            most <= READ_PER_POLL as u64,
            "one poll read {most} bytes from a stream, more than {READ_PER_POLL}"
        );
        // The first poll reads a full pipe and only then sees the exit.
        assert!(polls > 1, "ended at the first poll");
        assert_eq!(run.exit, Exit::TooMuchOutput, "{}", run.exit.describe());
        assert_eq!(run.stdout.len(), OUTPUT_CAP);
        let descendant = pid_printed(&run);
        assert!(is_gone(descendant), "descendant {descendant} still runs");
    }

    /// The same descendant, still being read at the step's deadline: the
    /// pipes were held open then, and the descendant is killed with the group.
    #[test]
    fn a_descendant_still_writing_at_the_deadline_is_killed() {
        let mut child = spawn_sh(FLOODING_DESCENDANT);
        std::thread::sleep(Duration::from_millis(300));
        // The first poll reads the full 1 MiB pipe, its share, and sees the exit.
        if let Some(run) = child.poll(Instant::now()) {
            panic!("ended at the first poll: {}", run.exit.describe());
        }
        assert!(child.behind());
        // The descendant writes on, but on a loaded machine it may not have
        // run since the first poll emptied the pipe: a poll finding nothing
        // would see a quiet holder (QUIET_AFTER_EXIT) and end the run as the
        // manager's exit. Wait until it has written more.
        let stdout = child.stdout.pipe.as_ref().expect("stdout still open");
        assert!(
            readable_within(stdout.as_raw_fd(), 10_000),
            "the descendant wrote nothing more in 10 s"
        );
        let Some(run) = child.poll(child.kill_at()) else {
            panic!("still running at its deadline")
        };
        assert!(
            matches!(run.exit, Exit::HeldOpen { .. }),
            "{}",
            run.exit.describe()
        );
        let descendant = pid_printed(&run);
        assert!(is_gone(descendant), "descendant {descendant} still runs");
    }

    /// Whether `fd` has something to read within `ms` milliseconds.
    #[allow(unsafe_code)]
    fn readable_within(fd: std::os::fd::RawFd, ms: i32) -> bool {
        let mut entry = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes exactly the one pollfd we pass.
        unsafe { libc::poll(&mut entry, 1, ms) == 1 }
    }

    /// A `waitid` that fails once the child has started (here: someone
    /// else reaped it, ECHILD) is said as a failed wait with its errno, not
    /// as "could not start": the child ran. The audit's record and log show
    /// [`Exit::describe`].
    #[test]
    fn a_failed_wait_for_a_started_child_is_not_said_as_could_not_start() {
        let mut child = spawn_sh("exit 0");
        // Reaped behind the poll's back: its waitid then fails with ECHILD.
        child.child.wait().unwrap();
        let (run, _) = poll_to_the_end(&mut child, 10_000);
        let said = run.exit.describe();
        assert!(said.starts_with("could not wait for it: "), "{said}");
        assert!(said.contains("(os error 10)"), "no errno: {said}");
        assert!(!said.contains("could not start"), "{said}");
    }

    /// The manager exits normally, leaving a descendant that holds its
    /// pipes and writes nothing (a daemon it started, a background job):
    /// the pipes are read on, a poll period apart (not behind), until it
    /// has been quiet for QUIET_AFTER_EXIT, not to the deadline; then the
    /// run says the manager's own status, keeps what was printed, and the
    /// descendant does not outlive it.
    #[test]
    fn a_quiet_descendant_holding_the_pipes_ends_the_run_once_quiet_for_a_while() {
        let mut child = spawn_sh("sleep 600 & echo $! >&2; echo listed; exit 3");
        let mut exited_seen = None;
        for _ in 0..5_000 {
            let now = Instant::now();
            if let Some(run) = child.poll(now) {
                panic!("ended before it was quiet long: {}", run.exit.describe());
            }
            if child.exited {
                exited_seen = Some(now);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let exited_seen = exited_seen.expect("the manager's exit seen");
        // Its output read, nothing more comes: polled a period apart.
        let read_last = exited_seen + Duration::from_millis(50);
        if let Some(run) = child.poll(read_last) {
            panic!("ended before it was quiet long: {}", run.exit.describe());
        }
        assert!(!child.behind(), "read at once though nothing is waiting");
        // Quiet a little less than long enough: still read on.
        let almost = read_last + QUIET_AFTER_EXIT - Duration::from_millis(100);
        if let Some(run) = child.poll(almost) {
            panic!("ended before it was quiet long: {}", run.exit.describe());
        }
        let Some(run) = child.poll(read_last + QUIET_AFTER_EXIT) else {
            panic!("still running though quiet for {QUIET_AFTER_EXIT:?} after the exit")
        };
        assert!(read_last + QUIET_AFTER_EXIT < child.kill_at());
        assert_eq!(run.exit.describe(), "exit status 3");
        assert_eq!(run.stdout, b"listed\n");
        let descendant = pid_printed(&run);
        assert!(is_gone(descendant), "descendant {descendant} still runs");
    }
}
