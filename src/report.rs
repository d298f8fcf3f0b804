//! The `/data.json` schema, in one place. `sysmon sample` prints the same.
//!
//! The edge where typed state becomes JSON: the sample's figures, and the
//! jobs' `Copy` snapshots ([`crate::backup::BackupSnapshot`],
//! [`crate::audit::UpdatesSnapshot`]) with the lists their services keep.
//! Rendering allocates (miniserde builds a `String`), so it happens per
//! request, never in the sampler; [`DataJsonCache`] keeps the bytes and
//! renders again only for a new sample or while a job moves.
//! Numbers are numbers, byte counts are integers, percentages are rounded to
//! one decimal, and every float is finite.

use crate::num::round1;
use miniserde::Serialize;

use crate::audit::AuditService;
use crate::backup::BackupService;
use crate::backup::job::Progress;
use crate::backup::record::LastBackup;
use crate::sample::{DiskProblem, Sample};

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DataJson {
    pub version: &'static str,
    pub hostname: String,
    pub time: u64,
    pub uptime_s: f64,
    pub interval_s: f64,
    pub cpu: CpuJson,
    pub load: [f64; 3],
    pub memory: MemoryJson,
    pub disks: Vec<DiskJson>,
    /// The listed or found mounts without figures, and why (a failed
    /// `statvfs`, a server that does not answer): `disks` has only those
    /// with figures.
    pub disk_errors: Vec<DiskErrorJson>,
    /// `FILE: why` for each source whose last reading failed (CPU, memory,
    /// load, uptime, mounts, host name, network, disk I/O, the process
    /// listing): its figures here are the last good ones.
    pub source_errors: Vec<String>,
    pub backup: BackupJson,
    pub updates: UpdatesJson,
    pub network: Vec<NetworkJson>,
    pub disk_io: Vec<DiskIoJson>,
    pub temperatures: Vec<TemperatureJson>,
    pub pressure: PressureJson,
    pub processes: ProcessesJson,
    /// Null unless our cgroup v2 sets a CPU or memory limit.
    pub container: Option<ContainerJson>,
    #[serde(rename = "self")]
    pub self_: SelfJson,
    /// The alerts firing now (empty when none; see [`crate::alerts`]).
    pub alerts: Vec<AlertJson>,
    /// The boot log ([`crate::bootlog`]); null without one (no boot id,
    /// no state directory, or `sysmon sample`).
    pub boots: Option<BootsJson>,
    /// The init system's services (see [`crate::services`]).
    pub services: ServicesJson,
    /// The top processes; null when `top_processes = 0`.
    pub top: Option<TopJson>,
}

/// The most mounts `disk_errors` lists: the mount table is not sysmon's
/// (a user may mount a thousand sshfs shares, FUSE's default `mount_max`),
/// and each entry is a dashboard card; the log has the rest.
pub const DISK_ERRORS_SHOWN: usize = 32;

/// How many previous boots /data.json lists (the file keeps 100).
pub const BOOTS_SHOWN: usize = 10;

/// The boot log: this boot, the last [`BOOTS_SHOWN`] before it (newest
/// first), and counts over the whole log.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct BootsJson {
    pub current: CurrentBootJson,
    pub previous: Vec<PreviousBootJson>,
    /// Boots in the log, this one included (at most 100).
    pub recorded: usize,
    /// Boots in the log that ended without a clean stop.
    pub unclean: usize,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct CurrentBootJson {
    pub boot_id: String,
    /// Unix time of the boot (`btime`).
    pub boot_time: Option<u64>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PreviousBootJson {
    pub boot_id: String,
    pub boot_time: Option<u64>,
    /// Unix time sysmon last saw it alive (or stopped).
    pub last_seen: u64,
    /// sysmon was stopped cleanly before it ended.
    pub clean: bool,
}

impl BootsJson {
    pub fn new(log: &crate::bootlog::BootLog) -> BootsJson {
        let boots = log.boots();
        let current = log.current();
        let summary = log.summary();
        BootsJson {
            current: CurrentBootJson {
                boot_id: current.id.to_string(),
                boot_time: current.boot_time,
            },
            previous: boots[..boots.len() - 1]
                .iter()
                .rev()
                .take(BOOTS_SHOWN)
                .map(|b| PreviousBootJson {
                    boot_id: b.id.to_string(),
                    boot_time: b.boot_time,
                    last_seen: b.last_seen,
                    clean: b.end != crate::bootlog::End::Unclean,
                })
                .collect(),
            recorded: summary.recorded,
            unclean: summary.unclean,
        }
    }
}

/// `services`: what [`crate::services`] read at its last poll.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct ServicesJson {
    /// `systemd`, `openrc`, `runit`; null when not watched.
    pub init: Option<&'static str>,
    /// Unix time of the last read that listed the services (a runit read
    /// with unreadable files too: see `error`); null before the first.
    pub polled_at: Option<u64>,
    pub error: Option<String>,
    /// Listed services per state (systemd's five words).
    pub active: u32,
    pub activating: u32,
    pub deactivating: u32,
    pub inactive: u32,
    pub failed: u32,
    /// Failed but matched by `services_ignore` (not in `failed`).
    pub ignored: u32,
    /// More than 1024 units: the rest were not read.
    pub truncated: bool,
    /// The failed services (ignored ones included, marked), by name.
    pub problems: Vec<ServiceProblemJson>,
}

/// One failed service.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ServiceProblemJson {
    pub name: String,
    /// `failed` (systemd), `crashed`, `failed_to_start`, `stopped` (OpenRC),
    /// `down`, `restarting` (runit).
    pub problem: &'static str,
    /// Unix time of the change into this state (when the init system
    /// records it, else when sysmon first saw it); null if unknown.
    pub since: Option<u64>,
    pub ignored: bool,
}

impl ServicesJson {
    pub fn new(services: &crate::services::Services) -> ServicesJson {
        let snap = services.snapshot();
        let mut problems: Vec<ServiceProblemJson> = services
            .all()
            .iter()
            .filter(|s| s.listed)
            .filter_map(|s| {
                Some(ServiceProblemJson {
                    name: s.name.clone(),
                    problem: s.problem?.name(),
                    since: s.since,
                    ignored: s.ignored,
                })
            })
            .collect();
        // Service names are distinct: the unstable crate sort is exact.
        crate::sort::sort_by(&mut problems, |a, b| {
            (a.ignored, &a.name).cmp(&(b.ignored, &b.name))
        });
        // The failed count is the one not ignored, not the state count.
        let [active, activating, deactivating, inactive, _] = snap.counts;
        ServicesJson {
            init: snap.init.map(crate::services::Init::name),
            polled_at: snap.polled_at,
            error: services.error().map(str::to_string),
            active,
            activating,
            deactivating,
            inactive,
            failed: snap.failed,
            ignored: snap.ignored,
            truncated: snap.truncated,
            problems,
        }
    }
}

/// The top `top_processes` processes by CPU over the last interval and by
/// resident memory ([`crate::sample::top`]).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TopJson {
    /// Highest share first; only processes that used CPU in the interval
    /// (empty until a second reading).
    pub by_cpu: Vec<TopProcessJson>,
    /// Seconds `by_cpu`'s shares cover: since the reading before, however
    /// old (with `top_every = off`, the first answer after an idle spell
    /// covers the whole spell). Null at the first reading (no interval).
    pub cpu_window_s: Option<f64>,
    /// Highest RSS first.
    pub by_memory: Vec<TopProcessJson>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TopProcessJson {
    pub pid: u32,
    /// The kernel's name for it (`comm`).
    pub name: String,
    /// The effective user's name, or the uid in decimal when unknown.
    pub user: String,
    pub uid: u32,
    /// Of one CPU: a process using two cores fully shows 200.
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// Arguments joined by spaces, at most 120 bytes (`...` when cut);
    /// `[name]` for a kernel thread.
    pub command: String,
}

impl TopJson {
    /// The lists of `top`; `None` when it is off.
    pub fn new(top: &crate::sample::TopSample) -> Option<TopJson> {
        let rows = |list: &[crate::sample::TopProcess]| {
            list.iter()
                .map(|p| TopProcessJson {
                    pid: p.pid,
                    name: p.name.as_str().to_string(),
                    user: p.user.as_str().to_string(),
                    uid: p.uid,
                    cpu_percent: round1(p.cpu_percent),
                    rss_bytes: p.rss_bytes,
                    command: p.command.as_str().to_string(),
                })
                .collect()
        };
        top.enabled.then(|| TopJson {
            by_cpu: rows(&top.by_cpu),
            cpu_window_s: top.cpu_window_s.map(round1),
            by_memory: rows(&top.by_memory),
        })
    }
}

/// One firing alert.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AlertJson {
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

impl From<crate::alerts::Firing> for AlertJson {
    fn from(a: crate::alerts::Firing) -> AlertJson {
        AlertJson {
            name: a.name,
            since: a.since,
            value: a.value,
            threshold: a.threshold,
            message: a.message,
        }
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct CpuJson {
    pub percent: f64,
    pub iowait_percent: f64,
    pub steal_percent: f64,
    pub cores: Vec<CoreJson>,
    /// Mean current frequency of the CPUs exposing cpufreq; null without.
    pub frequency_mhz: Option<f64>,
}

/// One interface; rates over the last sampling interval.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct NetworkJson {
    pub device: String,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DiskIoJson {
    pub device: String,
    pub whole_disk: bool,
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    pub busy_percent: f64,
}

/// hwmon sensors, then thermal zones (chip `thermal_zoneN`, sensor its type).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TemperatureJson {
    pub chip: String,
    pub sensor: String,
    pub celsius: f64,
}

/// avg10 percentages; null when the kernel does not report them.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct PressureJson {
    pub cpu_some_avg10: Option<f64>,
    pub memory_some_avg10: Option<f64>,
    pub memory_full_avg10: Option<f64>,
    pub io_some_avg10: Option<f64>,
    pub io_full_avg10: Option<f64>,
}

/// `running` runnable now; `total` threads (scheduling entities) that exist.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ProcessesJson {
    pub running: u64,
    pub total: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ContainerJson {
    /// null when unlimited.
    pub cpu_limit_cores: Option<f64>,
    /// Of the limit, or of all host CPUs when unlimited.
    pub cpu_usage_percent: f64,
    /// null when unlimited.
    pub memory_limit: Option<u64>,
    pub memory_used: Option<u64>,
}

/// sysmon's own footprint.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SelfJson {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    pub open_fds: u64,
    pub threads: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct CoreJson {
    pub id: u32,
    pub percent: f64,
    pub iowait_percent: f64,
    pub steal_percent: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct MemoryJson {
    pub total: u64,
    pub available: u64,
    pub used: u64,
    pub percent: f64,
    pub buffers_cached: u64,
    pub swap_total: u64,
    pub swap_used: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DiskJson {
    pub mount: String,
    pub fs: String,
    pub device: String,
    pub total: u64,
    pub used: u64,
    pub available: u64,
    /// As df prints Use%: whole percent, rounded up.
    pub percent: u64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct DiskErrorJson {
    pub mount: String,
    pub fs: String,
    pub device: String,
    pub error: String,
}

/// The `backup` object. Fields other than `state` are null until known.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct BackupJson {
    /// disabled | pending | running | ok | partial | failed
    /// ([`crate::backup::BackupState`]). `partial`: the last archive was
    /// written but `last.skipped_permission` files could not be read (an
    /// incomplete backup is never plain `ok`).
    pub state: &'static str,
    pub progress: Option<BackupProgressJson>,
    /// The record kept in `state_dir`, as it is ([`LastBackup`]).
    pub last: Option<LastBackup>,
    /// Unix time of the next scheduled backup (`backup_every`), if any.
    pub next_at: Option<u64>,
    /// Why the due or running backup waits: a network or FUSE mount among
    /// its paths whose server has not answered for 5 s; null otherwise.
    pub waiting: Option<String>,
}

/// [`Progress`] plus the source being walked.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct BackupProgressJson {
    /// scanning | archiving | finishing
    pub phase: &'static str,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub source: String,
}

impl BackupJson {
    /// The backup's state as /data.json shows it.
    pub fn new(backup: &BackupService) -> BackupJson {
        let snap = backup.snapshot();
        BackupJson {
            state: snap.state.name(),
            progress: snap.progress.map(|p| progress_json(p, backup.source())),
            last: backup.last().cloned(),
            next_at: snap.next_at,
            waiting: backup.waiting(),
        }
    }
}

fn progress_json(p: Progress, source: Option<&str>) -> BackupProgressJson {
    BackupProgressJson {
        phase: p.phase.name(),
        files_done: p.files_done,
        files_total: p.files_total,
        bytes_done: p.bytes_done,
        bytes_total: p.bytes_total,
        source: source.unwrap_or_default().to_string(),
    }
}

/// The `updates` object. Fields other than `state` are null until known.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct UpdatesJson {
    /// disabled | pending | running | ok | stale | failed | unsupported
    /// ([`crate::audit::UpdatesState`]). `stale`: the answer may be out of
    /// date (`error` says why); `count` is null when the package lists were
    /// never downloaded (unknown, not 0).
    pub state: &'static str,
    pub manager: Option<String>,
    pub checked_at: Option<u64>,
    pub count: Option<u64>,
    /// null with updates pending when the manager could not say which fix
    /// security issues; `security_unknown` says why.
    pub security_count: Option<u64>,
    /// Why security is unknown (no arch-audit, dnf's advisory list failed).
    pub security_unknown: Option<String>,
    pub packages: Vec<PackageJson>,
    pub truncated: bool,
    pub error: Option<String>,
    pub stale: bool,
    pub reboot_required: Option<bool>,
    /// Why, when known: "kernel 6.1.0-18-amd64 running, 6.1.0-21-amd64
    /// installed; requested by linux-image-6.1.0-21-amd64".
    pub reboot_reason: Option<String>,
    pub lists_age_s: Option<u64>,
    /// Processes mapping deleted programs or libraries, by service; null
    /// until the scan after the first audit has finished.
    pub restart_needed: Option<Vec<RestartJson>>,
    /// How many processes need a restart (all, past the listed groups' caps).
    pub restart_processes: Option<u64>,
}

/// Processes of one service (or one command outside any) needing a restart.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct RestartJson {
    /// The systemd unit, runit or OpenRC service; null outside any.
    pub service: Option<String>,
    pub command: String,
    pub pids: Vec<u32>,
    /// The deleted programs and libraries they still map.
    pub files: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct PackageJson {
    pub name: String,
    pub current: String,
    pub new: String,
    pub security: bool,
}

impl UpdatesJson {
    /// The audit's state as /data.json and `sysmon audit --json` show it.
    pub fn new(audit: &AuditService) -> UpdatesJson {
        let snap = audit.snapshot();
        UpdatesJson {
            state: snap.state.name(),
            manager: snap.manager.map(str::to_string),
            checked_at: snap.checked_at,
            count: snap.count,
            security_count: snap.security_count,
            security_unknown: audit.last_result().and_then(|r| match &r.outcome {
                Ok(parsed) => parsed.security_unavailable.clone(),
                Err(_) => None,
            }),
            packages: audit
                .packages()
                .iter()
                .map(|p| PackageJson {
                    name: p.name.clone(),
                    current: p.current.clone(),
                    new: p.new.clone(),
                    security: p.security,
                })
                .collect(),
            truncated: snap.truncated,
            error: audit.error().map(str::to_string),
            stale: snap.stale,
            reboot_required: snap.reboot_required,
            reboot_reason: audit.last_result().and_then(|r| r.reboot.reason()),
            lists_age_s: snap.lists_age_s,
            restart_needed: audit.restart_scan().map(|scan| {
                scan.groups
                    .iter()
                    .map(|g| RestartJson {
                        service: g.service.clone(),
                        command: g.command.clone(),
                        pids: g.pids.clone(),
                        files: g.files.clone(),
                    })
                    .collect()
            }),
            restart_processes: snap.restart_processes,
        }
    }
}

/// Readable sensors: hwmon first (labelled when the driver names them),
/// then thermal zones.
fn temperatures(sample: &Sample) -> Vec<TemperatureJson> {
    let hwmon = sample.temperatures.iter().filter_map(|t| {
        Some(TemperatureJson {
            chip: t.chip_name.clone(),
            sensor: t.label.clone().unwrap_or_else(|| t.sensor.clone()),
            celsius: round1(t.celsius?),
        })
    });
    let zones = sample.thermal_zones.iter().filter_map(|z| {
        Some(TemperatureJson {
            chip: format!("thermal_zone{}", z.zone),
            sensor: z.kind.clone(),
            celsius: round1(z.celsius?),
        })
    });
    hwmon.chain(zones).collect()
}

impl DataJson {
    pub fn new(
        sample: &Sample,
        interval_s: f64,
        backup: BackupJson,
        updates: UpdatesJson,
    ) -> DataJson {
        let m = &sample.memory;
        DataJson {
            version: env!("CARGO_PKG_VERSION"),
            hostname: sample.hostname.clone(),
            time: sample.time_unix_s,
            uptime_s: round1(sample.uptime_s),
            interval_s,
            cpu: CpuJson {
                percent: round1(sample.cpu.busy),
                iowait_percent: round1(sample.cpu.iowait),
                steal_percent: round1(sample.cpu.steal),
                cores: sample
                    .cores
                    .iter()
                    .map(|c| CoreJson {
                        id: c.id,
                        percent: round1(c.percent.busy),
                        iowait_percent: round1(c.percent.iowait),
                        steal_percent: round1(c.percent.steal),
                    })
                    .collect(),
                frequency_mhz: sample.cpu_frequency_mhz().map(round1),
            },
            load: sample
                .load
                .load
                .map(|l| if l.is_finite() { l } else { 0.0 }),
            memory: MemoryJson {
                total: m.total_bytes,
                available: m.available_bytes,
                used: m.used_bytes,
                percent: round1(m.used_percent()),
                buffers_cached: m.buffers_cached_bytes,
                swap_total: m.swap_total_bytes,
                swap_used: m.swap_used_bytes,
            },
            disks: sample
                .disks
                .iter()
                .filter_map(|d| {
                    Some(DiskJson {
                        mount: d.mount_point.clone(),
                        fs: d.fs_type.clone(),
                        device: d.device.clone(),
                        total: d.total_bytes()?,
                        used: d.used_bytes()?,
                        available: d.available_bytes()?,
                        percent: d.used_percent()?,
                    })
                })
                .collect(),
            disk_errors: sample
                .disks
                .iter()
                .filter_map(|d| match d.problem {
                    // A network mount's figures come a sample late: not a fault.
                    None | Some(DiskProblem::NoAnswerYet) => None,
                    Some(problem) => Some(DiskErrorJson {
                        mount: d.mount_point.clone(),
                        fs: d.fs_type.clone(),
                        device: d.device.clone(),
                        error: problem.to_string(),
                    }),
                })
                .take(DISK_ERRORS_SHOWN)
                .collect(),
            source_errors: Vec::new(),
            backup,
            updates,
            network: sample
                .network
                .iter()
                .map(|n| NetworkJson {
                    device: n.device.clone(),
                    rx_bytes: n.counters.rx_bytes,
                    tx_bytes: n.counters.tx_bytes,
                    rx_bytes_per_s: round1(n.rx_bytes_per_s),
                    tx_bytes_per_s: round1(n.tx_bytes_per_s),
                    rx_errors: n.counters.rx_errors,
                    tx_errors: n.counters.tx_errors,
                })
                .collect(),
            disk_io: sample
                .disk_io
                .iter()
                .map(|d| DiskIoJson {
                    device: d.device.clone(),
                    whole_disk: d.whole_disk,
                    read_bytes_per_s: round1(d.read_bytes_per_s),
                    write_bytes_per_s: round1(d.write_bytes_per_s),
                    busy_percent: round1(d.busy_percent),
                })
                .collect(),
            temperatures: temperatures(sample),
            pressure: {
                let p = &sample.pressure;
                // The kernel prints two decimals: shown as they are.
                let avg10 = |x: Option<f64>| x.filter(|v| v.is_finite());
                PressureJson {
                    cpu_some_avg10: avg10(p.cpu.map(|c| c.some.avg10)),
                    memory_some_avg10: avg10(p.memory.map(|m| m.some.avg10)),
                    memory_full_avg10: avg10(p.memory.and_then(|m| m.full).map(|f| f.avg10)),
                    io_some_avg10: avg10(p.io.map(|i| i.some.avg10)),
                    io_full_avg10: avg10(p.io.and_then(|i| i.full).map(|f| f.avg10)),
                }
            },
            processes: ProcessesJson {
                running: sample.procs_running.unwrap_or(sample.load.running),
                total: sample.load.total,
            },
            container: sample.container.map(|c| ContainerJson {
                cpu_limit_cores: c.cpu_limit_cores.map(|x| (x * 100.0).round() / 100.0),
                cpu_usage_percent: round1(c.cpu_usage_percent),
                memory_limit: c.memory_limit_bytes,
                memory_used: c.memory_used_bytes,
            }),
            self_: SelfJson {
                rss_bytes: sample.process.resident_bytes,
                cpu_seconds: (sample.process.cpu_seconds * 100.0).round() / 100.0,
                open_fds: sample.process.open_fds,
                threads: sample.process.threads,
            },
            alerts: Vec::new(),
            boots: None,
            services: ServicesJson::default(),
            top: TopJson::new(&sample.top),
        }
    }

    pub fn to_json(&self) -> String {
        miniserde::json::to_string(self)
    }
}

/// /data.json as last rendered, and the sample generation it shows.
#[derive(Default)]
pub struct DataJsonCache {
    shown: Option<(u64, Vec<u8>)>,
    /// The boot log as of start (it changes only when sysmon starts).
    boots: Option<BootsJson>,
}

impl DataJsonCache {
    /// The document for now: the last render while it shows the current
    /// sample and no job moves (a running job's progress changes between
    /// samples), else a new one. `fill` is called only to render: it sets
    /// what the caller holds (the alerts firing, the sources' errors).
    pub fn body(
        &mut self,
        sample: &Sample,
        interval_s: f64,
        backup: &BackupService,
        audit: &AuditService,
        services: &crate::services::Services,
        fill: impl FnOnce(&mut DataJson),
    ) -> &[u8] {
        let jobs_moving = backup.is_running() || audit.is_running();
        let generation = sample.generation;
        let fresh = matches!(&self.shown, Some((g, _)) if *g == generation && !jobs_moving);
        if !fresh {
            let mut json = DataJson::new(
                sample,
                interval_s,
                BackupJson::new(backup),
                UpdatesJson::new(audit),
            );
            json.boots = self.boots.clone();
            json.services = ServicesJson::new(services);
            fill(&mut json);
            self.shown = Some((generation, json.to_json().into_bytes()));
        }
        self.shown
            .as_ref()
            .map_or(&[][..], |(_, body)| body.as_slice())
    }

    /// Forgets the last render (the configuration changed).
    pub fn clear(&mut self) {
        self.shown = None;
    }

    /// The `boots` object from now on (`None`: null).
    pub fn set_boots(&mut self, boots: Option<BootsJson>) {
        self.boots = boots;
        self.shown = None;
    }
}
