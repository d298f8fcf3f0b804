//! The `/data.json` schema, in one place. `sysmon sample` prints the same.
//!
//! Rendering allocates (miniserde builds a `String`), so it happens per
//! request, never in the sampler; the HTTP layer caches the bytes per sample.
//! Numbers are numbers, byte counts are integers, percentages are rounded to
//! one decimal, and every float is finite.

use miniserde::{Deserialize, Serialize};

use crate::sample::Sample;

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
}

/// One firing alert.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AlertJson {
    /// `cpu`, `memory`, `swap`, `disk:<mount point>`, `backup_age`, `updates_security`.
    pub name: String,
    /// Unix time it started firing.
    pub since: u64,
    /// The measured value: percent, seconds (backup_age) or a count.
    pub value: f64,
    /// The configured threshold, in the same unit.
    pub threshold: f64,
    pub message: String,
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

/// The `backup` object. Fields other than `state` are null until known.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct BackupJson {
    /// disabled | pending | running | ok | partial | failed. `partial`: the
    /// last archive was written but `last.skipped_permission` files could not
    /// be read (an incomplete backup is never plain `ok`).
    pub state: &'static str,
    pub progress: Option<BackupProgressJson>,
    pub last: Option<BackupResultJson>,
    /// Unix time of the next scheduled backup (`backup_every`), if any.
    pub next_at: Option<u64>,
}

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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct BackupResultJson {
    pub file: Option<String>,
    pub time: u64,
    pub bytes: u64,
    pub files: u64,
    pub skipped: u64,
    /// Of `skipped`, those sysmon was not allowed to read (null in results
    /// recorded by versions before it was counted).
    pub skipped_permission: Option<u64>,
    pub duration_s: f64,
    pub error: Option<String>,
    /// The first skipped (or changed-while-read) paths, capped at 100.
    pub skipped_list: Vec<SkippedJson>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SkippedJson {
    pub path: String,
    pub reason: String,
}

/// The `updates` object. Fields other than `state` are null until known.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct UpdatesJson {
    /// disabled | pending | running | ok | stale | failed | unsupported.
    /// `stale`: the answer may be out of date (`error` says why); `count` is
    /// null when the package lists were never downloaded (unknown, not 0).
    pub state: &'static str,
    pub manager: Option<String>,
    pub checked_at: Option<u64>,
    pub count: Option<u64>,
    pub security_count: Option<u64>,
    pub packages: Vec<PackageJson>,
    pub truncated: bool,
    pub error: Option<String>,
    pub stale: bool,
    pub reboot_required: Option<bool>,
    pub lists_age_s: Option<u64>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct PackageJson {
    pub name: String,
    pub current: String,
    pub new: String,
    pub security: bool,
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

/// Rounds to one decimal for display; maps anything non-finite to 0.
pub fn round1(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10.0).round() / 10.0
    } else {
        0.0
    }
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
        }
    }

    pub fn to_json(&self) -> String {
        miniserde::json::to_string(self)
    }
}
