//! The state of the box's services, on whichever of systemd, OpenRC and
//! runit runs it, as a job of the loop: [`Services::poll`] does what is due,
//! [`Services::next_deadline`] says when to call again.
//!
//! Each init system is read the cheapest reliable way: systemd through one
//! `systemctl show` child per poll ([`systemd`]), run with non-blocking
//! pipes, a timeout and bounded output by the audit's child machinery
//! ([`crate::audit::child`]), its pid handed to [`crate::orphans`]; OpenRC
//! from its state directories ([`openrc`]); runit from each service's
//! `supervise/status` ([`runit`]). `services = auto` takes the init that
//! runs: `/run/systemd/system` is a directory (systemd's own `sd_booted`
//! test), else `/run/openrc/softlevel` exists (OpenRC writes it at boot;
//! the openrc package alone makes `/run/openrc` without it), else
//! `/run/runit` is a directory (runit as PID 1, or runsvdir's supervise
//! links) and a service directory exists.
//!
//! Every init's states map onto systemd's five (node_exporter's `state`
//! label): active, activating, deactivating, inactive, failed. A service
//! *fails* (the card, the count, `alert_service_failed`) when: a systemd
//! unit is in the `failed` state; an OpenRC service crashed, failed to start,
//! or is in the runlevel but stopped; a runit service is down while wanted
//! up for 2 s or more (runsv restarts after 1 s), or was seen up (or down,
//! wanted up) for less than 2 s at two polls in a row with two different
//! start stamps: restarting in a loop. `services_ignore` globs take a
//! service out of the failed count and the alert, never out of /metrics.
//!
//! Invariants:
//! - A poll never blocks: the child is polled, files are local and small.
//! - At most [`MAX_SERVICES`] units are kept (the rest are counted and
//!   dropped, `truncated`); the table's slots and their names are reused,
//!   so a runit poll that finds nothing changed allocates nothing
//!   (`tests/alloc_free.rs`), and between polls nothing runs. A systemd
//!   poll allocates (the child and its output), an OpenRC poll too (the
//!   directory listings): once per `services_every`.

pub mod openrc;
pub mod runit;
pub mod systemd;

use crate::owned::owned;
use std::ffi::{CString, OsStr, OsString};
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::audit::child::{RunningChild, Step, StepRun};
use crate::config::{ServiceInit, ServicesConfig};
use crate::log;
use crate::nameglob::glob_match;

/// Units (systemd) or services kept per poll.
pub const MAX_SERVICES: usize = 1024;
/// The `systemctl` child is killed after this.
pub const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a running `systemctl` is looked at (its exit wakes the loop
/// sooner, through SIGCHLD).
const CHILD_POLL: Duration = Duration::from_millis(100);
/// runit: up (or about to restart) for less than this is a short run.
const SHORT_RUN_S: u64 = 2;
/// Where `systemctl` is looked for, and the `PATH` it runs with.
const SEARCH_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// runit's service directories, in the order `auto` tries them.
pub const RUNIT_DIRS: [&str; 3] = ["/var/service", "/etc/service", "/run/runit/service"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    Systemd,
    OpenRc,
    Runit,
}

impl Init {
    pub fn name(self) -> &'static str {
        match self {
            Init::Systemd => "systemd",
            Init::OpenRc => "openrc",
            Init::Runit => "runit",
        }
    }
}

/// systemd's five active states, node_exporter's `state` label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Activating,
    Deactivating,
    Inactive,
    Failed,
}

impl State {
    /// In node_exporter's order.
    pub const ALL: [State; 5] = [
        State::Active,
        State::Activating,
        State::Deactivating,
        State::Inactive,
        State::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Activating => "activating",
            State::Deactivating => "deactivating",
            State::Inactive => "inactive",
            State::Failed => "failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a service counts as failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// systemd: the unit is in the `failed` state.
    UnitFailed,
    /// OpenRC: started, but its pid file is gone or names no live process.
    Crashed,
    /// OpenRC: in `failed/` (failed at the last runlevel change).
    FailedToStart,
    /// OpenRC: in the runlevel, not started.
    StoppedInRunlevel,
    /// runit: down while wanted up, for 2 s or more.
    Down,
    /// runit: short runs at two polls in a row.
    Restarting,
}

impl Problem {
    /// The word in /data.json.
    pub fn name(self) -> &'static str {
        match self {
            Problem::UnitFailed => "failed",
            Problem::Crashed => "crashed",
            Problem::FailedToStart => "failed_to_start",
            Problem::StoppedInRunlevel => "stopped",
            Problem::Down => "down",
            Problem::Restarting => "restarting",
        }
    }
}

/// One slot of the table: a unit or service as last read.
#[derive(Clone, Debug, Default)]
pub struct Service {
    pub name: String,
    pub state: Option<State>,
    pub problem: Option<Problem>,
    /// Left out of the failed count and the alert (`services_ignore`).
    pub ignored: bool,
    /// Shown on the card and in `sysmon_service_up`: systemd's `.service`
    /// units whose file exists and failed units of any type; every OpenRC
    /// and runit service.
    pub listed: bool,
    /// In `node_systemd_unit_state` (node_exporter's default exclusions).
    pub exported: bool,
    /// Unix time of the last state change the init system records, else of
    /// when sysmon first saw the problem.
    pub since: Option<u64>,
    /// systemd's `Type=` (services, mounts); empty otherwise.
    pub kind: String,
    /// runit: the stamp of the short run seen at the last poll.
    short_run: Option<(u64, u32)>,
}

impl Service {
    pub fn failed(&self) -> bool {
        self.problem.is_some() && !self.ignored
    }

    /// Takes this slot for `name`: kept as it is when it held that name
    /// (its history stays), else cleared. Allocates only for a name longer
    /// than any the slot held.
    fn take_for(&mut self, name: &[u8]) {
        if self.name.as_bytes() != name {
            self.name.clear();
            self.name.push_str(&String::from_utf8_lossy(name));
            self.short_run = None;
            self.problem = None;
            self.since = None;
        }
    }
}

/// What the services looked like at the last poll; reading it allocates
/// nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServicesSnapshot {
    /// `None`: `services = off`, or `auto` found no init it knows.
    pub init: Option<Init>,
    /// Listed services per [`State`] (in [`State::ALL`]'s order).
    pub counts: [u32; 5],
    /// Listed services that failed and are not ignored.
    pub failed: u32,
    /// Failed but ignored (`services_ignore`).
    pub ignored: u32,
    /// More than [`MAX_SERVICES`] were found; the rest were dropped.
    pub truncated: bool,
    /// Unix time of the last poll that read the services.
    pub polled_at: Option<u64>,
    /// The last poll failed (the error is [`Services::error`]).
    pub has_error: bool,
    /// A digest of which listed services failed (not ignored) and why: a
    /// change of the failed set at an unchanged count is a change too.
    pub failed_digest: u64,
    /// Grows by one each time a poll changes what is shown.
    pub generation: u64,
}

pub struct Services {
    config: ServicesConfig,
    init: Option<Init>,
    /// runit's service directory in use.
    runit_dir: Option<PathBuf>,
    next_poll_at: Option<Instant>,
    child: Option<RunningChild>,
    table: Vec<Service>,
    /// Slots of `table` in use.
    len: usize,
    snapshot: ServicesSnapshot,
    error: Option<String>,
    /// runit: the service directory kept open, the names listed (one
    /// buffer, `name_ends` marks where each ends), the path being built.
    runit_list: Option<crate::sys::DirCounter>,
    names: Vec<u8>,
    name_ends: Vec<usize>,
    path: PathBuf,
    /// Roots of OpenRC's state (tests point them elsewhere).
    openrc_roots: openrc::Roots,
    openrc_read: Vec<openrc::Service>,
    /// `systemctl`'s path when not looked up in [`SEARCH_PATH`] (tests).
    systemctl: Option<PathBuf>,
}

impl Services {
    pub fn new(config: &ServicesConfig, proc_root: &Path, now: Instant) -> Services {
        let mut services = Services {
            config: config.clone(),
            init: None,
            runit_dir: None,
            next_poll_at: None,
            child: None,
            table: Vec::new(),
            len: 0,
            snapshot: ServicesSnapshot::default(),
            error: None,
            runit_list: None,
            names: Vec::new(),
            name_ends: Vec::new(),
            path: PathBuf::new(),
            openrc_roots: openrc::Roots {
                run_dir: PathBuf::from(owned("/run/openrc")),
                runlevels_dir: PathBuf::from(owned("/etc/runlevels")),
                proc_root: proc_root.to_path_buf(),
            },
            openrc_read: Vec::new(),
            systemctl: None,
        };
        services.choose_init(now);
        services
    }

    /// Another OpenRC state root (`/run/openrc`, `/etc/runlevels`), for tests.
    pub fn with_openrc_roots(mut self, run_dir: &Path, runlevels_dir: &Path) -> Services {
        self.openrc_roots.run_dir = run_dir.to_path_buf();
        self.openrc_roots.runlevels_dir = runlevels_dir.to_path_buf();
        self
    }

    /// Runs this program instead of the `systemctl` found in the search
    /// path (a test's shim printing a capture).
    pub fn with_systemctl(mut self, program: &Path) -> Services {
        self.systemctl = Some(program.to_path_buf());
        self
    }

    /// New settings (SIGHUP): the init is chosen again and read at once.
    pub fn reconfigure(&mut self, config: &ServicesConfig, now: Instant) {
        if *config == self.config {
            return;
        }
        self.config = config.clone();
        self.abandon();
        self.runit_list = None;
        self.len = 0;
        self.error = None;
        self.choose_init(now);
        self.publish(None);
    }

    fn choose_init(&mut self, now: Instant) {
        let is_dir = |p: &str| Path::new(p).is_dir();
        let runit_dir = || -> Option<PathBuf> {
            match &self.config.runit_dir {
                Some(dir) => Some(dir.clone()),
                None => RUNIT_DIRS
                    .iter()
                    .find(|d| Path::new(d).is_dir())
                    .map(|d| PathBuf::from(owned(d))),
            }
        };
        self.init = match self.config.init {
            ServiceInit::Off => None,
            ServiceInit::Systemd => Some(Init::Systemd),
            ServiceInit::OpenRc => Some(Init::OpenRc),
            ServiceInit::Runit => Some(Init::Runit),
            ServiceInit::Auto => {
                if is_dir("/run/systemd/system") {
                    Some(Init::Systemd)
                } else if self.openrc_roots.run_dir.join("softlevel").exists() {
                    Some(Init::OpenRc)
                } else if is_dir("/run/runit") && runit_dir().is_some() {
                    Some(Init::Runit)
                } else {
                    None
                }
            }
        };
        self.runit_dir = match self.init {
            Some(Init::Runit) => runit_dir(),
            _ => None,
        };
        self.next_poll_at = self.init.map(|_| now);
        self.snapshot.init = self.init;
        match (self.config.init, self.init) {
            (ServiceInit::Off, _) => {}
            (_, None) => log::info(format_args!(
                "services: no systemd, OpenRC or runit found running; not watched"
            )),
            (_, Some(init)) => log::info(format_args!(
                "services: watching {}'s every {}{}",
                init.name(),
                crate::config::format_duration(self.config.every),
                match &self.runit_dir {
                    Some(dir) => format!(" in {}", dir.display()),
                    None => String::new(),
                }
            )),
        }
    }

    /// Reads the services when due, or takes a finished `systemctl`'s
    /// answer. True when what is shown changed.
    pub fn poll(&mut self, now: Instant, unix_now: u64) -> bool {
        if let Some(child) = &mut self.child {
            let Some(run) = child.poll(now) else {
                return false;
            };
            self.child = None;
            let result = self.take_systemctl(&run, unix_now);
            return self.publish(result.err().map(|e| (e, unix_now)));
        }
        let Some(init) = self.init else {
            return false;
        };
        if self
            .next_poll_at
            .is_some_and(|at| !crate::period::is_due(now, at, self.config.every))
        {
            return false;
        }
        self.next_poll_at = Some(now + self.config.every);
        let result = match init {
            Init::Systemd => {
                self.start_systemctl(now);
                return if self.child.is_none() {
                    // It could not start: said by publish.
                    let e = self.error.take().unwrap_or_default();
                    self.publish(Some((e, unix_now)))
                } else {
                    false
                };
            }
            Init::OpenRc => self.read_openrc(unix_now),
            Init::Runit => self.read_runit(unix_now),
        };
        self.publish(result.err().map(|e| (e, unix_now)))
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.child {
            // Its pipes read a share a poll, one used up: the rest at once.
            Some(child) if child.behind() => Some(Instant::now()),
            Some(child) => Some(child.kill_at().min(Instant::now() + CHILD_POLL)),
            None => self.next_poll_at,
        }
    }

    /// The `systemctl` running now, for [`crate::orphans`].
    pub fn child_pid(&self) -> Option<u32> {
        self.child.as_ref().map(RunningChild::pid)
    }

    /// Shutdown: kills and reaps a running `systemctl`.
    pub fn abandon(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    pub fn snapshot(&self) -> ServicesSnapshot {
        self.snapshot
    }

    /// Why the last poll failed.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Every unit or service read at the last poll.
    pub fn all(&self) -> &[Service] {
        &self.table[..self.len]
    }

    /// The listed services that failed and are not ignored.
    pub fn failed(&self) -> impl Iterator<Item = &Service> {
        self.all().iter().filter(|s| s.listed && s.failed())
    }

    /// `a.service, b.service` (the alert's message); allocates.
    pub fn failed_names(&self) -> String {
        let mut names = String::new();
        for s in self.failed() {
            if !names.is_empty() {
                names.push_str(", ");
            }
            names.push_str(&s.name);
        }
        names
    }

    fn ignored(&self, name: &[u8]) -> bool {
        self.config
            .ignore
            .iter()
            .any(|g| glob_match(g.as_bytes(), name))
    }

    /// Recounts after a poll (`error`: it failed, with when); true when what
    /// is shown changed.
    fn publish(&mut self, error: Option<(String, u64)>) -> bool {
        let mut snap = ServicesSnapshot {
            init: self.init,
            truncated: self.snapshot.truncated,
            polled_at: self.snapshot.polled_at,
            generation: self.snapshot.generation,
            ..ServicesSnapshot::default()
        };
        let mut digest = std::hash::DefaultHasher::new();
        for s in self.all().iter().filter(|s| s.listed) {
            if let Some(state) = s.state {
                snap.counts[state.index()] += 1;
            }
            if let (Some(problem), false) = (s.problem, s.ignored) {
                std::hash::Hash::hash(&(s.name.as_str(), problem as u8), &mut digest);
            }
            if s.problem.is_some() {
                if s.ignored {
                    snap.ignored += 1;
                } else {
                    snap.failed += 1;
                }
            }
        }
        snap.failed_digest = std::hash::Hasher::finish(&digest);
        match error {
            Some((e, _)) => {
                if self.error.as_deref() != Some(e.as_str()) {
                    log::warn(format_args!("services: {e}"));
                    self.error = Some(e);
                }
                snap.has_error = true;
            }
            None => {
                if self.error.take().is_some() {
                    log::info(format_args!("services: read again"));
                }
            }
        }
        let previous = self.snapshot;
        let changed = ServicesSnapshot {
            generation: 0,
            polled_at: None,
            ..snap
        } != ServicesSnapshot {
            generation: 0,
            polled_at: None,
            ..previous
        };
        if previous.failed_digest != snap.failed_digest && self.init.is_some() {
            if snap.failed == 0 {
                log::info(format_args!("services: none failed"));
            } else {
                log::warn(format_args!(
                    "services: {} failed: {}",
                    snap.failed,
                    self.failed_names()
                ));
            }
        }
        if changed {
            snap.generation = previous.generation + 1;
        }
        self.snapshot = snap;
        changed
    }

    fn set_polled(&mut self, unix_now: u64, truncated: bool) {
        self.snapshot.polled_at = Some(unix_now);
        self.snapshot.truncated = truncated;
    }

    fn start_systemctl(&mut self, now: Instant) {
        let found = || {
            std::env::split_paths(SEARCH_PATH)
                .map(|d| d.join("systemctl"))
                .find(|p| p.is_file())
        };
        let Some(program) = self.systemctl.clone().or_else(found) else {
            self.error = Some(format!("no systemctl in {SEARCH_PATH}"));
            return;
        };
        let step = Step {
            program,
            args: systemd::STEP_ARGS.iter().map(|a| owned(a)).collect(),
        };
        match RunningChild::spawn(step, &OsString::from(SEARCH_PATH), now, SYSTEMCTL_TIMEOUT) {
            Ok(child) => self.child = Some(child),
            Err(run) => self.error = Some(format!("systemctl: {}", run.exit.describe())),
        }
    }

    /// Takes `systemctl show`'s answer into the table.
    fn take_systemctl(&mut self, run: &StepRun, unix_now: u64) -> Result<(), String> {
        if run.code() != Some(0) {
            let mut e = format!("{}: {}", run.step.display(), run.exit.describe());
            let said = run.stderr_text();
            if let Some(line) = said.lines().find(|l| !l.trim().is_empty()) {
                let _ = write!(e, ": {}", line.trim());
            }
            return Err(e);
        }
        let now_us = crate::sys::monotonic_now_us();
        let mut n = 0;
        let mut dropped = 0;
        let ignore = std::mem::take(&mut self.config.ignore);
        let table = &mut self.table;
        systemd::parse_show(&run.stdout, |unit| {
            if n == MAX_SERVICES {
                dropped += 1;
                return;
            }
            if n == table.len() {
                table.push(Service::default());
            }
            let slot = &mut table[n];
            n += 1;
            slot.take_for(unit.id);
            slot.state = Some(unit.state);
            slot.problem = (unit.state == State::Failed).then_some(Problem::UnitFailed);
            slot.ignored = ignore.iter().any(|g| glob_match(g.as_bytes(), unit.id));
            slot.listed = unit.is_service() || unit.state == State::Failed;
            slot.exported = !unit.node_exporter_excludes();
            slot.since = unit.changed_monotonic_us.map(|us| {
                let ago_s = now_us.saturating_sub(us) / 1_000_000;
                unix_now.saturating_sub(ago_s)
            });
            slot.kind.clear();
            slot.kind.push_str(&String::from_utf8_lossy(unit.kind));
        });
        self.config.ignore = ignore;
        self.len = n;
        self.set_polled(unix_now, dropped > 0);
        Ok(())
    }

    fn read_openrc(&mut self, unix_now: u64) -> Result<(), String> {
        let mut read = std::mem::take(&mut self.openrc_read);
        let result = openrc::read(&self.openrc_roots, &mut read);
        if result.is_ok() {
            let mut n = 0;
            for s in read.iter().take(MAX_SERVICES) {
                if n == self.table.len() {
                    self.table.push(Service::default());
                }
                let ignored = self.ignored(s.name.as_bytes());
                let slot = &mut self.table[n];
                n += 1;
                slot.take_for(s.name.as_bytes());
                let problem = s.problem.map(|p| match p {
                    openrc::Problem::Crashed => Problem::Crashed,
                    openrc::Problem::FailedToStart => Problem::FailedToStart,
                    openrc::Problem::StoppedInRunlevel => Problem::StoppedInRunlevel,
                });
                slot.since = match (problem, slot.problem == problem) {
                    // No time recorded for a problem: when sysmon first saw it.
                    (Some(_), true) => slot.since,
                    (Some(_), false) => Some(unix_now),
                    (None, _) => s.since_unix,
                };
                slot.state = Some(s.state);
                slot.problem = problem;
                slot.ignored = ignored;
                slot.listed = true;
                slot.exported = false;
                slot.kind.clear();
            }
            self.len = n;
            self.set_polled(unix_now, read.len() > MAX_SERVICES);
        }
        self.openrc_read = read;
        result
    }

    /// Every service directory's `supervise/status`; allocation-free once
    /// the buffers have grown to the directory's size.
    fn read_runit(&mut self, unix_now: u64) -> Result<(), String> {
        let Some(dir) = self.runit_dir.take() else {
            return Err(format!(
                "no runit service directory ({} do not exist)",
                RUNIT_DIRS.join(", ")
            ));
        };
        let result = self.read_runit_in(&dir, unix_now);
        self.runit_dir = Some(dir);
        result
    }

    fn read_runit_in(&mut self, dir: &Path, unix_now: u64) -> Result<(), String> {
        if self.runit_list.is_none() {
            let c = CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| format!("{}: a NUL in the path", dir.display()))?;
            let list =
                crate::sys::DirCounter::open(&c).map_err(|e| format!("{}: {e}", dir.display()))?;
            self.runit_list = Some(list);
        }
        let (names, ends) = (&mut self.names, &mut self.name_ends);
        names.clear();
        ends.clear();
        let listed = self
            .runit_list
            .as_mut()
            .expect("opened above")
            .for_each_name(|name| {
                // `.` names are not services (runsvdir skips them too).
                if !name.starts_with(b".") && ends.len() < MAX_SERVICES {
                    names.extend_from_slice(name);
                    ends.push(names.len());
                }
            });
        if let Err(e) = listed {
            self.runit_list = None;
            return Err(format!("{}: {e}", dir.display()));
        }
        let mut n = 0;
        let mut start = 0;
        let mut unreadable: Option<String> = None;
        for i in 0..self.name_ends.len() {
            let end = self.name_ends[i];
            let name_range = start..end;
            start = end;
            let path = &mut self.path;
            path.as_mut_os_string().clear();
            path.push(dir);
            path.push(OsStr::from_bytes(&self.names[name_range.clone()]));
            path.push("supervise/status");
            let mut bytes = [0u8; 20];
            let len = match runit::read_status(path, &mut bytes) {
                Ok(len) => len,
                // No status: no runsv for it (yet); not a service to judge.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // supervise/ is root's, mode 0700: readable with the
                // CAP_DAC_READ_SEARCH `user =` keeps, not without it.
                Err(e) => {
                    if unreadable.is_none() {
                        unreadable = Some(format!("{}: {e}", path.display()));
                    }
                    continue;
                }
            };
            let Ok(status) = runit::parse_status(&bytes[..len.min(20)]).and_then(|s| {
                if len > 20 {
                    Err(runit::StatusError::Length(len))
                } else {
                    Ok(s)
                }
            }) else {
                continue;
            };
            if n == self.table.len() {
                self.table.push(Service::default());
            }
            let ignored = {
                let name = &self.names[name_range.clone()];
                self.config
                    .ignore
                    .iter()
                    .any(|g| glob_match(g.as_bytes(), name))
            };
            let slot = &mut self.table[n];
            n += 1;
            slot.take_for(&self.names[name_range]);
            judge_runit(slot, &status, unix_now);
            slot.ignored = ignored;
            slot.listed = true;
            slot.exported = false;
            slot.kind.clear();
        }
        self.len = n;
        self.set_polled(unix_now, false);
        match unreadable {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A runit service's state from its status and the previous poll (see the
/// module docs).
fn judge_runit(slot: &mut Service, status: &runit::Status, unix_now: u64) {
    let age = unix_now.saturating_sub(status.since_unix);
    let stamp = (status.since_unix, status.since_nanos);
    let short = age < SHORT_RUN_S
        && match status.state {
            runit::RunState::Run | runit::RunState::Finish => true,
            runit::RunState::Down => status.want_up,
        };
    let was_restarting = slot.problem == Some(Problem::Restarting);
    let restarting = short && (was_restarting || slot.short_run.is_some_and(|seen| seen != stamp));
    slot.short_run = short.then_some(stamp);
    let (state, problem) = if restarting {
        (State::Failed, Some(Problem::Restarting))
    } else {
        match status.state {
            // Up, if only just: running is active (a loop needs two looks).
            runit::RunState::Run => (State::Active, None),
            runit::RunState::Finish => (State::Deactivating, None),
            runit::RunState::Down if status.want_up && short => (State::Activating, None),
            runit::RunState::Down if status.want_up => (State::Failed, Some(Problem::Down)),
            runit::RunState::Down => (State::Inactive, None),
        }
    };
    slot.since = match problem {
        Some(Problem::Restarting) if was_restarting => slot.since,
        Some(Problem::Restarting) => Some(unix_now),
        _ => Some(status.since_unix),
    };
    slot.state = Some(state);
    slot.problem = problem;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: runit::RunState, want_up: bool, since_unix: u64, nanos: u32) -> runit::Status {
        runit::Status {
            since_unix,
            since_nanos: nanos,
            pid: if state == runit::RunState::Down {
                0
            } else {
                42
            },
            paused: false,
            want_up,
            state,
        }
    }

    fn judged(slot: &mut Service, s: runit::Status, now: u64) -> (State, Option<Problem>) {
        judge_runit(slot, &s, now);
        (slot.state.unwrap(), slot.problem)
    }

    #[test]
    fn runit_up_down_and_restarting_in_a_loop() {
        use runit::RunState::{Down, Run};
        let mut slot = Service::default();
        // Up for a while: active since its start.
        assert_eq!(
            judged(&mut slot, status(Run, true, 1000, 0), 1100),
            (State::Active, None)
        );
        assert_eq!(slot.since, Some(1000));
        // Stopped by the admin (`sv down`): inactive, not failed.
        assert_eq!(
            judged(&mut slot, status(Down, false, 1100, 0), 1101),
            (State::Inactive, None)
        );
        // Just restarted once: active, and still at the next look.
        let mut slot = Service::default();
        assert_eq!(
            judged(&mut slot, status(Run, true, 2000, 5), 2001),
            (State::Active, None)
        );
        assert_eq!(
            judged(&mut slot, status(Run, true, 2000, 5), 2031),
            (State::Active, None)
        );
        // A short run at two polls in a row, two different starts: a loop.
        let mut slot = Service::default();
        assert_eq!(
            judged(&mut slot, status(Down, true, 3000, 1), 3001),
            (State::Activating, None)
        );
        assert_eq!(
            judged(&mut slot, status(Down, true, 3030, 7), 3031),
            (State::Failed, Some(Problem::Restarting))
        );
        assert_eq!(slot.since, Some(3031), "when the loop was first seen");
        assert_eq!(
            judged(&mut slot, status(Run, true, 3060, 2), 3060),
            (State::Failed, Some(Problem::Restarting))
        );
        assert_eq!(slot.since, Some(3031));
        // Up for good again: the loop is over.
        assert_eq!(
            judged(&mut slot, status(Run, true, 3060, 2), 3090),
            (State::Active, None)
        );
        // Down while wanted up for 2 s or more: runsv cannot start it.
        let mut slot = Service::default();
        assert_eq!(
            judged(&mut slot, status(Down, true, 4000, 0), 4005),
            (State::Failed, Some(Problem::Down))
        );
        assert_eq!(slot.since, Some(4000));
    }

    #[test]
    fn a_slot_keeps_its_history_only_for_the_same_name() {
        let mut slot = Service::default();
        slot.take_for(b"a");
        slot.short_run = Some((1, 2));
        slot.take_for(b"a");
        assert_eq!(slot.short_run, Some((1, 2)));
        slot.take_for(b"b");
        assert_eq!((slot.name.as_str(), slot.short_run), ("b", None));
    }
}

#[cfg(test)]
mod reload_tests {
    use super::*;

    /// SIGHUP: a new `services` setting takes effect at once; `off` forgets
    /// what was read.
    #[test]
    fn reconfigure_switches_the_init_and_off_forgets_the_table() {
        let dir =
            std::env::temp_dir().join(format!("sysmon-services-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let supervise = dir.join("one/supervise");
        std::fs::create_dir_all(&supervise).unwrap();
        let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/services/runit/crash.status");
        std::fs::copy(capture, supervise.join("status")).unwrap();
        let runit = ServicesConfig {
            init: ServiceInit::Runit,
            every: Duration::from_secs(30),
            ignore: Vec::new(),
            runit_dir: Some(dir.clone()),
        };
        let t0 = Instant::now();
        let mut services = Services::new(&runit, Path::new("/proc"), t0);
        assert!(services.poll(t0, 1_796_200_300));
        assert_eq!(services.snapshot().failed, 1);
        assert_eq!(services.failed_names(), "one");
        assert_eq!(services.next_deadline(), Some(t0 + Duration::from_secs(30)));
        let off = ServicesConfig {
            init: ServiceInit::Off,
            ..runit.clone()
        };
        services.reconfigure(&off, t0);
        assert_eq!(services.snapshot().init, None);
        assert_eq!((services.snapshot().failed, services.all().len()), (0, 0));
        assert_eq!(services.next_deadline(), None);
        assert!(!services.poll(t0 + Duration::from_secs(60), 1_796_200_360));
        // Back on, with the service ignored: read at once, not counted.
        let ignoring = ServicesConfig {
            ignore: vec!["o*".into()],
            ..runit
        };
        services.reconfigure(&ignoring, t0);
        assert!(services.poll(t0, 1_796_200_400));
        let snap = services.snapshot();
        assert_eq!(
            (snap.init, snap.failed, snap.ignored),
            (Some(Init::Runit), 0, 1)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
