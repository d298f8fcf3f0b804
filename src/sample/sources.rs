//! The sampler's newer sources: network interfaces, block-device I/O,
//! pressure stall information, temperatures, CPU frequency and the cgroup v2
//! container we may run in. Each one missing on a machine is left out (an
//! empty list or `None`), never an error.
//!
//! Invariant: once warm, [`Sources::sample`] does not allocate. Interface and
//! device names are `String`s rebuilt only when the set of names changes;
//! sensor directories are listed with [`sys::DirCounter`] (getdents into a
//! fixed buffer) at most every [`RESCAN_EVERY`], or [`RESCAN_AFTER_FAILURE`]
//! after a read failed, and the sensor lists are rebuilt (allocating, with
//! `read_dir`) only when such a listing differs from the last one.
//! Rates are the difference between two readings over the monotonic time
//! between them, never negative: a counter that went backwards (a reset, an
//! interface re-created) gives 0 for that interval.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Sample;
use super::procfile::ProcFile;
use crate::nameglob::NameGlob;
use crate::proc::diskstats::{self, DiskCounters};
use crate::proc::netdev::{self, NetCounters};
use crate::proc::pressure::{self, Pressure};
use crate::proc::{ParseError, cgroup, sysfs};
use crate::sys::DirCounter;

/// How often the sensor directories are listed again (hot-plugged sensors,
/// CPUs brought online, a container moved to another cgroup).
pub const RESCAN_EVERY: Duration = Duration::from_secs(60);
/// After a sensor read failed, the next listing comes this soon.
pub const RESCAN_AFTER_FAILURE: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetSample {
    pub device: String,
    pub counters: NetCounters,
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiskIoSample {
    pub device: String,
    /// `<sys_root>/block/<device>` exists; partitions live under their disk.
    pub whole_disk: bool,
    pub counters: DiskCounters,
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    /// Share of wall time with I/O in flight (iostat's %util).
    pub busy_percent: f64,
}

/// `None` for a resource whose /proc/pressure file is missing (kernel
/// before 4.20, `CONFIG_PSI` off, or booted with `psi=0`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PressureSample {
    pub cpu: Option<Pressure>,
    pub memory: Option<Pressure>,
    pub io: Option<Pressure>,
}

/// One `temp*_input` of a hwmon chip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TempSample {
    /// node_exporter's `chip` label (`platform_coretemp_0`).
    pub chip: String,
    /// The chip's `name` file (`coretemp`), else `chip`.
    pub chip_name: String,
    /// `temp1`.
    pub sensor: String,
    /// `temp1_label`, if the driver provides one (`Package id 0`).
    pub label: Option<String>,
    /// `None` while the sensor cannot be read.
    pub celsius: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThermalSample {
    /// N of `thermal_zoneN`.
    pub zone: u32,
    /// The zone's `type` (`x86_pkg_temp`, `acpitz`).
    pub kind: String,
    pub celsius: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreqSample {
    pub cpu: u32,
    pub hertz: Option<u64>,
}

/// Our cgroup v2's limits and usage, when it sets a CPU or memory limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContainerSample {
    /// `cpu.max` quota / period; `None` when unlimited.
    pub cpu_limit_cores: Option<f64>,
    /// `cpu.stat` usage_usec, in seconds.
    pub cpu_usage_seconds: f64,
    /// Over the last interval, of the limit (or of all host CPUs when
    /// unlimited); 0..=100.
    pub cpu_usage_percent: f64,
    pub memory_limit_bytes: Option<u64>,
    pub memory_used_bytes: Option<u64>,
}

/// Bytes (or events) per second between two readings of a counter.
fn rate(previous: u64, current: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        current.saturating_sub(previous) as f64 / seconds
    } else {
        0.0
    }
}

/// Logs a source's failure once, when it starts, and once when it clears.
#[derive(Default)]
struct Health {
    failing: bool,
}

impl Health {
    fn note(&mut self, path: &Path, result: Result<(), Failure>) {
        match result {
            Err(e) if !self.failing => {
                self.failing = true;
                crate::log::warn(format_args!(
                    "{}: {e} (keeping the previous figures)",
                    path.display()
                ));
            }
            Ok(()) if self.failing => {
                self.failing = false;
                crate::log::info(format_args!("{}: readable again", path.display()));
            }
            _ => {}
        }
    }
}

enum Failure {
    Io(io::Error),
    Parse(ParseError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Parse(e) => write!(f, "{e}"),
        }
    }
}

/// Reads `file`; `Ok(None)` when it does not exist (the source is absent).
fn read_optional(file: &mut ProcFile) -> Result<Option<&[u8]>, Failure> {
    match file.read() {
        Ok(buf) => Ok(Some(buf)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Io(e)),
    }
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

pub struct Sources {
    sys_root: PathBuf,
    net_file: ProcFile,
    net_health: Health,
    net_read_at: Option<Instant>,
    /// Interfaces left out of the sample (`network_exclude`).
    net_exclude: Vec<NameGlob>,
    disk_file: ProcFile,
    disk_health: Health,
    disk_read_at: Option<Instant>,
    pressure_files: [ProcFile; 3],
    sensors: Sensors,
    container: Container,
}

impl Sources {
    pub fn new(proc_root: &Path, sys_root: &Path) -> Sources {
        let file = |rel: &str| ProcFile::new(proc_root.join(rel));
        Sources {
            sys_root: sys_root.to_path_buf(),
            net_file: file("net/dev"),
            net_health: Health::default(),
            net_read_at: None,
            net_exclude: Vec::new(),
            disk_file: file("diskstats"),
            disk_health: Health::default(),
            disk_read_at: None,
            pressure_files: [
                file("pressure/cpu"),
                file("pressure/memory"),
                file("pressure/io"),
            ],
            sensors: Sensors::new(sys_root),
            container: Container::new(proc_root, sys_root),
        }
    }

    /// Leaves the interfaces matching any of `globs` out of every sample
    /// from now on.
    pub fn set_network_exclude(&mut self, globs: &[NameGlob]) {
        self.net_exclude = globs.to_vec();
    }

    /// Refreshes the new sources' part of `out` (after its CPU figures, whose
    /// core count scales an unlimited container's CPU share).
    pub fn sample(&mut self, now: Instant, out: &mut Sample) {
        let r = self.sample_network(now, &mut out.network);
        self.net_health.note(self.net_file.path(), r);
        let r = self.sample_disk_io(now, &mut out.disk_io);
        self.disk_health.note(self.disk_file.path(), r);
        let [cpu, memory, io] = &mut self.pressure_files;
        // A kernel with PSI compiled in but disabled fails these reads with
        // EOPNOTSUPP: that is "absent" too, not worth a log line.
        let read = |f: &mut ProcFile| f.read().ok().and_then(|b| pressure::parse(b).ok());
        out.pressure = PressureSample {
            cpu: read(cpu),
            memory: read(memory),
            io: read(io),
        };
        self.sensors.sample(now, out);
        let host_cores = out.cores.len();
        self.container.sample(now, host_cores, &mut out.container);
    }

    fn sample_network(&mut self, now: Instant, list: &mut Vec<NetSample>) -> Result<(), Failure> {
        let Some(buf) = read_optional(&mut self.net_file)? else {
            list.clear();
            return Ok(());
        };
        let exclude = &self.net_exclude;
        let wanted = |name: &[u8]| !exclude.iter().any(|g| g.matches(name));
        let mut count = 0;
        let mut same = true;
        for entry in netdev::entries(buf) {
            let entry = entry.map_err(Failure::Parse)?;
            if !wanted(entry.name) {
                continue;
            }
            same &= list
                .get(count)
                .is_some_and(|s| s.device.as_bytes() == entry.name);
            count += 1;
        }
        same &= count == list.len();
        let seconds = self
            .net_read_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.net_read_at = Some(now);
        let update = |s: &mut NetSample, c: NetCounters| {
            s.rx_bytes_per_s = rate(s.counters.rx_bytes, c.rx_bytes, seconds);
            s.tx_bytes_per_s = rate(s.counters.tx_bytes, c.tx_bytes, seconds);
            s.counters = c;
        };
        if same {
            let entries = netdev::entries(buf).flatten().filter(|e| wanted(e.name));
            for (s, entry) in list.iter_mut().zip(entries) {
                update(s, entry.counters);
            }
        } else {
            // The set of interfaces changed: rebuild, keeping each survivor's
            // previous counters for its rate. Allocates.
            let old = std::mem::take(list);
            for entry in netdev::entries(buf).flatten().filter(|e| wanted(e.name)) {
                let mut s = old
                    .iter()
                    .find(|o| o.device.as_bytes() == entry.name)
                    .cloned()
                    .unwrap_or_else(|| NetSample {
                        device: lossy(entry.name),
                        counters: entry.counters,
                        ..NetSample::default()
                    });
                update(&mut s, entry.counters);
                list.push(s);
            }
        }
        Ok(())
    }

    fn sample_disk_io(
        &mut self,
        now: Instant,
        list: &mut Vec<DiskIoSample>,
    ) -> Result<(), Failure> {
        let Some(buf) = read_optional(&mut self.disk_file)? else {
            list.clear();
            return Ok(());
        };
        let wanted =
            |e: &diskstats::DiskStatsEntry| !diskstats::is_virtual_idle(e.name, &e.counters);
        let mut count = 0;
        let mut same = true;
        for entry in diskstats::entries(buf) {
            let entry = entry.map_err(Failure::Parse)?;
            if !wanted(&entry) {
                continue;
            }
            same &= list
                .get(count)
                .is_some_and(|s| s.device.as_bytes() == entry.name);
            count += 1;
        }
        same &= count == list.len();
        let seconds = self
            .disk_read_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.disk_read_at = Some(now);
        let update = |s: &mut DiskIoSample, c: DiskCounters| {
            s.read_bytes_per_s = rate(s.counters.read_bytes(), c.read_bytes(), seconds);
            s.write_bytes_per_s = rate(s.counters.written_bytes(), c.written_bytes(), seconds);
            // ms busy per ms elapsed, as a percentage.
            s.busy_percent =
                (rate(s.counters.io_time_ms, c.io_time_ms, seconds) / 10.0).clamp(0.0, 100.0);
            s.counters = c;
        };
        let entries = || diskstats::entries(buf).flatten().filter(wanted);
        if same {
            for (s, entry) in list.iter_mut().zip(entries()) {
                update(s, entry.counters);
            }
        } else {
            let old = std::mem::take(list);
            for entry in entries() {
                let mut s = old
                    .iter()
                    .find(|o| o.device.as_bytes() == entry.name)
                    .cloned()
                    .unwrap_or_else(|| {
                        let device = lossy(entry.name);
                        // sysfs spells a `/` in a device name (cciss/c0d0) as `!`.
                        let whole_disk = self
                            .sys_root
                            .join("block")
                            .join(device.replace('/', "!"))
                            .exists();
                        DiskIoSample {
                            device,
                            whole_disk,
                            counters: entry.counters,
                            ..DiskIoSample::default()
                        }
                    });
                update(&mut s, entry.counters);
                list.push(s);
            }
        }
        Ok(())
    }
}

/// A directory listed now and then; `None` while it cannot be opened.
struct Listing {
    path: CString,
    dir: Option<DirCounter>,
}

impl Listing {
    fn new(path: &Path) -> Listing {
        Listing {
            // A path with a NUL byte cannot exist: an empty one never opens.
            path: CString::new(path.as_os_str().as_bytes()).unwrap_or_default(),
            dir: None,
        }
    }

    /// Appends the names this directory holds, each followed by a NUL, to
    /// `out`, keeping those `keep` accepts. Nothing if it cannot be read.
    fn append(&mut self, out: &mut Vec<u8>, keep: impl Fn(&[u8]) -> bool) {
        if self.dir.is_none() {
            self.dir = DirCounter::open(&self.path).ok();
        }
        let Some(dir) = &mut self.dir else { return };
        let result = dir.for_each_name(|name| {
            if keep(name) {
                out.extend_from_slice(name);
                out.push(0);
            }
        });
        if result.is_err() {
            self.dir = None;
        }
        out.push(b'/');
    }
}

/// hwmon temperatures, thermal zones and cpufreq: listed rarely, read often.
struct Sensors {
    sys_root: PathBuf,
    hwmon_class: Listing,
    /// One per hwmon chip of `Sample::temperatures`, in the order built.
    hwmon_dirs: Vec<Listing>,
    thermal_class: Listing,
    cpus: Listing,
    /// The listing the current lists were built from, and a scratch one.
    built_from: Vec<u8>,
    scratch: Vec<u8>,
    built: bool,
    next_scan_at: Option<Instant>,
    last_scan_at: Option<Instant>,
    /// Parallel to `Sample::temperatures`, `thermal_zones`, `cpu_frequencies`.
    temp_files: Vec<ProcFile>,
    thermal_files: Vec<ProcFile>,
    freq_files: Vec<ProcFile>,
}

fn is_hwmon(name: &[u8]) -> bool {
    sysfs::numbered(name, b"hwmon").is_some()
}
fn is_zone(name: &[u8]) -> bool {
    sysfs::numbered(name, b"thermal_zone").is_some()
}
fn is_cpu(name: &[u8]) -> bool {
    sysfs::numbered(name, b"cpu").is_some()
}

/// The names of a directory that `pick` maps to a number, sorted by it.
fn numbered_entries(dir: &Path, pick: impl Fn(&[u8]) -> Option<u32>) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = pick(name.as_bytes())?;
            Some((n, name.to_string_lossy().into_owned()))
        })
        .collect();
    found.sort();
    found
}

fn read_name(path: &Path) -> Option<String> {
    super::procfile::read_once(path)
        .ok()
        .and_then(|b| sysfs::parse_name(&b).map(str::to_string))
}

impl Sensors {
    fn new(sys_root: &Path) -> Sensors {
        Sensors {
            sys_root: sys_root.to_path_buf(),
            hwmon_class: Listing::new(&sys_root.join("class/hwmon")),
            hwmon_dirs: Vec::new(),
            thermal_class: Listing::new(&sys_root.join("class/thermal")),
            cpus: Listing::new(&sys_root.join("devices/system/cpu")),
            built_from: Vec::with_capacity(1024),
            scratch: Vec::with_capacity(1024),
            built: false,
            next_scan_at: None,
            last_scan_at: None,
            temp_files: Vec::new(),
            thermal_files: Vec::new(),
            freq_files: Vec::new(),
        }
    }

    fn listing(&mut self) {
        self.scratch.clear();
        self.hwmon_class.append(&mut self.scratch, is_hwmon);
        for dir in &mut self.hwmon_dirs {
            dir.append(&mut self.scratch, |n| {
                sysfs::temp_input_sensor(n).is_some() || n == b"name"
            });
        }
        self.thermal_class.append(&mut self.scratch, is_zone);
        self.cpus.append(&mut self.scratch, is_cpu);
    }

    fn sample(&mut self, now: Instant, out: &mut Sample) {
        let due = self.next_scan_at.is_none_or(|at| now >= at);
        if due {
            self.last_scan_at = Some(now);
            self.next_scan_at = Some(now + RESCAN_EVERY);
            self.listing();
            if !self.built || self.scratch != self.built_from {
                self.rebuild(out);
                self.listing();
                self.built_from.clear();
                self.built_from.extend_from_slice(&self.scratch);
                self.built = true;
            }
        }
        let mut failed = false;
        for (t, file) in out.temperatures.iter_mut().zip(&mut self.temp_files) {
            t.celsius = file.read().ok().and_then(sysfs::parse_millidegrees);
            failed |= t.celsius.is_none();
        }
        for (z, file) in out.thermal_zones.iter_mut().zip(&mut self.thermal_files) {
            z.celsius = file.read().ok().and_then(sysfs::parse_millidegrees);
            failed |= z.celsius.is_none();
        }
        for (f, file) in out.cpu_frequencies.iter_mut().zip(&mut self.freq_files) {
            f.hertz = file.read().ok().and_then(sysfs::parse_khz_as_hz);
            failed |= f.hertz.is_none();
        }
        if failed {
            // A sensor that went away shows in the listing; look again soon.
            if let (Some(last), Some(next)) = (self.last_scan_at, &mut self.next_scan_at) {
                *next = (*next).min(last + RESCAN_AFTER_FAILURE);
            }
        }
    }

    /// Rebuilds the sensor lists from the directories. Allocates.
    fn rebuild(&mut self, out: &mut Sample) {
        out.temperatures.clear();
        out.thermal_zones.clear();
        out.cpu_frequencies.clear();
        self.hwmon_dirs.clear();
        self.temp_files.clear();
        self.thermal_files.clear();
        self.freq_files.clear();
        let class = self.sys_root.join("class/hwmon");
        for (_, dir_name) in numbered_entries(&class, |n| sysfs::numbered(n, b"hwmon")) {
            let dir = class.join(&dir_name);
            let name = read_name(&dir.join("name"));
            let device = std::fs::canonicalize(dir.join("device")).ok();
            let chip = sysfs::chip_id(
                device.as_deref().and_then(Path::to_str),
                name.as_deref(),
                &dir_name,
            );
            let inputs = numbered_entries(&dir, |n| {
                let sensor = sysfs::temp_input_sensor(n)?;
                sysfs::numbered(sensor, b"temp")
            });
            for (_, file_name) in inputs {
                let sensor = file_name.trim_end_matches("_input").to_string();
                out.temperatures.push(TempSample {
                    chip: chip.clone(),
                    chip_name: name.clone().unwrap_or_else(|| chip.clone()),
                    label: read_name(&dir.join(format!("{sensor}_label"))),
                    sensor,
                    celsius: None,
                });
                self.temp_files.push(ProcFile::new(dir.join(&file_name)));
            }
            self.hwmon_dirs.push(Listing::new(&dir));
        }
        let class = self.sys_root.join("class/thermal");
        for (zone, dir_name) in numbered_entries(&class, |n| sysfs::numbered(n, b"thermal_zone")) {
            let dir = class.join(dir_name);
            out.thermal_zones.push(ThermalSample {
                zone,
                kind: read_name(&dir.join("type")).unwrap_or_default(),
                celsius: None,
            });
            self.thermal_files.push(ProcFile::new(dir.join("temp")));
        }
        let cpus = self.sys_root.join("devices/system/cpu");
        for (cpu, dir_name) in numbered_entries(&cpus, |n| sysfs::numbered(n, b"cpu")) {
            let path = cpus.join(dir_name).join("cpufreq/scaling_cur_freq");
            if path.exists() {
                out.cpu_frequencies.push(FreqSample { cpu, hertz: None });
                self.freq_files.push(ProcFile::new(path));
            }
        }
    }
}

/// Our cgroup v2, found from /proc/self/cgroup (re-read every
/// [`RESCAN_EVERY`]; its bytes are compared, so an unchanged one costs no
/// allocation).
struct Container {
    sys_root: PathBuf,
    self_cgroup: ProcFile,
    seen: Vec<u8>,
    built: bool,
    next_check_at: Option<Instant>,
    /// cpu.max, cpu.stat, memory.max, memory.current of our cgroup.
    files: Option<[ProcFile; 4]>,
    previous: Option<(Instant, u64)>,
}

impl Container {
    fn new(proc_root: &Path, sys_root: &Path) -> Container {
        Container {
            sys_root: sys_root.to_path_buf(),
            self_cgroup: ProcFile::new(proc_root.join("self/cgroup")),
            seen: Vec::with_capacity(512),
            built: false,
            next_check_at: None,
            files: None,
            previous: None,
        }
    }

    fn sample(&mut self, now: Instant, host_cores: usize, out: &mut Option<ContainerSample>) {
        if self.next_check_at.is_none_or(|at| now >= at) {
            self.next_check_at = Some(now + RESCAN_EVERY);
            let table = self.self_cgroup.read().unwrap_or_default();
            if !self.built || table != self.seen.as_slice() {
                self.seen.clear();
                self.seen.extend_from_slice(table);
                self.built = true;
                self.rebuild();
            }
        }
        *out = self.read(now, host_cores);
    }

    /// Finds our cgroup's directory. Allocates (only when /proc/self/cgroup changed).
    fn rebuild(&mut self) {
        self.files = None;
        self.previous = None;
        let Ok(Some(path)) = cgroup::unified_path(&self.seen) else {
            return;
        };
        let root = self.sys_root.join("fs/cgroup");
        // The root cgroup has no limits; a v2 line without the unified
        // hierarchy mounted at /sys/fs/cgroup (hybrid v1 hosts) is unusable.
        if path == b"/" || !root.join("cgroup.controllers").exists() {
            return;
        }
        let dir = root.join(lossy(&path[1..]));
        self.files = Some(
            ["cpu.max", "cpu.stat", "memory.max", "memory.current"]
                .map(|name| ProcFile::new(dir.join(name))),
        );
    }

    fn read(&mut self, now: Instant, host_cores: usize) -> Option<ContainerSample> {
        let [cpu_max, cpu_stat, memory_max, memory_current] = self.files.as_mut()?;
        // A controller not enabled for our cgroup has no file: no limit there.
        let cpu_limit_cores = match cpu_max.read() {
            Ok(b) => cgroup::cpu_max_cores(b).ok()?,
            Err(_) => None,
        };
        let memory_limit_bytes = match memory_max.read() {
            Ok(b) => cgroup::memory_max_bytes(b).ok()?,
            Err(_) => None,
        };
        if cpu_limit_cores.is_none() && memory_limit_bytes.is_none() {
            return None;
        }
        let usage_usec = cpu_stat
            .read()
            .ok()
            .and_then(|b| cgroup::cpu_usage_usec(b).ok())?;
        let memory_used_bytes = memory_current
            .read()
            .ok()
            .and_then(|b| cgroup::memory_current_bytes(b).ok());
        let cores = cpu_limit_cores.unwrap_or(host_cores.max(1) as f64);
        let cpu_usage_percent = match self.previous {
            Some((at, previous)) => {
                let seconds = now.saturating_duration_since(at).as_secs_f64();
                let used_s = rate(previous, usage_usec, seconds) / 1e6;
                if cores > 0.0 {
                    (used_s * 100.0 / cores).clamp(0.0, 100.0)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.previous = Some((now, usage_usec));
        Some(ContainerSample {
            cpu_limit_cores,
            cpu_usage_seconds: usage_usec as f64 / 1e6,
            cpu_usage_percent,
            memory_limit_bytes,
            memory_used_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET_HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    struct Roots(PathBuf);
    impl Roots {
        fn new(name: &str) -> Roots {
            let dir =
                std::env::temp_dir().join(format!("sysmon-sources-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("proc/net")).unwrap();
            std::fs::create_dir_all(dir.join("sys/block/sda")).unwrap();
            Roots(dir)
        }
        fn write(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        fn net(&self, eth0_rx: u64, eth0_tx: u64) {
            self.write(
                "proc/net/dev",
                &format!("{NET_HEADER}  eth0: {eth0_rx} 10 1 0 0 0 0 0 {eth0_tx} 20 2 0 0 0 0 0\n"),
            );
        }
        fn disks(&self, sda_sectors_read: u64, sda_io_ms: u64) {
            self.write(
                "proc/diskstats",
                &format!(
                    "   8 0 sda 100 0 {sda_sectors_read} 0 50 0 800 0 0 {sda_io_ms} 0\n   8 1 sda1 100 0 {sda_sectors_read} 0 50 0 800 0 0 {sda_io_ms} 0\n   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"
                ),
            );
        }
    }
    impl Drop for Roots {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn excluded_interfaces_are_left_out_and_rates_stay_with_their_device() {
        let roots = Roots::new("exclude");
        let mut sources = Sources::new(&roots.0.join("proc"), &roots.0.join("sys"));
        let globs: Vec<NameGlob> = ["lo", "veth*"]
            .iter()
            .map(|g| NameGlob::parse(g).unwrap())
            .collect();
        sources.set_network_exclude(&globs);
        let dev = |eth0_rx: u64, veth_rx: u64| {
            format!(
                "{NET_HEADER}    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  eth0: {eth0_rx} 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n  veth9a: {veth_rx} 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n  wg0: 0 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n"
            )
        };
        let mut out = Sample::default();
        let t0 = Instant::now();
        roots.write("proc/net/dev", &dev(1_000, 7));
        sources.sample(t0, &mut out);
        roots.write("proc/net/dev", &dev(3_000, 7_000_000));
        sources.sample(t0 + Duration::from_secs(1), &mut out);
        let seen: Vec<(&str, f64)> = out
            .network
            .iter()
            .map(|n| (n.device.as_str(), n.rx_bytes_per_s))
            .collect();
        assert_eq!(seen, [("eth0", 2000.0), ("wg0", 0.0)]);
    }

    #[test]
    fn rates_over_a_fake_clock_and_counter_resets() {
        let roots = Roots::new("rates");
        let mut sources = Sources::new(&roots.0.join("proc"), &roots.0.join("sys"));
        let mut out = Sample::default();
        let t0 = Instant::now();
        roots.net(1_000, 500);
        roots.disks(2_000, 100);
        sources.sample(t0, &mut out);
        assert_eq!(out.network.len(), 1);
        assert_eq!(out.network[0].rx_bytes_per_s, 0.0, "no interval yet");
        // loop0 never did I/O: left out. sda1 has no /sys/block/sda1.
        let names: Vec<(&str, bool)> = out
            .disk_io
            .iter()
            .map(|d| (d.device.as_str(), d.whole_disk))
            .collect();
        assert_eq!(names, [("sda", true), ("sda1", false)]);

        // 2 s later: eth0 rx +3000 B → 1500 B/s, tx +1000 B → 500 B/s;
        // sda +4000 sectors = 2048000 B → 1024000 B/s, io_ticks +500 ms of
        // 2000 ms → 25 % busy.
        roots.net(4_000, 1_500);
        roots.disks(6_000, 600);
        sources.sample(t0 + Duration::from_secs(2), &mut out);
        let eth0 = &out.network[0];
        assert_eq!((eth0.rx_bytes_per_s, eth0.tx_bytes_per_s), (1500.0, 500.0));
        assert_eq!(eth0.counters.rx_errors, 1);
        assert_eq!(eth0.counters.tx_errors, 2);
        let sda = &out.disk_io[0];
        assert_eq!(sda.read_bytes_per_s, 1_024_000.0);
        assert_eq!(sda.write_bytes_per_s, 0.0);
        assert_eq!(sda.busy_percent, 25.0);

        // Counters went backwards (interface re-created, a reset): 0, not
        // negative and not a huge wrapped number.
        roots.net(10, 10);
        roots.disks(0, 0);
        sources.sample(t0 + Duration::from_secs(4), &mut out);
        assert_eq!(out.network[0].rx_bytes_per_s, 0.0);
        assert_eq!(out.disk_io[0].read_bytes_per_s, 0.0);
        assert_eq!(out.disk_io[0].busy_percent, 0.0);

        // A new interface appears: the list is rebuilt, eth0 keeps its rate.
        roots.write(
            "proc/net/dev",
            &format!("{NET_HEADER}  eth0: 1010 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  wg0: 7 1 0 0 0 0 0 0 9 1 0 0 0 0 0 0\n"),
        );
        sources.sample(t0 + Duration::from_secs(5), &mut out);
        assert_eq!(out.network.len(), 2);
        assert_eq!(out.network[0].rx_bytes_per_s, 1000.0);
        assert_eq!(out.network[1].device, "wg0");
        assert_eq!(out.network[1].rx_bytes_per_s, 0.0);

        // Absent sources (empty roots): empty lists, `None`s, no panic.
        let empty = Roots::new("empty");
        let mut sources = Sources::new(&empty.0.join("nothing"), &empty.0.join("nothing"));
        sources.sample(t0, &mut out);
        sources.sample(t0 + Duration::from_secs(6), &mut out);
        assert!(out.disk_io.is_empty());
        assert!(out.network.is_empty());
        assert_eq!(out.pressure, PressureSample::default());
        assert!(out.temperatures.is_empty() && out.container.is_none());
    }

    #[test]
    fn container_cpu_share_of_its_limit() {
        let roots = Roots::new("container");
        roots.write("proc/self/cgroup", "0::/box\n");
        roots.write("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
        roots.write("sys/fs/cgroup/box/cpu.max", "50000 100000\n");
        roots.write("sys/fs/cgroup/box/memory.max", "max\n");
        roots.write("sys/fs/cgroup/box/memory.current", "4096\n");
        roots.write("sys/fs/cgroup/box/cpu.stat", "usage_usec 1000000\n");
        let mut sources = Sources::new(&roots.0.join("proc"), &roots.0.join("sys"));
        let mut out = Sample::default();
        let t0 = Instant::now();
        sources.sample(t0, &mut out);
        // +0.25 CPU-seconds in 1 s with a 0.5-CPU limit: 50 % of the limit.
        roots.write("sys/fs/cgroup/box/cpu.stat", "usage_usec 1250000\n");
        sources.sample(t0 + Duration::from_secs(1), &mut out);
        let c = out.container.unwrap();
        assert_eq!(c.cpu_limit_cores, Some(0.5));
        assert_eq!(c.cpu_usage_percent, 50.0);
        assert_eq!(c.cpu_usage_seconds, 1.25);
        assert_eq!(
            (c.memory_limit_bytes, c.memory_used_bytes),
            (None, Some(4096))
        );
        // No limit at all: not reported.
        roots.write("sys/fs/cgroup/box/cpu.max", "max 100000\n");
        sources.sample(t0 + Duration::from_secs(2), &mut out);
        assert_eq!(out.container, None);
    }
}
