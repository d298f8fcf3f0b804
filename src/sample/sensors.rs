//! Temperatures and CPU frequencies, from sysfs: hwmon `temp*_input`
//! sensors, thermal zones, and cpufreq's `scaling_cur_freq`. Listed rarely,
//! read often.
//!
//! Invariant: once warm, [`Sensors::sample`] does not allocate. The sensor
//! directories are listed with [`DirCounter`] (getdents into a fixed buffer)
//! at most every [`RESCAN_EVERY`], or [`RESCAN_AFTER_FAILURE`] after a read
//! failed, and the sensor lists are rebuilt (allocating, with `read_dir`)
//! only when such a listing differs from the last one. A sensor that cannot
//! be read is `None`; a machine without any gives empty lists.
//!
//! A sensor whose reads are slow (a 1-Wire thermometer converting, an ACPI
//! zone asking its controller) is read off the loop ([`super::slow_reads`]):
//! its value comes a round late, and the loop never waits for it.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::listing::Listing;
use super::procfile::{self, ProcFile, SYSFS_READ_BYTES};
use super::slow_reads::{self, HandOver, InLine, SlowReads};
use super::source::{RESCAN_AFTER_FAILURE, RESCAN_EVERY};
use crate::proc::sysfs;

/// A temperature or frequency file holds one number: its buffer starts
/// this small (it grows if not), so a machine with a hundred sensors and
/// cores does not keep 8 KiB per file.
const NUMBER_BYTES: usize = 32;

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

/// The lists [`Sensors`] fills, each in the order of its directories.
pub struct SensorLists<'a> {
    pub temperatures: &'a mut Vec<TempSample>,
    pub thermal_zones: &'a mut Vec<ThermalSample>,
    pub cpu_frequencies: &'a mut Vec<FreqSample>,
}

/// hwmon temperatures, thermal zones and cpufreq: listed rarely, read often.
pub struct Sensors {
    sys_root: PathBuf,
    hwmon_class: Listing,
    /// One per hwmon chip of the temperatures, in the order built.
    hwmon_dirs: Vec<Listing>,
    thermal_class: Listing,
    cpus: Listing,
    /// The listing the current lists were built from, and a scratch one.
    built_from: Vec<u8>,
    scratch: Vec<u8>,
    built: bool,
    next_scan_at: Option<Instant>,
    last_scan_at: Option<Instant>,
    /// Parallel to the lists of [`SensorLists`].
    temp_files: Vec<SensorFile>,
    thermal_files: Vec<SensorFile>,
    freq_files: Vec<SensorFile>,
    /// The slow ones' reader.
    slow: SlowReads,
}

/// How one sensor's file is read.
enum SensorFile {
    /// By the loop, timed; the slow reads it made in a row.
    InLine(ProcFile, u8),
    /// By the slow-read thread: its index there (`None`: no room).
    OffLoop(Option<usize>),
}

impl SensorFile {
    fn in_line(path: PathBuf) -> SensorFile {
        SensorFile::InLine(ProcFile::with_capacity(path, NUMBER_BYTES), 0)
    }

    /// The value now: read in line (timed; a file found slow is handed to
    /// `slow`), or the thread's last. `None` when `pass` has spent its
    /// budget: the caller keeps the previous value.
    fn read<T>(
        &mut self,
        slow: &mut SlowReads,
        now: Instant,
        pass: &mut InLine,
        parse: fn(&[u8]) -> Option<T>,
    ) -> Option<Option<T>> {
        let (file, strikes) = match self {
            SensorFile::OffLoop(index) => {
                let mut text = [0u8; SYSFS_READ_BYTES];
                let len = index.and_then(|i| slow.take(i, now, &mut text));
                return Some(len.and_then(|len| parse(&text[..len])));
            }
            SensorFile::InLine(file, strikes) => (file, strikes),
        };
        if !pass.may_read() {
            return None;
        }
        let (value, hand_over) = pass.timed(strikes, || file.read().ok().and_then(parse));
        if hand_over {
            let path = file.path().to_path_buf();
            *self = SensorFile::OffLoop(slow.add(path, HandOver::SlowReads));
        }
        Some(value)
    }
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
    crate::sort::sort(&mut found);
    found
}

fn read_name(path: &Path) -> Option<String> {
    procfile::read_once(path)
        .ok()
        .and_then(|b| sysfs::parse_name(&b).map(str::to_string))
}

impl Sensors {
    pub fn new(sys_root: &Path) -> Sensors {
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
            slow: SlowReads::new("sensors"),
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

    /// Whether a slow sensor's first read off the loop is under way.
    pub fn slow_reads_pending(&self) -> bool {
        self.slow.first_round_pending()
    }

    pub fn sample(&mut self, now: Instant, mut out: SensorLists<'_>) {
        let due = self.next_scan_at.is_none_or(|at| now >= at);
        if due {
            self.last_scan_at = Some(now);
            self.next_scan_at = Some(now + RESCAN_EVERY);
            self.listing();
            if !self.built || self.scratch != self.built_from {
                self.rebuild(&mut out);
                self.listing();
                self.built_from.clear();
                self.built_from.extend_from_slice(&self.scratch);
                self.built = true;
            }
        }
        let mut failed = false;
        let (slow, mut pass) = (&mut self.slow, InLine::default());
        for (t, file) in out.temperatures.iter_mut().zip(&mut self.temp_files) {
            if let Some(celsius) = file.read(slow, now, &mut pass, sysfs::parse_millidegrees) {
                t.celsius = celsius;
            }
            failed |= t.celsius.is_none();
        }
        for (z, file) in out.thermal_zones.iter_mut().zip(&mut self.thermal_files) {
            if let Some(celsius) = file.read(slow, now, &mut pass, sysfs::parse_millidegrees) {
                z.celsius = celsius;
            }
            failed |= z.celsius.is_none();
        }
        for (f, file) in out.cpu_frequencies.iter_mut().zip(&mut self.freq_files) {
            if let Some(hertz) = file.read(slow, now, &mut pass, sysfs::parse_khz_as_hz) {
                f.hertz = hertz;
            }
            failed |= f.hertz.is_none();
        }
        // The next round of the slow ones, read while the loop waits.
        slow.ask();
        if failed {
            // A sensor that went away shows in the listing; look again soon.
            if let (Some(last), Some(next)) = (self.last_scan_at, &mut self.next_scan_at) {
                *next = (*next).min(last + RESCAN_AFTER_FAILURE);
            }
        }
    }

    /// Rebuilds the sensor lists from the directories. Allocates.
    fn rebuild(&mut self, out: &mut SensorLists<'_>) {
        out.temperatures.clear();
        out.thermal_zones.clear();
        out.cpu_frequencies.clear();
        self.hwmon_dirs.clear();
        self.temp_files.clear();
        self.thermal_files.clear();
        self.freq_files.clear();
        self.slow.clear();
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
            let slow_chip = name.as_deref().is_some_and(slow_reads::is_slow_chip);
            for (_, file_name) in inputs {
                let sensor = file_name.trim_end_matches("_input").to_string();
                out.temperatures.push(TempSample {
                    chip: chip.clone(),
                    chip_name: name.clone().unwrap_or_else(|| chip.clone()),
                    label: read_name(&dir.join(format!("{sensor}_label"))),
                    sensor,
                    celsius: None,
                });
                let path = dir.join(&file_name);
                self.temp_files
                    .push(match name.as_deref().filter(|_| slow_chip) {
                        Some(name) => {
                            SensorFile::OffLoop(self.slow.add(path, HandOver::SlowChip(name)))
                        }
                        None => SensorFile::in_line(path),
                    });
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
            self.thermal_files
                .push(SensorFile::in_line(dir.join("temp")));
        }
        let cpus = self.sys_root.join("devices/system/cpu");
        for (cpu, dir_name) in numbered_entries(&cpus, |n| sysfs::numbered(n, b"cpu")) {
            let path = cpus.join(dir_name).join("cpufreq/scaling_cur_freq");
            if path.exists() {
                out.cpu_frequencies.push(FreqSample { cpu, hertz: None });
                self.freq_files.push(SensorFile::in_line(path));
            }
        }
    }
}
