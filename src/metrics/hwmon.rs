//! `/sys/class/hwmon` at scrape time, as node_exporter 1.5's `hwmon`
//! collector exports it: every file of a chip's directory and of its
//! `device` directory whose name splits ([`sysfs::sensor_file`]) into one
//! of node_exporter's sensor types, named, scaled and labelled
//! (`chip`, `sensor`) by node_exporter's rules ([`metric_of`]): `in` and
//! `cpu` in volts, `temp` in Celsius, `curr` in amperes, `power` in watts,
//! `energy` in joules, `fan` in rpm, `humidity` as a ratio, `_input`
//! dropped and the other properties (`_min`, `_crit_hyst`, `_alarm`, ...)
//! kept as suffixes; and `node_hwmon_chip_names`, `node_hwmon_sensor_label`.
//!
//! `/sys/class/hwmon` is listed at each scrape (names and inode numbers),
//! the chips' directories only when that listing changed, a kept file was
//! seen gone, or every 100 scrapes ([`ClassListing`]);
//! the list of series (names, paths, sorted so that each family's lines
//! are together) is rebuilt, allocating, only when a listing differs. The
//! `*_label` files are read when it is built and kept with it (a sensor's
//! label is its driver's, fixed while the chip is registered; a chip
//! registered anew is a new class entry); every value file is read at
//! each scrape, as node_exporter reads them. The first [`KEPT_OPEN`] value
//! files are kept open and re-read with one `pread` each scrape (a quarter
//! of the cost of opening them again); the rest, on a machine with more,
//! are opened, read once and closed ([`procfile::Attribute`]). A warm
//! scrape allocates nothing. A file that cannot be read or parsed drops
//! its one series. At most [`MAX_SERIES`] series are kept.

use crate::owned::owned;
use std::path::{Path, PathBuf};

use super::{Body, escaped, escaped_go_utf8, family};
use crate::proc::sysfs;
use std::ffi::CString;

use crate::sample::listing::{ClassListing, c_path};
use crate::sample::procfile;
use crate::sample::slow_reads::{self, HandOver, InLine, SlowReads};
use std::time::Instant;

/// node_exporter's `hwmonSensorTypes`: other files are not read.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// A bound on the series kept (a big server has a few hundred sensor
/// files; past this the rest are left out, not read).
pub const MAX_SERIES: usize = 8192;

/// The files kept open: the descriptors (and the kernel's memory per open
/// sysfs file, about 4.5 KiB: its seq_file page and open-file records) a
/// large machine's sensors may hold. A kept file costs one `pread` a
/// scrape; one past the budget an `openat`, `fstat`, `read` and `close`
/// and the path's lookup.
pub const KEPT_OPEN: usize = 1024;

/// How a file's text becomes the sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reading {
    /// The number (as Go parses it) times this: node_exporter multiplies
    /// milli-units by 0.001, and the same operation gives the same bits.
    Times(f64),
    /// The number divided by this (micro-units by 1e6).
    Over(f64),
    /// The number as it is.
    Raw,
    /// 1 if the text is `1`, else 0 (`beep_enable`).
    IsOne,
    /// The text is the `label` label of `node_hwmon_sensor_label`; value 1.
    Label,
}

/// The family a sensor file's series belongs to.
#[derive(Debug, PartialEq)]
struct Metric {
    name: String,
    help: String,
    kind: &'static str,
    reading: Reading,
}

/// node_exporter 1.5's `updateHwmon` for one file: sensor type `kind`,
/// property `element` (`""` for a file without one), `has_bare`: the sensor
/// also has a file without a property (`temp1` beside `temp1_input`, where
/// `input` keeps its `_input`). `None`: no series.
fn metric_of(kind: &str, element: &str, has_bare: bool) -> Option<Metric> {
    let metric = |name: String, help: String, kind: &'static str, reading| {
        Some(Metric {
            name,
            help: help.replace('\\', "\\\\").replace('\n', "\\n"),
            kind,
            reading,
        })
    };
    let gauge = |name: String, help: String, reading| metric(name, help, "gauge", reading);
    // These three use only the file without a property.
    match kind {
        "beep_enable" | "vrm" | "update_interval" if !element.is_empty() => return None,
        "beep_enable" => {
            return gauge(
                owned("node_hwmon_beep_enabled"),
                owned("Hardware beep enabled"),
                Reading::IsOne,
            );
        }
        "vrm" => {
            return gauge(
                owned("node_hwmon_voltage_regulator_version"),
                owned("Hardware voltage regulator"),
                Reading::Raw,
            );
        }
        "update_interval" => {
            return gauge(
                owned("node_hwmon_update_interval_seconds"),
                owned("Hardware monitor update interval"),
                Reading::Times(0.001),
            );
        }
        _ => {}
    }
    if element == "label" {
        return gauge(
            owned("node_hwmon_sensor_label"),
            owned("Label for given chip and sensor"),
            Reading::Label,
        );
    }
    let prefix = format!("node_hwmon_{kind}");
    let name = match element {
        "input" if has_bare => format!("{prefix}_input"),
        "input" | "" => prefix,
        _ => format!("{prefix}_{}", sysfs::clean(element)),
    };
    match (kind, element) {
        (_, "fault" | "alarm") => gauge(
            name,
            format!("Hardware sensor {element} status ({kind})"),
            Reading::Raw,
        ),
        (_, "beep") => gauge(
            name + "_enabled",
            owned("Hardware monitor sensor has beeping enabled"),
            Reading::Raw,
        ),
        ("in" | "cpu", _) => gauge(
            name + "_volts",
            format!("Hardware monitor for voltage ({element})"),
            Reading::Times(0.001),
        ),
        ("temp", e) if e != "type" => gauge(
            name + "_celsius",
            format!(
                "Hardware monitor for temperature ({})",
                if e.is_empty() { "input" } else { e }
            ),
            Reading::Times(0.001),
        ),
        ("curr", _) => gauge(
            name + "_amps",
            format!("Hardware monitor for current ({element})"),
            Reading::Times(0.001),
        ),
        ("energy", _) => metric(
            name + "_joule_total",
            format!("Hardware monitor for joules used so far ({element})"),
            "counter",
            Reading::Over(1e6),
        ),
        ("power", "accuracy") => gauge(
            name,
            owned("Hardware monitor power meter accuracy, as a ratio"),
            Reading::Over(1e6),
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => gauge(
            name + "_seconds",
            format!("Hardware monitor power usage update interval ({element})"),
            Reading::Times(0.001),
        ),
        ("power", _) => gauge(
            name + "_watt",
            format!("Hardware monitor for power usage in watts ({element})"),
            Reading::Over(1e6),
        ),
        ("humidity", _) => gauge(
            name,
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
            ),
            Reading::Over(1e6),
        ),
        ("fan", "input" | "min" | "max" | "target") => gauge(
            name + "_rpm",
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            Reading::Raw,
        ),
        _ => gauge(
            name,
            format!("Hardware monitor {kind} element {element}"),
            Reading::Raw,
        ),
    }
}

struct Chip {
    /// node_exporter's `chip` label (`platform_coretemp_0`).
    label: String,
    /// The cleaned `name` file (`coretemp`), for `node_hwmon_chip_names`.
    name: Option<String>,
    dir: CString,
    device: CString,
}

struct Family {
    name: String,
    help: String,
    kind: &'static str,
}

/// Where a series' value comes from.
enum Source {
    /// A value file, read at each scrape, timed; the slow reads it made in
    /// a row ([`slow_reads`]).
    File(procfile::Attribute, u8),
    /// A value file read off the loop ([`slow_reads`]): its index there
    /// (`None`: no room).
    OffLoop(Option<usize>),
    /// A `*_label` file's text (newlines trimmed), read when the series
    /// were built.
    Label(Vec<u8>),
}

struct Series {
    /// Index into `families`; the list is sorted by it.
    family: usize,
    /// Index into `chips`.
    chip: usize,
    /// `temp1`.
    sensor: String,
    source: Source,
    reading: Reading,
    /// The sample line up to its value, made when the list is built:
    /// `node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} `
    /// (a label series' with its `label`): the names are escaped once,
    /// not at each scrape.
    line_head: String,
}

pub struct Hwmon {
    class_dir: PathBuf,
    /// `/sys/class/hwmon` and the chips' directories: when to build again.
    listings: ClassListing,
    chips: Vec<Chip>,
    families: Vec<Family>,
    series: Vec<Series>,
    /// The value files whose reads are slow, read by a thread of their own.
    slow: SlowReads,
}

/// The names in `dir`, sorted (as Go's `os.ReadDir` returns them).
fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crate::sort::sort(&mut names);
    names
}

/// Go's `strings.Trim(s, "\n")`.
fn trim_newlines(mut text: &[u8]) -> &[u8] {
    while let [b'\n', rest @ ..] = text {
        text = rest;
    }
    while let [rest @ .., b'\n'] = text {
        text = rest;
    }
    text
}

impl Hwmon {
    pub fn new(sys_root: &Path) -> Self {
        let class_dir = sys_root.join("class/hwmon");
        Hwmon {
            listings: ClassListing::new(&class_dir),
            class_dir,
            chips: Vec::new(),
            families: Vec::new(),
            series: Vec::new(),
            slow: SlowReads::new("/metrics hwmon"),
        }
    }

    /// The chips' directories, for [`ClassListing`]: every name is kept,
    /// sensor file or not (the listing only tells whether the lists must
    /// be built again, and a sysfs directory's other names, `uevent`,
    /// `power`, `subsystem`, do not come and go).
    fn chip_dirs(chips: &[Chip]) -> impl Iterator<Item = &std::ffi::CStr> {
        chips
            .iter()
            .flat_map(|chip| [chip.dir.as_c_str(), chip.device.as_c_str()])
    }

    /// Builds the chips and series from the directories. Allocates. (Vecs
    /// and the one sort, no B-trees: this is the binary's only user of
    /// them, and they cost some 30 KB of code.)
    fn rebuild(&mut self) {
        self.chips.clear();
        self.families.clear();
        self.series.clear();
        self.slow.clear();
        // (metric, chip, sensor, file), sorted and deduplicated below.
        let mut found: Vec<(Metric, usize, String, PathBuf)> = Vec::new();
        for dir_name in sorted_names(&self.class_dir) {
            let dir = self.class_dir.join(&dir_name);
            if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let name_text = procfile::read_once(&dir.join("name"))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let device_target = std::fs::canonicalize(dir.join("device")).ok();
            let label = sysfs::chip_id(
                device_target.as_deref().and_then(Path::to_str),
                name_text.as_deref(),
                &dir_name,
            );
            if label.is_empty() {
                continue;
            }
            let name = name_text
                .as_deref()
                .map(sysfs::clean)
                .filter(|n| !n.is_empty())
                .filter(|n| {
                    !self
                        .chips
                        .iter()
                        .any(|c| c.label == label && c.name.as_ref() == Some(n))
                });
            // (sensor, property, file) in the order Go reads them: the
            // device directory's files after the chip's.
            let mut files: Vec<(String, String, PathBuf)> = Vec::new();
            let device = dir.join("device");
            let mut dirs = vec![dir.clone()];
            if std::fs::metadata(&device).is_ok_and(|m| m.is_dir()) {
                dirs.push(device.clone());
            }
            for d in &dirs {
                for file_name in sorted_names(d) {
                    let Some(f) = sysfs::sensor_file(&file_name) else {
                        continue;
                    };
                    if !SENSOR_TYPES.contains(&f.kind) {
                        continue;
                    }
                    let path = d.join(&file_name);
                    // A directory (`power/` of a device) never reads.
                    if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                        continue;
                    }
                    files.push((format!("{}{}", f.kind, f.id), owned(f.property), path));
                }
            }
            // A later file takes an earlier one's place, as in Go's map.
            let mut unique: Vec<(String, String, PathBuf)> = Vec::with_capacity(files.len());
            for file in files.into_iter().rev() {
                if !unique.iter().any(|u| u.0 == file.0 && u.1 == file.1) {
                    unique.push(file);
                }
            }
            let chip = self.chips.len();
            for (sensor, element, path) in unique.iter().rev() {
                let Some(kind) = sysfs::sensor_file(sensor).map(|f| f.kind) else {
                    continue;
                };
                let has_bare = unique.iter().any(|u| &u.0 == sensor && u.1.is_empty());
                let Some(metric) = metric_of(kind, element, has_bare) else {
                    continue;
                };
                if found.len() < MAX_SERIES {
                    found.push((metric, chip, sensor.clone(), path.clone()));
                }
            }
            self.chips.push(Chip {
                label,
                name,
                dir: c_path(&dir),
                device: c_path(&device),
            });
        }
        // By family, then chip label, sensor, chip and file: each family's
        // lines together, and one series of any (name, chip, sensor): the
        // first chip's, where node_exporter's registry refuses duplicates.
        let chips = &self.chips;
        crate::sort::sort_by(&mut found, |a, b| {
            (&a.0.name, &chips[a.1].label, &a.2, a.1, &a.3).cmp(&(
                &b.0.name,
                &chips[b.1].label,
                &b.2,
                b.1,
                &b.3,
            ))
        });
        let mut files_kept_open = 0;
        // A label's 128 bytes escaped (up to 6 each as `\u00XX`), the
        // names' and the chip label's: room to spare.
        let mut head = Body::with_capacity(4096);
        for (metric, chip, sensor, path) in found {
            if self.series.last().is_some_and(|last| {
                self.families[last.family].name == metric.name
                    && chips[last.chip].label == chips[chip].label
                    && last.sensor == sensor
            }) {
                continue;
            }
            if self.families.last().is_none_or(|f| f.name != metric.name) {
                self.families.push(Family {
                    name: metric.name,
                    help: metric.help,
                    kind: metric.kind,
                });
            }
            let source = if metric.reading == Reading::Label {
                let mut buf = [0u8; procfile::SYSFS_READ_BYTES];
                match procfile::read_once_into(&path, &mut buf) {
                    Ok(raw) => Source::Label(trim_newlines(raw).to_vec()),
                    Err(_) => continue,
                }
            } else if let Some(name) = chips[chip]
                .name
                .as_deref()
                .filter(|n| slow_reads::is_slow_chip(n))
            {
                Source::OffLoop(self.slow.add(path, HandOver::SlowChip(name)))
            } else {
                let keep_open = files_kept_open < KEPT_OPEN;
                files_kept_open += 1;
                Source::File(procfile::Attribute::new(path, keep_open), 0)
            };
            head.clear();
            head.push_str(&self.families[self.families.len() - 1].name);
            head.push_str("{chip=\"");
            escaped(&mut head, &chips[chip].label);
            if let Source::Label(text) = &source {
                head.push_str("\",label=\"");
                escaped_go_utf8(&mut head, text);
            }
            head.push_str("\",sensor=\"");
            escaped(&mut head, &sensor);
            head.push_str("\"} ");
            self.series.push(Series {
                family: self.families.len() - 1,
                chip,
                sensor,
                source,
                reading: metric.reading,
                line_head: owned(head.as_str()),
            });
        }
    }

    /// The families, read now. True when `/sys/class/hwmon` could be read
    /// (node_exporter's collector fails without it).
    pub fn write(&mut self, out: &mut Body) -> bool {
        let check = self.listings.check(|_| true, Self::chip_dirs(&self.chips));
        if check.stale {
            self.rebuild();
            self.listings.built(Self::chip_dirs(&self.chips));
        }
        if self.chips.iter().any(|c| c.name.is_some()) {
            out.push_str(family_lines!(
                "node_hwmon_chip_names",
                "gauge",
                "Annotation metric for human-readable chip names"
            ));
            for chip in &self.chips {
                let Some(name) = &chip.name else { continue };
                out.push_str("node_hwmon_chip_names{chip=\"");
                escaped(out, &chip.label);
                out.push_str("\",chip_name=\"");
                escaped(out, name);
                out.push_str("\"} 1\n");
            }
        }
        let mut buf = [0u8; procfile::SYSFS_READ_BYTES];
        let mut written_family = usize::MAX;
        let mut gone = false;
        let (now, mut pass) = (Instant::now(), InLine::default());
        let slow = &mut self.slow;
        for series in &mut self.series {
            let mut hand_over = false;
            let text = match &mut series.source {
                Source::Label(text) => Some(text.as_slice()),
                Source::OffLoop(index) => index
                    .and_then(|i| slow.take(i, now, &mut buf))
                    .map(|len| trim_newlines(&buf[..len])),
                // Past the pass's budget (slow files not yet known): this
                // scrape leaves the rest out.
                Source::File(..) if !pass.may_read() => None,
                Source::File(file, strikes) => {
                    let began = Instant::now();
                    let read = file.read(&mut buf, &mut gone);
                    hand_over = pass.note(began.elapsed(), strikes);
                    read.ok().map(trim_newlines)
                }
            };
            let value = text.and_then(|text| match series.reading {
                Reading::Label => Some(1.0),
                Reading::IsOne => Some(f64::from(u8::from(text == b"1"))),
                Reading::Raw => sysfs::parse_go_float(text),
                Reading::Times(k) => sysfs::parse_go_float(text).map(|v| v * k),
                Reading::Over(d) => sysfs::parse_go_float(text).map(|v| v / d),
            });
            if hand_over {
                if let Source::File(file, _) = &series.source {
                    let path = file.path().to_path_buf();
                    series.source = Source::OffLoop(slow.add(path, HandOver::SlowReads));
                }
            }
            let Some(value) = value else { continue };
            if series.family != written_family {
                let f = &self.families[series.family];
                family(out, &f.name, f.kind, &f.help);
                written_family = series.family;
            }
            out.push_str(&series.line_head);
            out.f64(value);
            out.push('\n');
        }
        if gone {
            self.listings.device_gone();
        }
        // The next round of the slow files, read while the loop waits.
        slow.ask();
        check.readable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(kind: &str, element: &str, has_bare: bool) -> Option<(String, Reading)> {
        metric_of(kind, element, has_bare).map(|m| (m.name, m.reading))
    }

    #[test]
    fn names_and_units_as_node_exporter_1_5() {
        let cases: [(&str, &str, bool, &str, Reading); 20] = [
            (
                "temp",
                "input",
                false,
                "node_hwmon_temp_celsius",
                Reading::Times(0.001),
            ),
            (
                "temp",
                "",
                false,
                "node_hwmon_temp_celsius",
                Reading::Times(0.001),
            ),
            (
                "temp",
                "input",
                true,
                "node_hwmon_temp_input_celsius",
                Reading::Times(0.001),
            ),
            (
                "temp",
                "crit_hyst",
                false,
                "node_hwmon_temp_crit_hyst_celsius",
                Reading::Times(0.001),
            ),
            (
                "temp",
                "crit_alarm",
                false,
                "node_hwmon_temp_crit_alarm_celsius",
                Reading::Times(0.001),
            ),
            (
                "temp",
                "alarm",
                false,
                "node_hwmon_temp_alarm",
                Reading::Raw,
            ),
            ("temp", "type", false, "node_hwmon_temp_type", Reading::Raw),
            (
                "in",
                "input",
                false,
                "node_hwmon_in_volts",
                Reading::Times(0.001),
            ),
            (
                "cpu",
                "vid",
                false,
                "node_hwmon_cpu_vid_volts",
                Reading::Times(0.001),
            ),
            ("fan", "input", false, "node_hwmon_fan_rpm", Reading::Raw),
            ("fan", "min", false, "node_hwmon_fan_min_rpm", Reading::Raw),
            (
                "fan",
                "pulses",
                false,
                "node_hwmon_fan_pulses",
                Reading::Raw,
            ),
            (
                "fan",
                "beep",
                false,
                "node_hwmon_fan_beep_enabled",
                Reading::Raw,
            ),
            (
                "curr",
                "input",
                false,
                "node_hwmon_curr_amps",
                Reading::Times(0.001),
            ),
            (
                "power",
                "average",
                false,
                "node_hwmon_power_average_watt",
                Reading::Over(1e6),
            ),
            (
                "power",
                "average_interval",
                false,
                "node_hwmon_power_average_interval_seconds",
                Reading::Times(0.001),
            ),
            (
                "power",
                "accuracy",
                false,
                "node_hwmon_power_accuracy",
                Reading::Over(1e6),
            ),
            (
                "energy",
                "input",
                false,
                "node_hwmon_energy_joule_total",
                Reading::Over(1e6),
            ),
            (
                "humidity",
                "input",
                false,
                "node_hwmon_humidity",
                Reading::Over(1e6),
            ),
            (
                "pwm",
                "auto_point1_pwm",
                false,
                "node_hwmon_pwm_auto_point1_pwm",
                Reading::Raw,
            ),
        ];
        for (kind, element, bare, name, reading) in cases {
            assert_eq!(
                name_of(kind, element, bare),
                Some((name.to_string(), reading)),
                "{kind} {element}"
            );
        }
        assert_eq!(
            name_of("beep_enable", "", false),
            Some(("node_hwmon_beep_enabled".into(), Reading::IsOne))
        );
        assert_eq!(
            name_of("update_interval", "", false),
            Some((
                "node_hwmon_update_interval_seconds".into(),
                Reading::Times(0.001)
            ))
        );
        assert_eq!(
            name_of("temp", "label", false),
            Some(("node_hwmon_sensor_label".into(), Reading::Label))
        );
        assert_eq!(
            metric_of("energy", "input", false).map(|m| m.kind),
            Some("counter")
        );
        // A property is cleaned as node_exporter cleans metric names.
        assert_eq!(
            name_of("fan", "Odd-Name", false).map(|n| n.0).as_deref(),
            Some("node_hwmon_fan_odd_name")
        );
    }

    #[test]
    fn only_newlines_are_trimmed() {
        assert_eq!(trim_newlines(b"\n55000\n\n"), b"55000");
        assert_eq!(trim_newlines(b"Left side  \n"), b"Left side  ");
        assert_eq!(trim_newlines(b"\n"), b"");
    }
}
