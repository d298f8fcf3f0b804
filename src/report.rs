//! The `/data.json` schema, in one place. `sysmon sample` prints the same.
//!
//! Rendering allocates (miniserde builds a `String`), so it happens per
//! request, never in the sampler; the HTTP layer caches the bytes per sample.
//! Numbers are numbers, byte counts are integers, percentages are rounded to
//! one decimal, and every float is finite.

use miniserde::Serialize;

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
    /// disabled | pending | running | ok | failed
    pub state: &'static str,
    pub progress: Option<BackupProgressJson>,
    pub last: Option<BackupResultJson>,
    /// Unix time of the next scheduled backup (`backup_every`), if any.
    pub next_at: Option<u64>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct BackupProgressJson {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub source: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct BackupResultJson {
    pub file: Option<String>,
    pub time: u64,
    pub bytes: u64,
    pub files: u64,
    pub skipped: u64,
    pub duration_s: f64,
    pub error: Option<String>,
}

/// The `updates` object. Fields other than `state` are null until known.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct UpdatesJson {
    /// disabled | pending | running | ok | failed | unsupported
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
            alerts: Vec::new(),
        }
    }

    pub fn to_json(&self) -> String {
        miniserde::json::to_string(self)
    }
}
