//! Threshold alerts: evaluated once per sample, shown in `/data.json` and
//! `/metrics`, logged when they start and end, and optionally handed to
//! `alert_command`.
//!
//! Each alert is a small state machine: ok → pending (the condition holds,
//! for less than its `for`) → firing → resolved (logged and announced, then
//! ok again). Time is a parameter: [`Alerts::evaluate`] takes `now`, so tests
//! drive a fake clock.
//!
//! Invariants:
//! - [`Alerts::evaluate`] and [`Alerts::poll_commands`] allocate only on a
//!   transition (the log line, the command's environment) or when a new disk
//!   appears (its alert instance); steady state allocates nothing.
//! - At most one `alert_command` runs per alert. An event that happens while
//!   it runs is queued; only the newest queued event is kept (it carries the
//!   alert's current state, which is what a receiver acts on).
//! - A command runs in its own process group, with stdin, stdout and stderr
//!   on /dev/null; after `alert_timeout` the whole group and the command
//!   itself (which may have left it) are killed. Whatever
//!   is left of the group when the command exits is killed too, so nothing
//!   escapes the timeout. Every child is reaped with `try_wait` from the loop
//!   (never a blocking wait, except at shutdown after SIGKILL). What left
//!   the group (`setsid`) or outlived the command is reparented to sysmon
//!   and killed by [`crate::orphans`], which is told the commands' pids.

use crate::owned::owned;
use std::fmt::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::audit::UpdatesSnapshot;
use crate::backup::{BackupSnapshot, BackupState};
use crate::config::{AlertConfig, Threshold, format_duration};
use crate::float_text::Shortest;
use crate::num::round1;
use crate::sample::Sample;
use crate::{log, sys};

/// Most alert instances (one per rule, one per disk for `alert_disk`).
pub const MAX_INSTANCES: usize = 64;

/// What the alerts need of the boot jobs, read from their snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobFacts {
    pub backup_enabled: bool,
    /// Unix time of the newest successful backup known (kept when a later
    /// backup fails).
    pub backup_last_success: Option<u64>,
    /// Security updates pending at the last audit, while its answer is
    /// trusted (no failure, retry or staleness).
    pub security_updates: Option<u64>,
    /// Services failed and not ignored at the last read (`None`: not watched).
    pub services_failed: Option<u32>,
}

impl JobFacts {
    pub fn of(backup: &BackupSnapshot, updates: &UpdatesSnapshot) -> JobFacts {
        JobFacts {
            backup_enabled: backup.state != BackupState::Disabled,
            backup_last_success: backup.last_success_at,
            security_updates: if updates.has_error {
                None
            } else {
                updates.security_count
            },
            services_failed: None,
        }
    }

    /// With the services' failed count (see [`crate::services`]).
    pub fn with_services(mut self, services: &crate::services::ServicesSnapshot) -> JobFacts {
        self.services_failed = services.init.map(|_| services.failed);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Cpu,
    Memory,
    Swap,
    Disk,
    BackupAge,
    UpdatesSecurity,
    /// The previous boot ended without sysmon being stopped cleanly
    /// ([`crate::bootlog`]): fires at start, resolves after
    /// `alert_unexpected_reboot`.
    UnexpectedReboot,
    ServiceFailed,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Cpu => "cpu",
            Kind::Memory => "memory",
            Kind::Swap => "swap",
            Kind::Disk => "disk",
            Kind::BackupAge => "backup_age",
            Kind::UpdatesSecurity => "updates_security",
            Kind::UnexpectedReboot => "unexpected_reboot",
            Kind::ServiceFailed => "service_failed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Ok,
    Pending { since: Instant },
    Firing { since_unix: u64 },
}

/// A transition handed to `alert_command`.
#[derive(Debug)]
struct Event {
    firing: bool,
    name: String,
    value: String,
    threshold: String,
    message: String,
    hostname: String,
}

struct Running {
    child: Child,
    deadline: Instant,
    killed: bool,
}

struct Instance {
    kind: Kind,
    /// The mount point, for `disk`; empty otherwise.
    mount: String,
    state: State,
    /// The last measured value (percent, seconds or count).
    value: f64,
    running: Option<Running>,
    queued: Option<Event>,
}

impl Instance {
    fn new(kind: Kind, mount: &str) -> Instance {
        Instance {
            kind,
            mount: owned(mount),
            state: State::Ok,
            value: 0.0,
            running: None,
            queued: None,
        }
    }

    /// `cpu`, `disk:/home`, ...: the name in JSON, logs and `SYSMON_ALERT`.
    fn name(&self) -> String {
        match self.kind {
            Kind::Disk => format!("disk:{}", self.mount),
            kind => owned(kind.name()),
        }
    }
}

/// One alert firing now.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    /// `cpu`, `memory`, `swap`, `disk:<mount point>`, `backup_age`,
    /// `updates_security`, `unexpected_reboot`, `service_failed`.
    pub name: String,
    /// Unix time it started firing.
    pub since: u64,
    /// The measured value: percent, seconds (backup_age) or a count.
    pub value: f64,
    /// The configured threshold, in the same unit.
    pub threshold: f64,
    pub message: String,
}

pub struct Alerts {
    config: AlertConfig,
    /// Unix time the daemon started: the backup age counts from here until
    /// a successful backup is seen.
    started_unix: u64,
    instances: Vec<Instance>,
    /// An instance could not be made because [`MAX_INSTANCES`] exist (logged once).
    overflowed: bool,
    /// What the boot log found at start, if the previous boot ended
    /// without a clean stop.
    unclean_boot: Option<crate::bootlog::Unclean>,
    /// The failed services' names for `service_failed`'s message, as the
    /// daemon last gave them ([`Alerts::note_failed_services`]).
    failed_services: String,
}

/// A rule's threshold and hold time, in the unit its value is measured in.
#[derive(Clone, Copy)]
struct Rule {
    threshold: f64,
    hold: Duration,
}

impl From<Threshold> for Rule {
    fn from(t: Threshold) -> Rule {
        Rule {
            threshold: t.percent,
            hold: t.hold,
        }
    }
}

impl Alerts {
    pub fn new(config: &AlertConfig, started_unix: u64) -> Alerts {
        let mut instances = Vec::with_capacity(MAX_INSTANCES);
        for kind in [
            Kind::Cpu,
            Kind::Memory,
            Kind::Swap,
            Kind::BackupAge,
            Kind::UpdatesSecurity,
            Kind::UnexpectedReboot,
            Kind::ServiceFailed,
        ] {
            instances.push(Instance::new(kind, ""));
        }
        Alerts {
            config: config.clone(),
            started_unix,
            instances,
            overflowed: false,
            unclean_boot: None,
            failed_services: String::new(),
        }
    }

    /// The boot log's finding at start: the previous boot ended without a
    /// clean stop. `unexpected_reboot` fires at the next evaluation.
    pub fn set_unclean_boot(&mut self, unclean: Option<crate::bootlog::Unclean>) {
        self.unclean_boot = unclean;
    }

    /// New thresholds (SIGHUP). Alerts whose rule is gone resolve at the
    /// next evaluation; running commands run on.
    pub fn reconfigure(&mut self, config: &AlertConfig) {
        self.config = config.clone();
    }

    /// The names of the failed services (`a.service, b.service`), for the
    /// `service_failed` message; called when they change (allocates then).
    /// An empty list keeps the last names: the alert resolves at the next
    /// sample, and says so with its own words.
    pub fn note_failed_services(&mut self, names: &str) {
        if !names.is_empty() && self.failed_services != names {
            self.failed_services.clear();
            self.failed_services.push_str(names);
        }
    }

    fn rule(&self, kind: Kind) -> Option<Rule> {
        let c = &self.config;
        match kind {
            Kind::Cpu => c.cpu.map(Rule::from),
            Kind::Memory => c.memory.map(Rule::from),
            Kind::Swap => c.swap.map(Rule::from),
            Kind::Disk => c.disk.map(Rule::from),
            Kind::BackupAge => c.backup_age.map(|d| Rule {
                threshold: d.as_secs() as f64,
                hold: Duration::ZERO,
            }),
            Kind::UpdatesSecurity => c.updates_security.map(|n| Rule {
                threshold: n as f64,
                hold: Duration::ZERO,
            }),
            Kind::UnexpectedReboot => c.unexpected_reboot.map(|_| Rule {
                threshold: 1.0,
                hold: Duration::ZERO,
            }),
            Kind::ServiceFailed => c.service_failed.then_some(Rule {
                threshold: 1.0,
                hold: Duration::ZERO,
            }),
        }
    }

    /// Re-evaluates every alert against `sample` (taken at `now`) and the
    /// jobs' facts. Transitions are logged and queue `alert_command`.
    pub fn evaluate(&mut self, now: Instant, sample: &Sample, jobs: &JobFacts) {
        if self.config.disk.is_some() {
            for disk in &sample.disks {
                let known = self
                    .instances
                    .iter()
                    .any(|i| i.kind == Kind::Disk && i.mount == disk.mount_point);
                if !known {
                    if self.instances.len() < MAX_INSTANCES {
                        self.instances
                            .push(Instance::new(Kind::Disk, &disk.mount_point));
                    } else if !self.overflowed {
                        self.overflowed = true;
                        log::warn(format_args!(
                            "alerts: more than {MAX_INSTANCES} alerts; not watching disk {}",
                            disk.mount_point
                        ));
                    }
                }
            }
        }
        for i in 0..self.instances.len() {
            let kind = self.instances[i].kind;
            let rule = self.rule(kind);
            let measured = rule.and_then(|_| self.measure(i, sample, jobs));
            let instance = &mut self.instances[i];
            if let Some(v) = measured {
                instance.value = v;
            }
            let holds = matches!((measured, rule), (Some(v), Some(r)) if v >= r.threshold);
            let hold = rule.map_or(Duration::ZERO, |r| r.hold);
            let previous = instance.state;
            instance.state = match (instance.state, holds) {
                (State::Ok, false) => State::Ok,
                (State::Pending { .. }, false) => State::Ok,
                (State::Firing { .. }, false) => State::Ok,
                (State::Ok, true) => State::Pending { since: now },
                (state, true) => state,
            };
            if let State::Pending { since } = instance.state {
                if now.saturating_duration_since(since) >= hold {
                    instance.state = State::Firing {
                        since_unix: sample.time_unix_s,
                    };
                }
            }
            let started = matches!(instance.state, State::Firing { .. })
                && !matches!(previous, State::Firing { .. });
            let ended = matches!(previous, State::Firing { .. })
                && !matches!(instance.state, State::Firing { .. });
            if started || ended {
                self.announce(i, started, rule, &sample.hostname);
            }
        }
    }

    /// The current value of instance `i`; `None` when it cannot be measured
    /// (no swap, the disk is gone, no audit result), which never fires.
    fn measure(&self, i: usize, sample: &Sample, jobs: &JobFacts) -> Option<f64> {
        let instance = &self.instances[i];
        match instance.kind {
            Kind::Cpu => Some(sample.cpu.busy),
            Kind::Memory => Some(sample.memory.used_percent()),
            Kind::Swap => {
                (sample.memory.swap_total_bytes > 0).then(|| sample.memory.swap_percent())
            }
            Kind::Disk => sample
                .disks
                .iter()
                .find(|d| d.mount_point == instance.mount)
                .and_then(|d| d.used_percent())
                .map(|p| p as f64),
            Kind::BackupAge => {
                if !jobs.backup_enabled {
                    return None;
                }
                let since = jobs.backup_last_success.unwrap_or(self.started_unix);
                Some(sample.time_unix_s.saturating_sub(since) as f64)
            }
            Kind::UpdatesSecurity => jobs.security_updates.map(|n| n as f64),
            // 1 from the start that found it until `alert_unexpected_reboot` later.
            Kind::UnexpectedReboot => {
                let shown = self.config.unexpected_reboot?.as_secs();
                let fires = self
                    .unclean_boot
                    .is_some_and(|u| sample.time_unix_s < u.found_at.saturating_add(shown));
                Some(f64::from(u8::from(fires)))
            }
            Kind::ServiceFailed => jobs.services_failed.map(f64::from),
        }
    }

    /// Logs a transition of instance `i` and queues the command. Allocates.
    fn announce(&mut self, i: usize, firing: bool, rule: Option<Rule>, hostname: &str) {
        let message = self.message(i, rule);
        let instance = &mut self.instances[i];
        let name = instance.name();
        if firing {
            log::warn(format_args!("alert {name} firing: {message}"));
        } else {
            log::info(format_args!("alert {name} resolved: {message}"));
        }
        if self.config.command.is_some() {
            instance.queued = Some(Event {
                firing,
                name,
                value: format_number(instance.value),
                threshold: rule.map_or(String::new(), |r| format_number(r.threshold)),
                message,
                hostname: owned(hostname),
            });
        }
    }

    /// A sentence for people: what is measured, and the rule.
    fn message(&self, i: usize, rule: Option<Rule>) -> String {
        let instance = &self.instances[i];
        let v = instance.value;
        let mut out = match instance.kind {
            Kind::Cpu => format!("CPU at {}%", Shortest(round1(v))),
            Kind::Memory => format!("memory at {}%", Shortest(round1(v))),
            Kind::Swap => format!("swap at {}%", Shortest(round1(v))),
            Kind::Disk => format!("disk {} at {}%", instance.mount, Shortest(round1(v))),
            Kind::BackupAge => format!(
                "no successful backup for {}",
                format_age(Duration::from_secs(v as u64))
            ),
            Kind::UpdatesSecurity => format!(
                "{} security update{} pending",
                Shortest(v),
                if v == 1.0 { "" } else { "s" }
            ),
            Kind::UnexpectedReboot => unclean_boot_message(self.unclean_boot),
            Kind::ServiceFailed if v == 0.0 => owned("no service failed"),
            Kind::ServiceFailed => format!(
                "{} service{} failed: {}",
                Shortest(v),
                if v == 1.0 { "" } else { "s" },
                self.failed_services
            ),
        };
        match (instance.kind, rule) {
            (_, None) => out.push_str(" (alert removed from the configuration)"),
            (Kind::BackupAge, Some(r)) => {
                let limit = Duration::from_secs(r.threshold as u64);
                let _ = write!(out, " (alert after {})", format_duration(limit));
            }
            (Kind::UpdatesSecurity, Some(r)) => {
                let _ = write!(out, " (alert at {})", Shortest(r.threshold));
            }
            (Kind::UnexpectedReboot, Some(_)) => {
                if let Some(shown) = self.config.unexpected_reboot {
                    let _ = write!(out, " (alert for {} after start)", format_duration(shown));
                }
            }
            (Kind::ServiceFailed, Some(_)) => {}
            (_, Some(r)) if r.hold.is_zero() => {
                let _ = write!(out, " (alert at {}%)", Shortest(r.threshold));
            }
            (_, Some(r)) => {
                let _ = write!(
                    out,
                    " (alert at {}% for {})",
                    Shortest(r.threshold),
                    format_duration(r.hold)
                );
            }
        }
        out
    }

    /// Reaps finished commands, kills those past `alert_timeout`, starts
    /// queued ones. Never blocks.
    pub fn poll_commands(&mut self, now: Instant) {
        let timeout = self.config.timeout;
        for instance in &mut self.instances {
            if let Some(run) = &mut instance.running {
                let pgid = run.child.id();
                match run.child.try_wait() {
                    Ok(Some(status)) => {
                        // Anything the command left behind in its group goes too.
                        let _ = sys::kill_process_group(pgid, libc::SIGKILL);
                        if !status.success() && !run.killed {
                            log::warn(format_args!(
                                "alert_command for {} ended with {status}",
                                instance.name()
                            ));
                        }
                        instance.running = None;
                    }
                    Ok(None) if !run.killed && now >= run.deadline => {
                        // Reaped here or at a later poll (the branch above).
                        sys::kill_child_and_its_group(&mut run.child, Duration::ZERO);
                        run.killed = true;
                        log::warn(format_args!(
                            "alert_command for {} still running after {}; killed",
                            instance.name(),
                            format_duration(timeout)
                        ));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        sys::kill_child_and_its_group(&mut run.child, Duration::ZERO);
                        log::error(format_args!(
                            "alert_command for {}: cannot wait for it: {e}",
                            instance.name()
                        ));
                        instance.running = None;
                    }
                }
            }
            if instance.running.is_none() {
                if let Some(event) = instance.queued.take() {
                    if let Some(command) = &self.config.command {
                        instance.running = spawn(command, &event, now + timeout);
                    }
                }
            }
        }
    }

    /// The earliest kill deadline of a running command. Its exit wakes the
    /// loop before that (SIGCHLD, `sys::wake_on_signals`), and it is reaped then.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.instances
            .iter()
            .filter_map(|i| i.running.as_ref())
            .filter(|r| !r.killed)
            .map(|r| r.deadline)
            .min()
    }

    /// Appends the pid of every running command (started, not yet reaped).
    pub fn command_pids(&self, out: &mut Vec<u32>) {
        out.extend(
            self.instances
                .iter()
                .filter_map(|i| i.running.as_ref())
                .map(|r| r.child.id()),
        );
    }

    pub fn commands_running(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| i.running.is_some())
            .count()
    }

    /// Shutdown: kills and reaps every running command.
    pub fn abandon(&mut self) {
        for instance in &mut self.instances {
            if let Some(mut run) = instance.running.take() {
                // What is not reaped within the wait, `crate::orphans` is.
                sys::kill_child_and_its_group(&mut run.child, Duration::from_millis(20));
            }
        }
    }

    /// The alerts firing now, for `/data.json` (`crate::report` maps them).
    /// Allocates (per request).
    pub fn firing(&self) -> Vec<Firing> {
        (0..self.instances.len())
            .filter_map(|i| {
                let instance = &self.instances[i];
                let State::Firing { since_unix } = instance.state else {
                    return None;
                };
                let rule = self.rule(instance.kind);
                Some(Firing {
                    name: instance.name(),
                    since: since_unix,
                    value: round1(instance.value),
                    threshold: rule.map_or(0.0, |r| r.threshold),
                    message: self.message(i, rule),
                })
            })
            .collect()
    }

    /// `sysmon_alert_firing` for every configured alert, 0 or 1.
    pub fn write_metrics(&self, out: &mut String) {
        out.push_str(
            "# HELP sysmon_alert_firing 1 while the alert is firing, 0 otherwise (configured alerts only).\n\
             # TYPE sysmon_alert_firing gauge\n",
        );
        for instance in &self.instances {
            if self.rule(instance.kind).is_none() {
                continue;
            }
            let firing = u8::from(matches!(instance.state, State::Firing { .. }));
            let _ = write!(
                out,
                "sysmon_alert_firing{{alert=\"{}\"",
                instance.kind.name()
            );
            if instance.kind == Kind::Disk {
                out.push_str(",mountpoint=\"");
                for c in instance.mount.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            let _ = writeln!(out, "}} {firing}");
        }
    }
}

/// Starts `command` for `event`; logs and gives `None` if it cannot.
fn spawn(command: &str, event: &Event, deadline: Instant) -> Option<Running> {
    let state = if event.firing { "firing" } else { "resolved" };
    let mut cmd = Command::new("/bin/sh");
    crate::sys::child_of_daemon(&mut cmd);
    let child = cmd
        .arg("-c")
        .arg(command)
        .env("SYSMON_ALERT", &event.name)
        .env("SYSMON_ALERT_STATE", state)
        .env("SYSMON_ALERT_VALUE", &event.value)
        .env("SYSMON_ALERT_THRESHOLD", &event.threshold)
        .env("SYSMON_ALERT_MESSAGE", &event.message)
        .env("SYSMON_HOSTNAME", &event.hostname)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match child {
        Ok(child) => Some(Running {
            child,
            deadline,
            killed: false,
        }),
        Err(e) => {
            log::error(format_args!(
                "alert_command for {} ({state}): cannot start /bin/sh: {e}",
                event.name
            ));
            None
        }
    }
}

/// What `unexpected_reboot` says: which boot ended, and when sysmon last
/// saw it alive.
fn unclean_boot_message(unclean: Option<crate::bootlog::Unclean>) -> String {
    let Some(u) = unclean else {
        return owned("the previous boot ended cleanly");
    };
    let mut out = format!(
        "the previous boot ({}) ended without a clean stop of sysmon \
         (power loss, kernel panic, watchdog reset?); last seen alive ",
        u.boot.id
    );
    match u.this_boot_time {
        Some(t) if t >= u.boot.last_seen => {
            let gap = Duration::from_secs(t - u.boot.last_seen);
            let _ = write!(out, "{} before this boot", format_age(gap));
        }
        _ => {
            let ago = Duration::from_secs(u.found_at.saturating_sub(u.boot.last_seen));
            let _ = write!(out, "{} before this start", format_age(ago));
        }
    }
    out
}

/// A value for an environment variable: integers without `.0`.
fn format_number(v: f64) -> String {
    let v = round1(v);
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        Shortest(v).to_string()
    }
}

/// `12m`, `37h 12m` (under three days, to compare with limits such as
/// 36h), `3d 4h`: two units at most.
fn format_age(d: Duration) -> String {
    let s = d.as_secs();
    let (hours, minutes) = (s / 3600, s % 3600 / 60);
    match hours {
        0 => format!("{minutes}m"),
        h if h < 72 => format!("{h}h {minutes}m"),
        h => format!("{}d {}h", h / 24, h % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::UpdatesState;
    use crate::config::Config;
    use crate::sample::DiskSample;
    use crate::sys::FsStats;

    fn config(text: &str) -> AlertConfig {
        Config::parse(text.as_bytes(), std::path::Path::new("t.conf"))
            .unwrap()
            .alerts
    }

    fn sample(time: u64, cpu: f64) -> Sample {
        let mut s = Sample {
            time_unix_s: time,
            ..Sample::default()
        };
        s.cpu.busy = cpu;
        s.memory.total_bytes = 1000;
        s.memory.used_bytes = 500;
        s
    }

    fn firing(a: &Alerts) -> Vec<String> {
        a.firing().into_iter().map(|j| j.name).collect()
    }

    #[test]
    fn cpu_fires_after_holding_for_its_duration_and_resolves() {
        let t0 = Instant::now();
        let mut a = Alerts::new(&config("alert_cpu = 90% for 5m"), 0);
        let jobs = JobFacts::default();
        let at = |s: u64| t0 + Duration::from_secs(s);
        a.evaluate(at(0), &sample(1000, 95.0), &jobs);
        assert!(firing(&a).is_empty(), "pending, not firing yet");
        a.evaluate(at(299), &sample(1299, 99.0), &jobs);
        assert!(firing(&a).is_empty());
        a.evaluate(at(300), &sample(1300, 92.5), &jobs);
        let json = a.firing();
        assert_eq!(firing(&a), ["cpu"]);
        assert_eq!(
            (json[0].since, json[0].value, json[0].threshold),
            (1300, 92.5, 90.0)
        );
        assert_eq!(json[0].message, "CPU at 92.5% (alert at 90% for 5m)");
        let mut metrics = String::new();
        a.write_metrics(&mut metrics);
        assert!(
            metrics.contains("\nsysmon_alert_firing{alert=\"cpu\"} 1\n"),
            "{metrics}"
        );
        // Staying high keeps the original start.
        a.evaluate(at(400), &sample(1400, 91.0), &jobs);
        assert_eq!(a.firing()[0].since, 1300);
        a.evaluate(at(405), &sample(1405, 10.0), &jobs);
        assert!(firing(&a).is_empty());
        metrics.clear();
        a.write_metrics(&mut metrics);
        assert!(
            metrics.contains("sysmon_alert_firing{alert=\"cpu\"} 0\n"),
            "{metrics}"
        );
        // A dip resets the hold: high again needs the full 5 minutes.
        a.evaluate(at(500), &sample(1500, 95.0), &jobs);
        a.evaluate(at(600), &sample(1600, 50.0), &jobs);
        a.evaluate(at(700), &sample(1700, 95.0), &jobs);
        a.evaluate(at(900), &sample(1900, 95.0), &jobs);
        assert!(firing(&a).is_empty());
        a.evaluate(at(1000), &sample(2000, 95.0), &jobs);
        assert_eq!(firing(&a), ["cpu"]);
    }

    #[test]
    fn zero_hold_fires_at_the_first_sample_and_unset_rules_never_fire() {
        let mut a = Alerts::new(&config("alert_memory = 50%"), 0);
        let jobs = JobFacts::default();
        a.evaluate(Instant::now(), &sample(1, 100.0), &jobs);
        assert_eq!(firing(&a), ["memory"]);
        let mut metrics = String::new();
        a.write_metrics(&mut metrics);
        assert!(!metrics.contains("alert=\"cpu\""), "{metrics}");
        // Removing the rule (SIGHUP) resolves it.
        a.reconfigure(&AlertConfig::default());
        a.evaluate(Instant::now(), &sample(2, 100.0), &jobs);
        assert!(firing(&a).is_empty());
    }

    #[test]
    fn each_disk_alerts_on_its_own_and_an_unmounted_one_resolves() {
        let disk = |mount: &str, used: u64| DiskSample {
            mount_point: mount.into(),
            stats: Some(FsStats {
                blocks: 100,
                blocks_free: 100 - used,
                blocks_available: 100 - used,
                fragment_size: 4096,
                ..FsStats::default()
            }),
            ..DiskSample::default()
        };
        let mut a = Alerts::new(&config("alert_disk = 90%"), 0);
        let jobs = JobFacts::default();
        let mut s = sample(1, 0.0);
        s.disks = vec![disk("/", 50), disk("/data", 95)];
        a.evaluate(Instant::now(), &s, &jobs);
        assert_eq!(firing(&a), ["disk:/data"]);
        assert_eq!(a.firing()[0].message, "disk /data at 95% (alert at 90%)");
        let mut metrics = String::new();
        a.write_metrics(&mut metrics);
        assert!(
            metrics.contains("sysmon_alert_firing{alert=\"disk\",mountpoint=\"/data\"} 1\n")
                && metrics.contains("sysmon_alert_firing{alert=\"disk\",mountpoint=\"/\"} 0\n"),
            "{metrics}"
        );
        s.disks = vec![disk("/", 50)];
        a.evaluate(Instant::now(), &s, &jobs);
        assert!(firing(&a).is_empty());
    }

    #[test]
    fn backup_age_and_security_updates() {
        let mut a = Alerts::new(
            &config("alert_backup_age = 36h\nalert_updates_security = 2"),
            1_000,
        );
        let backup = |state, last_success_at| BackupSnapshot {
            state,
            progress: None,
            last: None,
            last_success_at,
            last_success: None,
            next_at: None,
        };
        let updates = |n, has_error| UpdatesSnapshot {
            count: Some(n),
            security_count: Some(n),
            has_error,
            ..UpdatesSnapshot::without_answer(UpdatesState::Ok)
        };
        let hours = |h: u64| h * 3600;
        // Never a backup: counted from the daemon's start.
        let jobs = JobFacts::of(&backup(BackupState::Pending, None), &updates(1, false));
        a.evaluate(Instant::now(), &sample(1_000 + hours(36) - 1, 0.0), &jobs);
        assert!(firing(&a).is_empty());
        a.evaluate(Instant::now(), &sample(1_000 + hours(37), 0.0), &jobs);
        assert_eq!(firing(&a), ["backup_age"]);
        assert_eq!(
            a.firing()[0].message,
            "no successful backup for 37h 0m (alert after 36h)"
        );
        // A success (kept by the service through a later failure) clears it.
        let jobs = JobFacts::of(
            &backup(BackupState::Failed, Some(hours(37))),
            &updates(2, false),
        );
        assert_eq!(jobs.backup_last_success, Some(hours(37)));
        a.evaluate(Instant::now(), &sample(hours(38), 0.0), &jobs);
        assert_eq!(firing(&a), ["updates_security"]);
        assert_eq!(
            a.firing()[0].message,
            "2 security updates pending (alert at 2)"
        );
        // An answer with an error (failed, retrying, stale) is not trusted.
        let jobs = JobFacts::of(&backup(BackupState::Ok, Some(hours(38))), &updates(2, true));
        assert_eq!(jobs.security_updates, None);
        // Backups turned off: no age alert, however old.
        let jobs = JobFacts::of(&backup(BackupState::Disabled, None), &updates(0, false));
        a.evaluate(Instant::now(), &sample(hours(1000), 0.0), &jobs);
        assert!(firing(&a).is_empty());
    }

    #[test]
    fn unexpected_reboot_fires_from_start_for_its_duration() {
        let id = crate::proc::boot_id::parse_id(b"5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90").unwrap();
        let unclean = crate::bootlog::Unclean {
            boot: crate::bootlog::Boot {
                id,
                boot_time: Some(1_000),
                last_seen: 5_000,
                end: crate::bootlog::End::Unclean,
            },
            found_at: 9_000,
            this_boot_time: Some(8_600),
        };
        let jobs = JobFacts::default();
        // A clean previous boot: configured (on by default), never fires.
        let mut a = Alerts::new(&config(""), 9_000);
        a.evaluate(Instant::now(), &sample(9_000, 0.0), &jobs);
        assert!(firing(&a).is_empty());
        let mut metrics = String::new();
        a.write_metrics(&mut metrics);
        assert!(
            metrics.contains("sysmon_alert_firing{alert=\"unexpected_reboot\"} 0\n"),
            "{metrics}"
        );
        let mut a = Alerts::new(&config("alert_unexpected_reboot = 1h"), 9_000);
        a.set_unclean_boot(Some(unclean));
        a.evaluate(Instant::now(), &sample(9_000, 0.0), &jobs);
        let json = a.firing();
        assert_eq!(firing(&a), ["unexpected_reboot"]);
        assert_eq!(
            (json[0].since, json[0].value, json[0].threshold),
            (9_000, 1.0, 1.0)
        );
        assert_eq!(
            json[0].message,
            "the previous boot (5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90) ended without a clean \
             stop of sysmon (power loss, kernel panic, watchdog reset?); last seen alive 1h 0m \
             before this boot (alert for 1h after start)"
        );
        a.evaluate(Instant::now(), &sample(9_000 + 3_599, 0.0), &jobs);
        assert_eq!(firing(&a), ["unexpected_reboot"]);
        a.evaluate(Instant::now(), &sample(9_000 + 3_600, 0.0), &jobs);
        assert!(firing(&a).is_empty());
        // Off: never.
        let mut a = Alerts::new(&config("alert_unexpected_reboot = off"), 9_000);
        a.set_unclean_boot(Some(unclean));
        a.evaluate(Instant::now(), &sample(9_000, 0.0), &jobs);
        assert!(firing(&a).is_empty());
    }

    #[test]
    fn formats() {
        assert_eq!(format_number(90.0), "90");
        assert_eq!(format_number(92.54), "92.5");
        assert_eq!(
            format_age(Duration::from_secs(3 * 86_400 + 4 * 3600 + 5)),
            "3d 4h"
        );
        assert_eq!(format_age(Duration::from_secs(720)), "12m");
    }
}
