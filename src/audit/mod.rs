//! The update audit: which packages have updates pending, found by running
//! the system's package manager as a child process that the poll loop
//! drives without blocking, and recorded in a permanent log.
//!
//! The layers: one pure parser per manager output ([`apt`], [`pacman`],
//! [`apk`], [`xbps`], [`dnf`], [`command`]) into a [`model::Parsed`];
//! [`managers`] picks the manager and decides, from the steps run so far,
//! what to run next or what the result is; [`child`] runs one step with
//! non-blocking pipes and a timeout; [`host`] reads list age, reboot
//! flags and apt's held packages and origins, [`kernel`] compares the
//! running kernel with the installed ones; [`restart`] finds the processes
//! still mapping deleted programs and libraries, scanned after each audit
//! (on a short-lived thread in the daemon: an audit completes when its scan
//! is in); [`logfile`] writes `updates_YYYYmmdd_HHMMSS.log` (on a short-lived
//! thread in the daemon, see `record`); [`quote`]
//! escapes and bounds whatever of a child's output is shown. This module
//! schedules it all: at the first poll, on retries, and every `update_every`;
//! [`audit_once`] runs one audit in the foreground for `sysmon audit`, whose
//! printing and exit status are in [`crate::cli::audit`].
//!
//! Invariants: sysmon never changes the system (no install, no upgrade;
//! package lists are refreshed only with `update_refresh = on`); `poll`
//! never blocks (it reads what the pipes hold and checks for exit, and a
//! large output is parsed on a short-lived thread, see `Job::decide`); what
//! is kept is bounded ([`child`] caps what is read, [`model`] what a parse
//! keeps, and between audits only what /data.json shows is held);
//! `update_timeout` is for the whole audit (a refresh of its own is
//! given [`REFRESH_SHARE`] of it): the child running when it runs out is
//! killed with its whole process group and reaped, and no step is started
//! after it,
//! and whatever it started that left the group or outlived it is killed by
//! [`crate::orphans`] when the step ends;
//! when idle, `poll` does no work and allocates nothing.
//!
//! Testability: [`AuditEnv`] holds the root directory (`/` in production)
//! under which `/var/lib/apt/lists`, `/run/reboot-required` etc. are read,
//! the PATH used to find and run the managers, and the retry delays; tests
//! of the library build an [`AuditService`] with their own.

pub mod apk;
pub mod apt;
pub mod child;
pub mod command;
pub mod dnf;
pub mod host;
pub mod kernel;
pub mod logfile;
pub mod managers;
pub mod model;
pub mod pacman;
pub mod quote;
pub mod restart;
pub mod xbps;

use crate::owned::{owned, text_of};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use self::child::{RunningChild, StepRun};
use self::host::Reboot;
use self::managers::{Choice, Manager, Next, Outcome};
use self::model::{Package, Parsed};
use crate::config::{Config, UpdateManager};
use crate::float_text::Fixed;
use crate::{fsutil, log, sys};

/// Packages listed in /data.json; the count and the log have them all.
pub const PACKAGES_CAP: usize = 200;
/// Unparsed lines and notes the daemon keeps after an audit (the log has more).
pub const UNPARSED_SHOWN: usize = 20;
/// Waits after failures that look like no network (boot: the network may
/// come up late): about 15 minutes in all before the audit is recorded failed.
pub const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(240),
    Duration::from_secs(480),
];
/// How often a running child's pipes are read.
pub const POLL_PERIOD: Duration = Duration::from_millis(50);
/// Output parsed on the loop itself; more goes to a parser thread.
pub const INLINE_PARSE_BYTES: usize = 64 * 1024;
/// How often a parser thread is checked for its result.
const PARSE_CHECK_PERIOD: Duration = Duration::from_millis(5);

/// How long [`AuditService::abandon`] waits for a log being written.
const RECORDING_WAIT: Duration = Duration::from_secs(2);

/// How often the restart scan's thread is checked for its result.
const RESTART_SCAN_CHECK_PERIOD: Duration = Duration::from_millis(20);
/// The stack of the audit's threads (the parse, the log, the restart
/// scan): std's default of 2 MiB, given explicitly so that each spawn does
/// not inline std's read of `RUST_MIN_STACK` (some 340 bytes of code).
const THREAD_STACK_BYTES: usize = 2 * 1024 * 1024;

fn log_restart_scan(scan: &restart::Scan) {
    let cost = format!(
        "{} processes scanned in {} ms, {} us each{}",
        scan.scanned,
        Fixed(scan.elapsed.as_secs_f64() * 1000.0, 1),
        scan.elapsed.as_micros() as u64 / scan.scanned.max(1),
        if scan.unreadable > 0 {
            format!(", {} unreadable (permission denied)", scan.unreadable)
        } else {
            String::new()
        }
    );
    if scan.processes == 0 {
        log::info(format_args!(
            "audit: no process maps a deleted program or library ({cost})"
        ));
        return;
    }
    let names: Vec<String> = scan
        .groups
        .iter()
        .map(|g| {
            let name = g.service.as_deref().unwrap_or(&g.command);
            let pids: Vec<String> = g.pids.iter().map(|p| text_of(p)).collect();
            format!("{name} (pid {})", pids.join(" "))
        })
        .collect();
    log::warn(format_args!(
        "audit: {} processes need a restart (they map deleted programs or libraries): {}; {cost}",
        scan.processes,
        names.join(", ")
    ));
}

/// Why there is no audit, when no manager was found.
const UNSUPPORTED: &str =
    "no supported package manager found (looked for apt-get, pacman, apk, xbps-install and dnf)";

/// What the audit is doing, or what its last answer was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdatesState {
    /// `update_manager = none`.
    Disabled,
    /// No supported package manager found.
    Unsupported,
    /// Not run yet, or waiting to retry a failure that looked like no network.
    Pending,
    Running,
    Ok,
    /// The answer may be out of date (lists missing or old, refresh
    /// failed); with the lists never downloaded the count is unknown.
    Stale,
    Failed,
}

impl UpdatesState {
    /// The name /data.json shows.
    pub fn name(self) -> &'static str {
        match self {
            UpdatesState::Disabled => "disabled",
            UpdatesState::Unsupported => "unsupported",
            UpdatesState::Pending => "pending",
            UpdatesState::Running => "running",
            UpdatesState::Ok => "ok",
            UpdatesState::Stale => "stale",
            UpdatesState::Failed => "failed",
        }
    }
}

/// The audit's state and figures at one moment: `Copy`, built without
/// allocating. The texts and lists stay in the service:
/// [`AuditService::error`], [`AuditService::packages`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdatesSnapshot {
    pub state: UpdatesState,
    /// The manager used (`None`: disabled or unsupported).
    pub manager: Option<&'static str>,
    /// Unix time of the last published answer.
    pub checked_at: Option<u64>,
    /// Updates pending; `None` before an answer, after a failure, or when
    /// the lists were never downloaded (unknown, not 0).
    pub count: Option<u64>,
    pub security_count: Option<u64>,
    /// More packages pending than /data.json lists.
    pub truncated: bool,
    /// The last answer may be out of date.
    pub stale: bool,
    /// There is an [`AuditService::error`]: a failure, a retry pending, a
    /// stale answer, or no manager. While it is set the counts are not
    /// trusted as a success.
    pub has_error: bool,
    pub reboot_required: Option<bool>,
    pub lists_age_s: Option<u64>,
    /// Processes mapping deleted programs or libraries ([`restart`]);
    /// `None` until a scan has finished.
    pub restart_processes: Option<u64>,
}

impl UpdatesSnapshot {
    /// `state` with nothing known yet: no manager, no answer, no error.
    pub fn without_answer(state: UpdatesState) -> UpdatesSnapshot {
        UpdatesSnapshot {
            state,
            manager: None,
            checked_at: None,
            count: None,
            security_count: None,
            truncated: false,
            stale: false,
            has_error: false,
            reboot_required: None,
            lists_age_s: None,
            restart_processes: None,
        }
    }
}

/// Where the audit looks and how it retries; see the module docs.
#[derive(Clone, Debug)]
pub struct AuditEnv {
    /// Prefix for every system file read (`/` in production).
    pub root: PathBuf,
    /// The search path for the managers, also given to them as `PATH`.
    pub path: OsString,
    pub retry_delays: Vec<Duration>,
    pub poll_period: Duration,
}

impl AuditEnv {
    pub fn system() -> AuditEnv {
        AuditEnv {
            root: PathBuf::from(owned("/")),
            path: managers::default_path(),
            retry_delays: RETRY_DELAYS.to_vec(),
            poll_period: POLL_PERIOD,
        }
    }
}

struct Settings {
    setting: UpdateManager,
    command: Option<String>,
    refresh: bool,
    timeout: Duration,
    every: Option<Duration>,
    log_dir: PathBuf,
    log_keep: u32,
    proc_root: PathBuf,
}

impl Settings {
    fn from(config: &Config) -> Settings {
        let u = &config.updates;
        Settings {
            setting: u.manager,
            command: u.command.clone(),
            refresh: u.refresh,
            timeout: u.timeout,
            every: u.every,
            log_dir: config.log_dir.clone(),
            log_keep: u.log_keep,
            proc_root: config.proc_root.clone(),
        }
    }
}

/// The last published result of an audit.
#[derive(Clone, Debug)]
pub struct AuditResult {
    pub manager: &'static str,
    pub checked_at: u64,
    /// The packages, or why the audit failed.
    pub outcome: Result<Parsed, String>,
    /// Why the list may be out of date, if it may.
    pub stale: Option<String>,
    /// The package lists were never downloaded: the count means nothing and
    /// is published as unknown.
    pub count_unknown: bool,
    pub reboot: Reboot,
    pub lists_age_s: Option<u64>,
    pub log_file: Option<PathBuf>,
}

/// The part of `update_timeout` a refresh step of its own may take
/// ([`Job::limits_of_next_step`]).
pub const REFRESH_SHARE: f64 = 0.5;

/// A parser thread ([`Job::decide`]): it hands the runs back with the decision.
type Parser = std::thread::JoinHandle<(Vec<StepRun>, Next)>;

struct Job {
    manager: Manager,
    runs: Vec<StepRun>,
    /// When the audit began, and when its time (`update_timeout`, for all
    /// of its steps together) runs out: a running step is killed then, and
    /// a step due after it is not started ([`not_started`]).
    started_at: Instant,
    deadline: Instant,
    timeout: Duration,
    child: Option<RunningChild>,
    /// The decision after a step with much output, being made on its own
    /// thread; it holds `runs` meanwhile and hands them back (`runs` keeps
    /// their steps and exits, without the output, for the log of an audit
    /// whose parser is abandoned at the deadline).
    deciding: Option<Parser>,
    next_check_at: Instant,
}

impl Job {
    /// When the next step is killed, and the time it is given: the
    /// audit's deadline, except for a refresh of its own (apt, apk, xbps
    /// with `update_refresh = on`), which gets [`REFRESH_SHARE`] of it, so
    /// that a refresh that hangs (a mirror that stops answering) still
    /// leaves the list the time to run from the lists on disk: a stale
    /// answer, not a failed audit.
    fn limits_of_next_step(&self, refresh: bool) -> (Instant, Duration) {
        let own_refresh = matches!(self.manager, Manager::Apt | Manager::Apk | Manager::Xbps);
        if refresh && own_refresh && self.runs.is_empty() {
            let share = self.timeout.mul_f64(REFRESH_SHARE);
            return ((self.started_at + share).min(self.deadline), share);
        }
        (self.deadline, self.timeout)
    }

    /// What to do after the runs so far ([`managers::next`], which parses
    /// their output), or `None` while that is still being worked out.
    ///
    /// Output up to [`INLINE_PARSE_BYTES`] is parsed right here (well under
    /// a millisecond). More (at most [`child::OUTPUT_CAP`] per stream, which
    /// takes tens of milliseconds even in a release build) is parsed on a
    /// short-lived thread, so the poll loop never waits for a parse: the
    /// thread owns nothing but the runs moved into it, and the loop takes
    /// them back with the decision.
    ///
    /// The parser has the audit's deadline too: one still at work then
    /// (hostile or pathological output) is abandoned into `abandoned`, the
    /// audit ending as timed out (one at work when its audit is stopped is
    /// abandoned there too: [`AuditService::stop_job`]); it holds nothing
    /// the loop needs. While an abandoned parser is still at work no second
    /// one is started: that audit fails, saying so (one stuck thread at
    /// most, not one per audit).
    /// `gate`: a test's knob that holds the parser ([`fsutil::test_hold`]).
    fn decide(
        &mut self,
        refresh: bool,
        path: &OsString,
        now: Instant,
        abandoned: &mut Option<Parser>,
        gate: Option<&Path>,
    ) -> Option<Next> {
        if let Some(handle) = &self.deciding {
            if !handle.is_finished() {
                if now < self.deadline {
                    return None;
                }
                *abandoned = self.deciding.take();
                let error = format!(
                    "timed out: the output parser was still at work when the {} update_timeout ran out (the output is not parsed; its thread is abandoned)",
                    crate::config::format_duration(self.timeout)
                );
                log::warn(format_args!("audit: {error}"));
                return Some(Next::Done(Outcome::Failed {
                    error,
                    retry: false,
                }));
            }
            let handle = self.deciding.take().expect("checked above");
            return Some(match handle.join() {
                Ok((runs, next)) => {
                    self.runs = runs;
                    next
                }
                // Parsers never panic (fuzzed); should one, the audit fails.
                Err(_) => Next::Done(Outcome::Failed {
                    error: owned("the output parser failed"),
                    retry: false,
                }),
            });
        }
        let output: usize = self
            .runs
            .iter()
            .map(|r| r.stdout.len() + r.stderr.len())
            .sum();
        if output <= INLINE_PARSE_BYTES {
            return Some(managers::next(&self.manager, refresh, path, &self.runs));
        }
        if abandoned
            .as_ref()
            .is_some_and(|earlier| !earlier.is_finished())
        {
            let error = "not parsed: the output parser abandoned by an earlier audit (at its update_timeout, or stopped) is still at work, and only one is left running";
            log::warn(format_args!("audit: {error}"));
            return Some(Next::Done(Outcome::Failed {
                error: owned(error),
                retry: false,
            }));
        }
        // Ended (its result is of no use now): nothing is left of it.
        *abandoned = None;
        let shown = self.runs.iter().map(without_output).collect();
        let runs = std::mem::replace(&mut self.runs, shown);
        let manager = self.manager.clone();
        let path = path.clone();
        let gate = gate.map(Path::to_path_buf);
        let spawned = std::thread::Builder::new()
            .name(owned("audit-parse"))
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || {
                fsutil::test_hold(gate.as_deref());
                let next = managers::next(&manager, refresh, &path, &runs);
                (runs, next)
            });
        match spawned {
            Ok(handle) => {
                self.deciding = Some(handle);
                None
            }
            Err(e) => {
                // No thread to be had (the runs went with the closure): the
                // audit fails now and is retried.
                log::warn(format_args!("audit: cannot start the parser thread: {e}"));
                Some(Next::Done(Outcome::Failed {
                    error: format!("cannot start the parser thread: {e}"),
                    retry: true,
                }))
            }
        }
    }
}

/// `run` without its output: what the log shows of a step whose output
/// went to a parser that never gave it back.
fn without_output(run: &StepRun) -> StepRun {
    StepRun {
        step: run.step.clone(),
        exit: run.exit.clone(),
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_dropped: run.stdout_dropped,
        stderr_dropped: run.stderr_dropped,
        duration: run.duration,
    }
}

/// A finished audit, all that its result and its log are made of.
struct Finished {
    manager: Manager,
    runs: Vec<StepRun>,
    outcome: Result<Parsed, String>,
    /// Why the run's answer may be out of date (the lists' age is added).
    stale: Option<String>,
    attempt: u32,
    root: PathBuf,
    proc_root: PathBuf,
    log_dir: PathBuf,
    log_keep: u32,
    keep_full_list: bool,
}

/// A finished audit made into its result, its log written.
struct Recorded {
    result: AuditResult,
    write_error: Option<std::io::Error>,
}

/// Makes a finished audit its result: reads whether a reboot is needed and
/// the lists' age, completes apt's details from the system
/// ([`complete_apt`]: dpkg's status, the lists' Release files), renders and
/// writes the log (atomically, fsynced: [`logfile::write`]), and (the
/// daemon) keeps only what /data.json shows.
///
/// Runs on its own short-lived thread in the daemon, never on the loop:
/// rendering a 20,000-package log (1.4 MB) and fsyncing it took 12-50 ms
/// there (debug build; the file and directory fsyncs alone 7-22 ms), a
/// log with 1,000 notes of [`model::NOTE_BYTES`] is 64 MB, and apt's
/// details read a 714 KB dpkg status in 230 ms (debug build) where a short
/// output was parsed on the loop; 120,000 origins once held the loop 6 s.
fn record(f: Finished) -> Recorded {
    let checked_at = unix_now();
    let reboot = host::reboot(&f.manager, &f.root, &f.proc_root);
    let lists_age_s = host::lists_age_s(&f.manager, &f.root, SystemTime::now());
    // An answer from missing or old lists is stale whatever the run said.
    let lists_stale = match &f.outcome {
        Ok(_) => host::lists_staleness(&f.manager, lists_age_s),
        Err(_) => None,
    };
    let count_unknown = lists_stale == Some(host::ListsStale::Missing);
    let stale = match (f.stale, &lists_stale) {
        (Some(why), Some(lists)) => Some(format!("{why}; {}", lists.why())),
        (None, Some(lists)) => Some(lists.why()),
        (stale, None) => stale,
    };
    let mut outcome = f.outcome;
    if let (Manager::Apt, Ok(parsed)) = (&f.manager, &mut outcome) {
        complete_apt(parsed, &f.root);
    }
    let text = logfile::render(&logfile::Record {
        host: &sys::hostname(),
        unix_s: checked_at,
        manager: f.manager.name(),
        runs: &f.runs,
        attempt: f.attempt,
        lists_age_s,
        reboot: &reboot,
        stale: stale.as_deref(),
        result: outcome.as_ref().map_err(String::as_str),
    });
    let stamp = sys::local_timestamp(checked_at as i64);
    crate::fsutil::test_gate("SYSMON_TEST_AUDIT_LOG_GATE");
    let (log_file, write_error) = match logfile::write(&f.log_dir, &stamp, &text, f.log_keep) {
        Ok(path) => (Some(path), None),
        Err(e) => (None, Some(e)),
    };
    // The log has the full list; between audits the daemon holds only
    // what /data.json shows, and gives the rest of the memory back.
    if let (Ok(parsed), false) = (&mut outcome, f.keep_full_list) {
        parsed.keep_first(PACKAGES_CAP, UNPARSED_SHOWN);
    }
    Recorded {
        result: AuditResult {
            manager: f.manager.name(),
            checked_at,
            outcome,
            stale,
            count_unknown,
            reboot,
            lists_age_s,
            log_file,
        },
        write_error,
    }
}

/// The run of a `step` due after `job`'s deadline: not started, saying
/// that `update_timeout` is for the whole audit and which step used the
/// time. The managers read it as a step that failed (a list: the audit
/// fails; a step that only completes the list: a note or security unknown).
fn not_started(step: child::Step, job: &Job, now: Instant) -> StepRun {
    let mut why = format!(
        "the {} update_timeout is for the whole audit, and it ran out {} after the audit began",
        crate::config::format_duration(job.timeout),
        crate::config::format_duration(now.saturating_duration_since(job.started_at))
    );
    if let Some(last) = job.runs.last() {
        why.push_str(&format!(
            "; the step before: `{}`: {}",
            last.step.display(),
            last.exit.describe()
        ));
    }
    StepRun {
        step,
        exit: child::Exit::NotStarted(why),
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_dropped: 0,
        stderr_dropped: 0,
        duration: Duration::ZERO,
    }
}

/// [`host::complete_apt_details`], with notes naming the held packages and
/// the origin series summed into one.
fn complete_apt(parsed: &mut Parsed, root: &Path) {
    let Some(details) = parsed.apt.as_mut() else {
        return;
    };
    let summed = host::complete_apt_details(details, root);
    let mut notes = Vec::new();
    if !details.held.is_empty() {
        notes.push(format!("held: {}", details.held.join(" ")));
    }
    if summed > 0 {
        notes.push(format!(
            "origins: {summed} (origin, arch) series beyond the {} kept summed into origin=\"{}\"",
            model::ORIGIN_SERIES_KEPT,
            model::OTHER_ORIGINS
        ));
    }
    notes.into_iter().for_each(|note| parsed.push_note(note));
}

pub struct AuditService {
    env: AuditEnv,
    settings: Settings,
    choice: Choice,
    job: Option<Job>,
    /// When the next audit starts; `None`: not scheduled.
    next_run_at: Option<Instant>,
    /// Retries used since the last published result.
    retries_used: usize,
    /// The failure being retried, shown while waiting.
    retry_error: Option<String>,
    last: Option<AuditResult>,
    last_finished_at: Option<Instant>,
    /// Audits that reached a published result (ok or failed).
    completed: u64,
    /// Keep every package of the last result (`sysmon audit` prints them
    /// all); the daemon keeps only what /data.json shows.
    keep_full_list: bool,
    /// The processes needing a restart, scanned after the last audit.
    restart: Option<restart::Scan>,
    /// That scan running on its own thread (the daemon), and when to look
    /// for its end next.
    restart_scan: Option<(std::thread::JoinHandle<restart::Scan>, Instant)>,
    /// A finished audit being recorded ([`record`]) on its own thread (the
    /// daemon), and when to look for its end next; published after.
    recording: Option<(std::thread::JoinHandle<Option<Recorded>>, Instant)>,
    /// A parser abandoned at its audit's deadline ([`Job::decide`]) or
    /// when its audit was stopped ([`AuditService::stop_job`]), while it
    /// may still be at work: no second one starts meanwhile.
    abandoned_parser: Option<Parser>,
    /// A test's knob: parsers wait while this file exists.
    parse_gate: Option<PathBuf>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AuditService {
    pub fn new(config: &Config) -> Self {
        Self::with_env(config, AuditEnv::system())
    }

    /// With a chosen root, PATH and retry schedule (tests, `sysmon audit`).
    pub fn with_env(config: &Config, env: AuditEnv) -> Self {
        let settings = Settings::from(config);
        let choice = managers::choose(
            settings.setting,
            settings.command.as_deref(),
            &env.root,
            &env.path,
        );
        AuditService {
            env,
            settings,
            next_run_at: matches!(choice, Choice::Use(_)).then(Instant::now),
            choice,
            job: None,
            retries_used: 0,
            retry_error: None,
            last: None,
            last_finished_at: None,
            completed: 0,
            keep_full_list: false,
            restart: None,
            restart_scan: None,
            recording: None,
            abandoned_parser: None,
            parse_gate: None,
        }
    }

    /// A test's knob, in debug builds: the parser threads wait while
    /// `gate` exists, as one stuck on hostile output would.
    #[cfg(debug_assertions)]
    pub fn hold_parsers_while(&mut self, gate: PathBuf) {
        self.parse_gate = Some(gate);
    }

    pub fn reconfigure(&mut self, config: &Config) {
        self.settings = Settings::from(config);
        let choice = managers::choose(
            self.settings.setting,
            self.settings.command.as_deref(),
            &self.env.root,
            &self.env.path,
        );
        if choice != self.choice {
            self.stop_job();
            // A log being written is left to its thread (never waited for on
            // the loop); its result is for the manager no longer used.
            self.recording = None;
            self.retries_used = 0;
            self.retry_error = None;
            self.last = None;
            self.next_run_at = matches!(choice, Choice::Use(_)).then(Instant::now);
            self.choice = choice;
        } else if self.job.is_none() && self.retry_error.is_none() {
            if let Some(done) = self.last_finished_at {
                self.next_run_at = self.settings.every.map(|every| done + every);
            }
        }
    }

    /// Which manager is used, or why none.
    pub fn choice(&self) -> &Choice {
        &self.choice
    }

    /// Audits that reached a published result so far.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    pub fn last_result(&self) -> Option<&AuditResult> {
        self.last.as_ref()
    }

    pub fn poll(&mut self, now: Instant) {
        self.poll_recording(now);
        self.poll_restart_scan(now);
        if self.job.is_some() {
            self.advance(now);
            return;
        }
        if self.recording.is_some() {
            return;
        }
        let Choice::Use(manager) = &self.choice else {
            return;
        };
        if self.next_run_at.is_some_and(|at| now >= at) {
            self.next_run_at = None;
            log::info(format_args!(
                "audit: checking for {} updates",
                manager.name()
            ));
            self.job = Some(Job {
                manager: manager.clone(),
                runs: Vec::new(),
                started_at: now,
                deadline: now + self.settings.timeout,
                timeout: self.settings.timeout,
                child: None,
                deciding: None,
                next_check_at: now,
            });
            self.advance(now);
        }
    }

    /// Moves the job as far as it goes without waiting.
    fn advance(&mut self, now: Instant) {
        let Some(job) = self.job.as_mut() else { return };
        loop {
            if let Some(child) = job.child.as_mut() {
                match child.poll(now) {
                    None => {
                        // Pipes are read a share a turn: when one was
                        // used up, the rest is due at the next turn.
                        job.next_check_at = if child.behind() {
                            now
                        } else {
                            now + self.env.poll_period
                        };
                        return;
                    }
                    Some(run) => {
                        job.child = None;
                        job.runs.push(run);
                    }
                }
            }
            let next = match job.decide(
                self.settings.refresh,
                &self.env.path,
                now,
                &mut self.abandoned_parser,
                self.parse_gate.as_deref(),
            ) {
                Some(next) => next,
                None => {
                    // Parsing on its thread: look again shortly.
                    job.next_check_at = now + PARSE_CHECK_PERIOD.min(self.env.poll_period);
                    return;
                }
            };
            match next {
                Next::Run(step) if now >= job.deadline => {
                    let run = not_started(step, job, now);
                    job.runs.push(run);
                }
                Next::Run(step) => {
                    let (kill_at, given) = job.limits_of_next_step(self.settings.refresh);
                    match RunningChild::spawn_until(step, &self.env.path, now, kill_at, given) {
                        Ok(child) => job.child = Some(child),
                        Err(failed) => job.runs.push(*failed),
                    }
                }
                Next::Done(outcome) => {
                    let job = self.job.take().expect("the job being advanced");
                    self.finish(job, outcome, now);
                    return;
                }
            }
        }
    }

    fn take_retry(&mut self, now: Instant) -> Option<Duration> {
        let delay = *self.env.retry_delays.get(self.retries_used)?;
        self.retries_used += 1;
        self.next_run_at = Some(now + delay);
        Some(delay)
    }

    fn finish(&mut self, job: Job, outcome: Outcome, now: Instant) {
        let attempt = self.retries_used as u32 + 1;
        let (outcome, stale, retry) = match outcome {
            Outcome::Ok {
                parsed,
                stale,
                retry,
            } => (Ok(parsed), stale, retry),
            Outcome::Failed { error, retry } => (Err(error), None, retry),
        };
        let retry_in = if retry { self.take_retry(now) } else { None };
        if let (Err(error), Some(delay)) = (&outcome, retry_in) {
            log::warn(format_args!(
                "audit: {error}; looks like no network yet, retrying in {}",
                crate::config::format_duration(delay)
            ));
            self.retry_error = Some(format!(
                "{error} (retry {} in {})",
                self.retries_used,
                crate::config::format_duration(delay)
            ));
            return;
        }
        if retry_in.is_none() {
            self.retries_used = 0;
            self.next_run_at = self.settings.every.map(|every| now + every);
        }
        self.retry_error = None;
        self.last_finished_at = Some(now);
        let finished = Finished {
            manager: job.manager,
            runs: job.runs,
            outcome,
            stale,
            attempt,
            root: self.env.root.clone(),
            proc_root: self.settings.proc_root.clone(),
            log_dir: self.settings.log_dir.clone(),
            log_keep: self.settings.log_keep,
            keep_full_list: self.keep_full_list,
        };
        if self.keep_full_list {
            // `sysmon audit`: no loop to keep free.
            self.publish(record(finished), now);
            return;
        }
        // The thread takes `finished` from the slot; should no thread be
        // had, the loop takes it back and records it itself.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(finished)));
        let theirs = std::sync::Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name(owned("audit-log"))
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || {
                let finished = theirs.lock().ok().and_then(|mut f| f.take());
                finished.map(record)
            });
        match spawned {
            Ok(handle) => self.recording = Some((handle, now)),
            Err(e) => {
                log::warn(format_args!(
                    "audit: cannot start the log thread ({e}): writing the log on the loop"
                ));
                if let Some(finished) = slot.lock().ok().and_then(|mut f| f.take()) {
                    self.publish(record(finished), now);
                }
            }
        }
    }

    /// Publishes a recorded audit: logs its outcome, keeps it as the last
    /// result, and starts its restart scan.
    fn publish(&mut self, recorded: Recorded, now: Instant) {
        let Recorded {
            result,
            write_error,
        } = recorded;
        if let Some(e) = write_error {
            log::warn(format_args!("audit: cannot write the log: {e}"));
        }
        let shown = result
            .log_file
            .as_ref()
            .map_or(owned("(not written)"), |p| text_of(&p.display()));
        match &result.outcome {
            Ok(_) if result.count_unknown => log::warn(format_args!(
                "audit: pending updates UNKNOWN via {}: {}; log {shown}",
                result.manager,
                result.stale.as_deref().unwrap_or_default()
            )),
            Ok(parsed) => log::info(format_args!(
                "audit: {} updates pending ({}) via {}{}{}; log {shown}",
                parsed.count(),
                parsed.security_summary(),
                result.manager,
                if parsed.unparsed_count() == 0 {
                    String::new()
                } else {
                    format!(", {} unparsed lines", parsed.unparsed_count())
                },
                result
                    .stale
                    .as_ref()
                    .map_or(String::new(), |why| format!(", STALE: {why}")),
            )),
            Err(error) => log::error(format_args!("audit failed: {error}; log {shown}")),
        }
        self.last = Some(result);
        // The audit counts as completed once its restart scan is in too.
        if !self.start_restart_scan(now) {
            self.completed += 1;
        }
        sys::release_free_memory();
    }

    /// Publishes the audit recorded on its thread, once that has ended.
    fn poll_recording(&mut self, now: Instant) {
        let Some((handle, check_at)) = &mut self.recording else {
            return;
        };
        if !handle.is_finished() {
            *check_at = now + PARSE_CHECK_PERIOD;
            return;
        }
        let (handle, _) = self.recording.take().expect("checked above");
        match handle.join() {
            Ok(Some(recorded)) => self.publish(recorded, now),
            // Not expected: the slot is filled before the thread starts.
            Ok(None) | Err(_) => {
                log::error(format_args!(
                    "audit: recording the result failed (the log thread ended without it)"
                ));
                self.completed += 1;
            }
        }
    }

    /// Starts the scan for processes needing a restart ([`restart`]): in
    /// the foreground for `sysmon audit`, else on a short-lived thread, as
    /// it reads every process's maps (see the README for its cost).
    /// Only one runs at a time: an audit finishes only after its scan.
    /// Whether it runs on (and [`AuditService::completed`] waits for) a thread.
    fn start_restart_scan(&mut self, now: Instant) -> bool {
        let proc_root = self.settings.proc_root.clone();
        if self.keep_full_list {
            self.take_restart_scan(restart::scan(&proc_root));
            return false;
        }
        match std::thread::Builder::new()
            .name(owned("audit-restart"))
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || restart::scan(&proc_root))
        {
            Ok(handle) => {
                self.restart_scan = Some((handle, now));
                true
            }
            Err(e) => {
                log::warn(format_args!(
                    "audit: cannot start the restart scan thread: {e}"
                ));
                false
            }
        }
    }

    fn poll_restart_scan(&mut self, now: Instant) {
        let Some((handle, check_at)) = &mut self.restart_scan else {
            return;
        };
        if !handle.is_finished() {
            *check_at = now + RESTART_SCAN_CHECK_PERIOD;
            return;
        }
        let (handle, _) = self.restart_scan.take().expect("checked above");
        match handle.join() {
            Ok(scan) => self.take_restart_scan(scan),
            Err(_) => log::warn(format_args!("audit: the restart scan failed")),
        }
        self.completed += 1;
    }

    /// Publishes a finished scan, unless it could not look at every
    /// process: "nothing to restart" would then be an all-clear for
    /// processes it never saw, so the last scan stands.
    fn take_restart_scan(&mut self, scan: restart::Scan) {
        if let Some(e) = &scan.error {
            log::warn(format_args!(
                "audit: the restart scan failed: {e}; the last scan's figures stay"
            ));
            return;
        }
        log_restart_scan(&scan);
        self.restart = Some(scan);
    }

    /// The last scan for processes needing a restart, if one finished.
    pub fn restart_scan(&self) -> Option<&restart::Scan> {
        self.restart.as_ref()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.next_deadline_of_audit(),
            self.recording.as_ref().map(|(_, check_at)| *check_at),
            self.restart_scan.as_ref().map(|(_, check_at)| *check_at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn next_deadline_of_audit(&self) -> Option<Instant> {
        if let Some(job) = &self.job {
            return Some(
                job.child
                    .as_ref()
                    .map_or(job.next_check_at, |c| job.next_check_at.min(c.kill_at())),
            );
        }
        self.next_run_at
            .filter(|_| matches!(self.choice, Choice::Use(_)))
    }

    pub fn is_running(&self) -> bool {
        self.job.is_some() || self.recording.is_some() || self.restart_scan.is_some()
    }

    /// The pid of the manager running now (started, not yet reaped), for
    /// [`crate::orphans`].
    pub fn child_pid(&self) -> Option<u32> {
        self.job.as_ref()?.child.as_ref().map(RunningChild::pid)
    }

    /// The state now; allocates nothing.
    pub fn snapshot(&self) -> UpdatesSnapshot {
        let mut snap = UpdatesSnapshot::without_answer(UpdatesState::Pending);
        match &self.choice {
            Choice::Disabled => {
                snap.state = UpdatesState::Disabled;
                return snap;
            }
            Choice::Unsupported => {
                snap.state = UpdatesState::Unsupported;
                snap.has_error = true;
                return snap;
            }
            Choice::Use(m) => snap.manager = Some(m.name()),
        }
        if let Some(last) = &self.last {
            snap.checked_at = Some(last.checked_at);
            snap.stale = last.stale.is_some();
            snap.reboot_required = last.reboot.required;
            snap.lists_age_s = last.lists_age_s;
            match &last.outcome {
                Ok(_) if last.count_unknown => {
                    snap.state = UpdatesState::Stale;
                    snap.has_error = last.stale.is_some();
                }
                Ok(parsed) => {
                    snap.state = if last.stale.is_some() {
                        UpdatesState::Stale
                    } else {
                        UpdatesState::Ok
                    };
                    snap.count = Some(parsed.count());
                    // Unknown, not zero, when the manager could not say.
                    snap.security_count = parsed
                        .security_unavailable
                        .is_none()
                        .then(|| parsed.security_count());
                    snap.truncated = parsed.count() > PACKAGES_CAP as u64;
                    snap.has_error = last.stale.is_some();
                }
                Err(_) => {
                    snap.state = UpdatesState::Failed;
                    snap.has_error = true;
                }
            }
        }
        snap.restart_processes = self.restart.as_ref().map(|r| r.processes);
        if self.retry_error.is_some() {
            snap.state = UpdatesState::Pending;
            snap.has_error = true;
        }
        // Running until its restart scan is in (see `completed`).
        if self.is_running() {
            snap.state = UpdatesState::Running;
        }
        snap
    }

    /// Why the answer is missing or may be out of date, if it is: no
    /// manager found, the failure (or the one being retried), or what made
    /// the answer stale. Set exactly when the snapshot's `has_error` is.
    pub fn error(&self) -> Option<&str> {
        match &self.choice {
            Choice::Disabled => return None,
            Choice::Unsupported => return Some(UNSUPPORTED),
            Choice::Use(_) => {}
        }
        if let Some(error) = &self.retry_error {
            return Some(error);
        }
        let last = self.last.as_ref()?;
        match &last.outcome {
            Ok(_) => last.stale.as_deref(),
            Err(error) => Some(error),
        }
    }

    /// apt's held, kept-back, phased and autoremovable packages and counts
    /// per origin from the last answer (apt only).
    pub fn apt_details(&self) -> Option<&model::AptDetails> {
        match &self.last.as_ref()?.outcome {
            Ok(parsed) => parsed.apt.as_deref(),
            Err(_) => None,
        }
    }

    /// The packages shown in /data.json: the first [`PACKAGES_CAP`] of the
    /// last answer (none while its count is unknown).
    pub fn packages(&self) -> &[Package] {
        match self.last.as_ref().map(|l| (&l.outcome, l.count_unknown)) {
            Some((Ok(parsed), false)) => {
                &parsed.packages[..parsed.packages.len().min(PACKAGES_CAP)]
            }
            _ => &[],
        }
    }

    /// Stops a running audit, as sysmon stops: kills the child's process
    /// group and reaps it. A log being written is waited for, up to
    /// [`RECORDING_WAIT`], so that it is complete.
    pub fn abandon(&mut self) {
        if let Some((handle, _)) = self.recording.take() {
            let until = Instant::now() + RECORDING_WAIT;
            while !handle.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if !handle.is_finished() {
                log::warn(format_args!(
                    "audit: stopped while its log was still being written"
                ));
            }
        }
        self.stop_job();
    }

    /// Kills a running audit's child and drops the job. A parser still at
    /// work is kept as the abandoned one, as at the deadline
    /// ([`Job::decide`]): one stuck thread at most, across stops too.
    fn stop_job(&mut self) {
        if let Some(mut job) = self.job.take() {
            if let Some(child) = job.child.as_mut() {
                child.kill();
                log::info(format_args!(
                    "audit: stopped, killed the running {} check",
                    job.manager.name()
                ));
            }
            if let Some(parser) = job.deciding.take() {
                // `decide` starts a parser only when no abandoned one is at
                // work, so there is none to lose here.
                debug_assert!(
                    self.abandoned_parser
                        .as_ref()
                        .is_none_or(std::thread::JoinHandle::is_finished)
                );
                self.abandoned_parser = Some(parser);
            }
        }
    }
}

/// One audit now, in the foreground, for `sysmon audit`: no network
/// retries (scripts and cron want an answer), every package kept, and what
/// the manager leaves behind killed as in the daemon. Returns the service
/// holding the result ([`AuditService::last_result`], [`AuditService::snapshot`]);
/// with the audit disabled or no manager found it holds none.
pub fn audit_once(config: &Config) -> AuditService {
    let env = AuditEnv {
        retry_delays: Vec::new(),
        ..AuditEnv::system()
    };
    let mut service = AuditService::with_env(config, env);
    service.keep_full_list = true;
    // As in the daemon: what the manager leaves behind is killed.
    if let Err(e) = sys::become_child_subreaper() {
        log::warn(format_args!(
            "cannot become a child subreaper ({e}): processes the manager leaves behind may survive it"
        ));
    }
    let mut orphans = crate::orphans::Orphans::new();
    let mut job_pids = Vec::with_capacity(1);
    if matches!(service.choice(), Choice::Use(_)) {
        while service.completed() == 0 {
            let now = Instant::now();
            service.poll(now);
            job_pids.clear();
            job_pids.extend(service.child_pid());
            orphans.poll(now, &job_pids);
            let wait = service
                .next_deadline()
                .map_or(POLL_PERIOD, |d| d.saturating_duration_since(now))
                .min(POLL_PERIOD);
            if service.completed() == 0 {
                std::thread::sleep(wait);
            }
        }
    }
    orphans.kill_all(Duration::from_secs(2));
    service
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(program: &str, args: &[&str]) -> child::Step {
        child::Step {
            program: PathBuf::from(program),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn job(manager: Manager, runs: Vec<StepRun>, at: Instant, timeout: Duration) -> Job {
        Job {
            manager,
            runs,
            started_at: at,
            deadline: at + timeout,
            timeout,
            child: None,
            deciding: None,
            next_check_at: at,
        }
    }

    fn timed_out(step: child::Step, ran: Duration, timeout: Duration) -> StepRun {
        StepRun {
            step,
            exit: child::Exit::TimedOut { ran, timeout },
            stdout: Vec::new(),
            stderr: Vec::new(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            duration: ran,
        }
    }

    /// A refresh of its own (apt, apk, xbps, refresh on, first step) gets
    /// half of update_timeout; every other step, and every step of the
    /// managers whose list refreshes itself, the audit's deadline.
    #[test]
    fn a_refresh_of_its_own_is_given_half_of_the_timeout() {
        let at = Instant::now();
        let timeout = Duration::from_secs(300);
        let half = (at + Duration::from_secs(150), Duration::from_secs(150));
        let whole = (at + timeout, timeout);
        for manager in [Manager::Apt, Manager::Apk, Manager::Xbps] {
            let fresh = job(manager.clone(), Vec::new(), at, timeout);
            assert_eq!(fresh.limits_of_next_step(true), half, "{}", manager.name());
            assert_eq!(
                fresh.limits_of_next_step(false),
                whole,
                "{}",
                manager.name()
            );
            let refreshed = timed_out(step("refresh", &[]), half.1, half.1);
            let listing = job(manager.clone(), vec![refreshed], at, timeout);
            assert_eq!(
                listing.limits_of_next_step(true),
                whole,
                "{}",
                manager.name()
            );
        }
        for manager in [Manager::Pacman, Manager::Dnf, Manager::Command("x".into())] {
            let fresh = job(manager.clone(), Vec::new(), at, timeout);
            assert_eq!(fresh.limits_of_next_step(true), whole, "{}", manager.name());
        }
    }

    /// A step due after the deadline (its step before ended right at it)
    /// is not started, and says why and which step used the time.
    #[test]
    fn a_step_due_after_the_deadline_names_the_step_that_used_the_time() {
        let at = Instant::now();
        let timeout = Duration::from_secs(1);
        let list = timed_out(step("/usr/bin/xbps-install", &["-Mun"]), timeout, timeout);
        let job = job(Manager::Xbps, vec![list], at, timeout);
        let run = not_started(step("xbps-query", &["-l"]), &job, at + timeout);
        assert_eq!(
            run.exit.describe(),
            "not started: the 1s update_timeout is for the whole audit, and it ran out 1s \
             after the audit began; the step before: `/usr/bin/xbps-install -Mun`: timed out \
             after 1s; its process group was killed"
        );
        assert!(run.stdout.is_empty() && run.duration.is_zero());
    }
}
