//! The sampler: keeps the /proc files open and turns them into a [`Sample`].
//!
//! Invariant: once warmed up (the first two samples, or the first after the
//! mount table or CPU count changed), [`Sampler::sample`] performs no heap
//! allocation: every buffer and every `Vec` in the sample is reused, strings
//! are rewritten in place, and per-disk C paths are built only when the mount
//! table changes. A source that fails keeps its last good figures, and its
//! error is reported once, when it starts and when it clears.

use std::ffi::CString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub mod cpu;
pub mod procfile;
mod sources;

use crate::proc::stat::{CpuTicks, Stat};
use crate::proc::{self, ParseError, loadavg::LoadAvg, meminfo::MemInfo, mounts};
use crate::sys::{self, FsStats};
use cpu::CpuPercent;
use procfile::ProcFile;
use sources::Sources;
pub use sources::{
    ContainerSample, DiskIoSample, FreqSample, NetSample, PressureSample, TempSample, ThermalSample,
};

/// CPU figures for one core, identified by the kernel's CPU number.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CoreSample {
    pub id: u32,
    pub percent: CpuPercent,
    pub ticks: CpuTicks,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySample {
    pub total_bytes: u64,
    pub available_bytes: u64,
    /// `total - available`, what is really taken.
    pub used_bytes: u64,
    pub free_bytes: u64,
    pub buffers_cached_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

impl MemorySample {
    pub fn used_percent(&self) -> f64 {
        percent_of(self.used_bytes, self.total_bytes)
    }
    pub fn swap_percent(&self) -> f64 {
        percent_of(self.swap_used_bytes, self.swap_total_bytes)
    }
}

fn percent_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
    }
}

/// One filesystem as `df -B1` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskSample {
    pub mount_point: String,
    pub fs_type: String,
    pub device: String,
    /// `None` while statvfs fails for this mount (e.g. permission denied).
    pub stats: Option<FsStats>,
}

impl DiskSample {
    pub fn total_bytes(&self) -> Option<u64> {
        self.stats.map(|s| s.blocks.saturating_mul(s.fragment_size))
    }
    pub fn used_bytes(&self) -> Option<u64> {
        self.stats.map(|s| {
            s.blocks
                .saturating_sub(s.blocks_free)
                .saturating_mul(s.fragment_size)
        })
    }
    pub fn free_bytes(&self) -> Option<u64> {
        self.stats
            .map(|s| s.blocks_free.saturating_mul(s.fragment_size))
    }
    /// Available to unprivileged users (excludes the root reserve), like df's Avail.
    pub fn available_bytes(&self) -> Option<u64> {
        self.stats
            .map(|s| s.blocks_available.saturating_mul(s.fragment_size))
    }
    /// df's Use%: used / (used + available), rounded up, in whole percent.
    pub fn used_percent(&self) -> Option<u64> {
        self.stats.map(|s| {
            let used = u128::from(s.blocks.saturating_sub(s.blocks_free));
            let denominator = used + u128::from(s.blocks_available);
            if denominator == 0 {
                0
            } else {
                let scaled = used * 100;
                u64::try_from(scaled.div_ceil(denominator)).unwrap_or(100)
            }
        })
    }
}

/// sysmon's own footprint, from /proc/self (always the real one, whatever
/// `--proc-root` says: it describes this process).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessSample {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub open_fds: u64,
    pub threads: u64,
    /// Unix time the process started.
    pub start_time_s: f64,
}

/// Everything the daemon knows about the machine at one instant.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Bumped on every sample, so answers rendered from it can be cached.
    pub generation: u64,
    pub time_unix_s: u64,
    pub hostname: String,
    pub uptime_s: f64,
    pub boot_time_s: Option<u64>,
    pub cpu: CpuPercent,
    pub cpu_ticks: CpuTicks,
    pub cores: Vec<CoreSample>,
    pub load: LoadAvg,
    pub memory: MemorySample,
    /// The raw /proc/meminfo figures behind `memory` (for /metrics).
    pub meminfo: MemInfo,
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
    pub context_switches: Option<u64>,
    pub forks: Option<u64>,
    pub disks: Vec<DiskSample>,
    pub process: ProcessSample,
    /// Per interface, in /proc/net/dev order; empty when the file is absent.
    pub network: Vec<NetSample>,
    /// Per block device with I/O (see [`crate::proc::diskstats::is_virtual_idle`]).
    pub disk_io: Vec<DiskIoSample>,
    pub pressure: PressureSample,
    /// hwmon `temp*_input` sensors, by chip and sensor number.
    pub temperatures: Vec<TempSample>,
    pub thermal_zones: Vec<ThermalSample>,
    /// CPUs with cpufreq, by CPU number.
    pub cpu_frequencies: Vec<FreqSample>,
    /// Our cgroup v2's limits and usage, when it sets a limit.
    pub container: Option<ContainerSample>,
}

impl Sample {
    /// The mean current frequency over the CPUs that report one, in MHz.
    pub fn cpu_frequency_mhz(&self) -> Option<f64> {
        let (sum, n) = self
            .cpu_frequencies
            .iter()
            .filter_map(|f| f.hertz)
            .fold((0.0, 0u32), |(sum, n), hz| (sum + hz as f64, n + 1));
        (n > 0).then(|| sum / f64::from(n) / 1e6)
    }
}

/// Which filesystems to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSelection {
    /// Every mounted filesystem backed by a real device, each device once.
    Auto,
    /// Exactly these mount points, in this order.
    Listed(Vec<PathBuf>),
}

/// A source the sampler reads; indexes `Sampler::failing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Stat,
    MemInfo,
    LoadAvg,
    Uptime,
    Mounts,
    Hostname,
}
const SOURCES: usize = 6;

enum Failure<'a> {
    Io(std::io::Error),
    Parse(ParseError),
    Other(&'a str),
}

impl fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Parse(e) => write!(f, "{e}"),
            Failure::Other(s) => f.write_str(s),
        }
    }
}

pub struct Sampler {
    stat_file: ProcFile,
    meminfo_file: ProcFile,
    loadavg_file: ProcFile,
    uptime_file: ProcFile,
    mounts_file: ProcFile,
    hostname_file: ProcFile,
    min_free_file: ProcFile,
    self_stat_file: ProcFile,
    /// /proc/self/fd, kept open; `None` if it could not be opened.
    self_fds: Option<sys::DirCounter>,
    clock_ticks_per_s: u64,
    page_size: u64,
    stat: Stat,
    /// Scratch copy of the previous per-core figures (reused storage).
    previous_cores: Vec<CoreSample>,
    selection: MountSelection,
    /// The mount table the current disk list was built from.
    mounts_seen: Vec<u8>,
    mounts_built: bool,
    /// The mounts file is procfs's, which signals changes (see `sample_disks`).
    mounts_on_procfs: bool,
    /// `disk_paths[i]` is the NUL-terminated mount point of `Sample::disks[i]`.
    disk_paths: Vec<CString>,
    /// Why each source failed last time (`None`: it did not), so each
    /// error is logged once and `sysmon sample` can refuse to print zeros.
    failing: [Option<String>; SOURCES],
    /// Network, disk I/O, pressure, sensors, container (see `sources.rs`).
    sources: Sources,
}

impl Sampler {
    /// `sys_root` is where sysfs is read (`--sys-root`), for sensors, block
    /// devices and cgroups.
    pub fn new(proc_root: &Path, sys_root: &Path, selection: MountSelection) -> Self {
        let file = |rel: &str| ProcFile::new(proc_root.join(rel));
        Sampler {
            stat_file: file("stat"),
            meminfo_file: file("meminfo"),
            loadavg_file: file("loadavg"),
            uptime_file: file("uptime"),
            mounts_file: file("self/mounts"),
            hostname_file: file("sys/kernel/hostname"),
            min_free_file: file("sys/vm/min_free_kbytes"),
            self_stat_file: ProcFile::new(PathBuf::from("/proc/self/stat")),
            self_fds: sys::DirCounter::open(c"/proc/self/fd").ok(),
            clock_ticks_per_s: sys::clock_ticks_per_second(),
            page_size: sys::page_size(),
            stat: Stat {
                cores: Vec::with_capacity(64),
                ..Stat::default()
            },
            previous_cores: Vec::with_capacity(64),
            selection,
            mounts_seen: Vec::with_capacity(4096),
            mounts_built: false,
            mounts_on_procfs: false,
            disk_paths: Vec::new(),
            failing: Default::default(),
            sources: Sources::new(proc_root, sys_root),
        }
    }

    /// Leaves the network interfaces matching any of `globs` out of every
    /// sample from now on (`network_exclude`).
    pub fn set_network_exclude(&mut self, globs: &[crate::nameglob::NameGlob]) {
        self.sources.set_network_exclude(globs);
    }

    /// Refreshes `out` from /proc. CPU percentages cover the time since the
    /// previous call (since boot on the first). Never fails as a whole: each
    /// source that cannot be read keeps its previous figures in `out`.
    pub fn sample(&mut self, time_unix_s: u64, out: &mut Sample) {
        self.sample_at(std::time::Instant::now(), time_unix_s, out);
    }

    /// [`Sampler::sample`] with the monotonic time that rates are computed
    /// against given by the caller (tests drive a fake clock).
    pub fn sample_at(&mut self, now: std::time::Instant, time_unix_s: u64, out: &mut Sample) {
        out.generation = out.generation.wrapping_add(1);
        out.time_unix_s = time_unix_s;
        let r = self.sample_cpu(out);
        self.note(Source::Stat, r);
        let r = self.sample_memory(out);
        self.note(Source::MemInfo, r);
        let r = match self.loadavg_file.read() {
            Ok(buf) => proc::loadavg::parse(buf)
                .map(|l| out.load = l)
                .map_err(Failure::Parse),
            Err(e) => Err(Failure::Io(e)),
        };
        self.note(Source::LoadAvg, r);
        let r = match self.uptime_file.read() {
            Ok(buf) => proc::uptime::parse(buf)
                .map(|u| out.uptime_s = u)
                .map_err(Failure::Parse),
            Err(e) => Err(Failure::Io(e)),
        };
        self.note(Source::Uptime, r);
        let r = self.sample_hostname(out);
        self.note(Source::Hostname, r);
        let r = self.sample_disks(out);
        self.note(Source::Mounts, r);
        self.sample_process(out);
        self.sources.sample(now, out);
    }

    /// Our own footprint; failures here are not worth a log line.
    fn sample_process(&mut self, out: &mut Sample) {
        if let Some(stat) = self
            .self_stat_file
            .read()
            .ok()
            .and_then(|b| proc::selfstat::parse(b).ok())
        {
            let hz = self.clock_ticks_per_s as f64;
            out.process.cpu_seconds = (stat.user_ticks + stat.system_ticks) as f64 / hz;
            out.process.resident_bytes = stat.rss_pages.saturating_mul(self.page_size);
            out.process.threads = stat.threads;
            if let Some(boot) = out.boot_time_s {
                out.process.start_time_s = boot as f64 + stat.start_ticks as f64 / hz;
            }
        }
        if let Some(counter) = &mut self.self_fds {
            if let Ok(n) = counter.count() {
                out.process.open_fds = n;
            }
        }
    }

    fn sample_cpu(&mut self, out: &mut Sample) -> Result<(), Failure<'static>> {
        let buf = self.stat_file.read().map_err(Failure::Io)?;
        proc::stat::parse(buf, &mut self.stat).map_err(Failure::Parse)?;
        if let Some(p) = cpu::percent(&out.cpu_ticks, &self.stat.total) {
            out.cpu = p;
        }
        out.cpu_ticks = self.stat.total;
        out.boot_time_s = self.stat.boot_time_s;
        out.procs_running = self.stat.procs_running;
        out.procs_blocked = self.stat.procs_blocked;
        out.context_switches = self.stat.context_switches;
        out.forks = self.stat.forks;
        // Match cores by CPU number: hotplug may add or remove any of them.
        // Both lists are in ascending id order, as the kernel prints them.
        self.previous_cores.clear();
        self.previous_cores.extend_from_slice(&out.cores);
        out.cores.clear();
        let mut j = 0;
        for core in &self.stat.cores {
            while j < self.previous_cores.len() && self.previous_cores[j].id < core.id {
                j += 1;
            }
            let previous = self.previous_cores.get(j).filter(|p| p.id == core.id);
            let percent = match previous {
                Some(prev) => cpu::percent(&prev.ticks, &core.ticks).unwrap_or(prev.percent),
                // New (or first seen) core: its share since boot.
                None => cpu::percent(&CpuTicks::default(), &core.ticks).unwrap_or_default(),
            };
            out.cores.push(CoreSample {
                id: core.id,
                percent,
                ticks: core.ticks,
            });
        }
        Ok(())
    }

    fn sample_memory(&mut self, out: &mut Sample) -> Result<(), Failure<'static>> {
        let info: MemInfo = proc::meminfo::parse(self.meminfo_file.read().map_err(Failure::Io)?)
            .map_err(Failure::Parse)?;
        // Needed only by kernels older than 3.14; absent min_free_kbytes means no reserve.
        let min_free_bytes = if info.available_bytes.is_none() {
            self.min_free_file
                .read()
                .ok()
                .and_then(|b| proc::parse_u64(b.trim_ascii()))
                .map_or(0, |kib| kib.saturating_mul(1024))
        } else {
            0
        };
        let available = info.available_bytes(min_free_bytes);
        out.meminfo = info;
        out.memory = MemorySample {
            total_bytes: info.total_bytes,
            available_bytes: available,
            used_bytes: info.total_bytes.saturating_sub(available),
            free_bytes: info.free_bytes,
            buffers_cached_bytes: info.buffers_cached_bytes(),
            swap_total_bytes: info.swap_total_bytes,
            swap_used_bytes: info.swap_total_bytes.saturating_sub(info.swap_free_bytes),
        };
        Ok(())
    }

    fn sample_hostname(&mut self, out: &mut Sample) -> Result<(), Failure<'static>> {
        let raw = self.hostname_file.read().map_err(Failure::Io)?.trim_ascii();
        let name =
            std::str::from_utf8(raw).map_err(|_| Failure::Other("host name is not UTF-8"))?;
        if out.hostname != name {
            out.hostname.clear();
            out.hostname.push_str(name);
        }
        Ok(())
    }

    fn sample_disks(&mut self, out: &mut Sample) -> Result<(), Failure<'static>> {
        // On procfs the kernel flags mount-table changes with POLLPRI: one
        // cheap poll instead of regenerating the whole table every sample
        // (the costliest /proc read here). Elsewhere (fixtures) re-read.
        let fd = self.mounts_file.raw_fd();
        let unchanged = self.mounts_built
            && self.mounts_on_procfs
            && fd.is_some_and(|fd| !sys::mount_table_changed(fd));
        if !unchanged {
            self.refresh_mount_table(out)?;
        }
        for (disk, path) in out.disks.iter_mut().zip(&self.disk_paths) {
            disk.stats = sys::statvfs(path).ok();
        }
        Ok(())
    }

    fn refresh_mount_table(&mut self, out: &mut Sample) -> Result<(), Failure<'static>> {
        let table = self.mounts_file.read().map_err(Failure::Io)?;
        if !self.mounts_built || table != self.mounts_seen.as_slice() {
            // A malformed line means a cut-off or foreign file: keep the disks we have.
            if let Some(Err(e)) = mounts::entries(table).find(Result::is_err) {
                return Err(Failure::Parse(e));
            }
            self.mounts_seen.clear();
            self.mounts_seen.extend_from_slice(table);
            self.mounts_built = true;
            self.rebuild_disks(out);
        }
        self.mounts_on_procfs = self.mounts_file.raw_fd().is_some_and(sys::is_procfs);
        Ok(())
    }

    /// Rebuilds the disk list after the mount table changed. Allocates.
    fn rebuild_disks(&mut self, out: &mut Sample) {
        out.disks.clear();
        self.disk_paths.clear();
        let text = |raw: &[u8]| String::from_utf8_lossy(&mounts::unescape(raw)).into_owned();
        let entries = mounts::entries(&self.mounts_seen).filter_map(Result::ok);
        match &self.selection {
            MountSelection::Auto => {
                for entry in entries.filter(mounts::is_real_filesystem) {
                    let device = text(entry.device);
                    let mount_point = text(entry.mount_point);
                    // One line per device, like df: a bind mount or a second
                    // mount of the same device yields to the shorter path.
                    if let Some(i) = out.disks.iter().position(|d| d.device == device) {
                        if mount_point.len() < out.disks[i].mount_point.len() {
                            out.disks[i].mount_point = mount_point;
                        }
                        continue;
                    }
                    out.disks.push(DiskSample {
                        mount_point,
                        fs_type: text(entry.fs_type),
                        device,
                        stats: None,
                    });
                }
                // Zero-sized filesystems are pseudo ones however they are mounted.
                out.disks.retain(|d| {
                    let path = CString::new(d.mount_point.as_bytes()).ok();
                    path.and_then(|p| sys::statvfs(&p).ok())
                        .is_some_and(|s| s.blocks > 0)
                });
            }
            MountSelection::Listed(paths) => {
                for path in paths {
                    let wanted = path.as_os_str().as_bytes();
                    // The last mount on a path is the one in effect.
                    let entry = mounts::entries(&self.mounts_seen)
                        .filter_map(Result::ok)
                        .filter(|e| mounts::unescape(e.mount_point) == wanted)
                        .last();
                    out.disks.push(DiskSample {
                        mount_point: path.to_string_lossy().into_owned(),
                        fs_type: entry.map(|e| text(e.fs_type)).unwrap_or_default(),
                        device: entry.map(|e| text(e.device)).unwrap_or_default(),
                        stats: None,
                    });
                }
            }
        }
        for disk in &out.disks {
            // A mount point cannot contain NUL; fall back to "/" defensively.
            let path =
                CString::new(disk.mount_point.as_bytes()).unwrap_or_else(|_| c"/".to_owned());
            self.disk_paths.push(path);
        }
    }

    fn note(&mut self, source: Source, result: Result<(), Failure<'_>>) {
        let path = match source {
            Source::Stat => self.stat_file.path(),
            Source::MemInfo => self.meminfo_file.path(),
            Source::LoadAvg => self.loadavg_file.path(),
            Source::Uptime => self.uptime_file.path(),
            Source::Mounts => self.mounts_file.path(),
            Source::Hostname => self.hostname_file.path(),
        };
        let slot = &mut self.failing[source as usize];
        match result {
            // Allocates only on a transition, never in the steady state.
            Err(e) if slot.is_none() => {
                let why = format!("{}: {e}", path.display());
                crate::log::warn(format_args!("{why} (keeping the previous figures)"));
                *slot = Some(why);
            }
            Ok(()) if slot.is_some() => {
                *slot = None;
                crate::log::info(format_args!("{}: readable again", path.display()));
            }
            _ => {}
        }
    }

    /// `FILE: why` for each /proc source the last sample could not read.
    pub fn failures(&self) -> impl Iterator<Item = &str> {
        self.failing.iter().flatten().map(String::as_str)
    }
}
